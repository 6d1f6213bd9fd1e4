// Detects an image's compression by its magic bytes and decompresses it as a stream, bounded by
// maxUncompressedBytes (decompression bombs, docs/security.md SEC-30). gzip is inflated in process; bzip2 and xz run as
// external programs, unprivileged when we are root (SEC-41), so a decompressor bug cannot act as root.
import {Readable, Transform, pipeline} from 'node:stream'
import type {TransformCallback} from 'node:stream'
import fs from 'node:fs'
import zlib from 'node:zlib'

import type {execa as Execa} from 'execa'

import {RktError} from '../errors.js'
import {limitError, resolveLimits} from './limits.js'
import type {AciLimits} from './limits.js'

/** The compressions an ACI may use (appc spec/aci.md: none, gzip, bzip2 or xz). */
export type AciCompression = 'gzip' | 'bzip2' | 'xz' | 'none'

/** A decompressed image: its detected compression and the uncompressed tar stream. */
export interface DecompressedAci {
  compression: AciCompression
  /** The uncompressed tar; errors (corrupt or truncated data, ELIMIT) are emitted on it. */
  stream: Readable
}

/** Bytes needed to tell the formats apart: the ustar magic ends at offset 262. */
const SNIFF_BYTES = 262

function startsWith(head: Buffer, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b)
}

/** The compression of an archive from its first bytes, or undefined when it is not an ACI at all. */
export function detectCompression(head: Buffer): AciCompression | undefined {
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip'
  if (startsWith(head, [0x42, 0x5a, 0x68])) return 'bzip2'
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz'
  if (head.length >= SNIFF_BYTES && head.toString('latin1', 257, 262) === 'ustar') return 'none'
  return undefined
}

function unknownFormat(head: Buffer): RktError {
  let guess = ''
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) guess = ' (zstd, which ACIs do not use)'
  else if (/^\s*</.test(head.toString('latin1', 0, Math.min(head.length, 64))))
    guess = ' (it looks like HTML: an error page?)'
  else if (head.length < SNIFF_BYTES) guess = ` (only ${head.length} bytes)`
  return new RktError(`not an ACI: unknown format${guess}`, {
    code: 'EBADACI',
    hint: 'an ACI is a tar archive, optionally compressed with gzip, bzip2 or xz',
  })
}

/** Counts the uncompressed bytes and fails the stream at the limit; `atEnd` can veto a clean end. */
class LimitStream extends Transform {
  private seen = 0
  constructor(
    private readonly limits: AciLimits,
    private readonly onLimit: () => void,
    private readonly atEnd: () => Promise<void>,
  ) {
    super({readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20})
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.limits.maxUncompressedBytes) {
      this.onLimit()
      cb(limitError('maxUncompressedBytes', this.limits, 'the uncompressed image'))
      return
    }
    cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    this.atEnd().then(() => cb(), cb)
  }
}

/** The input again, with the sniffed head in front, as a Readable that releases the input when destroyed. */
function rejoin(head: Buffer, it: AsyncIterator<Uint8Array>): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head
      for (;;) {
        const r = await it.next()
        if (r.done === true) return
        yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
      }
    } finally {
      await it.return?.()
    }
  }
  return Readable.from(chunks(), {objectMode: false})
}

/** Runs `tool -dc` (unprivileged when root) between `source` and `limiter`. */
function runDecompressor(execa: typeof Execa, tool: 'bzip2' | 'xz', source: Readable, limits: AciLimits): Readable {
  const asRoot = process.getuid?.() === 0
  const [file, args] = asRoot
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--', tool, '-dc']]
    : [tool, ['-dc']]
  const child = execa(file, args, {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: {stdout: false, stderr: true},
    reject: false,
    extendEnv: false,
    env: {PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C'},
  })
  const kill = (): void => {
    child.kill('SIGKILL')
  }
  const limiter = new LimitStream(limits, kill, async () => {
    const r = await child
    if (r.exitCode === 0) return
    const detail =
      typeof r.stderr === 'string' && r.stderr.trim() !== '' ? r.stderr.trim() : (r.originalMessage ?? r.shortMessage)
    // ENOENT: the program itself is missing; 127: setpriv ran but could not find the decompressor.
    if ((r.cause as {code?: unknown} | undefined)?.code === 'ENOENT' || r.exitCode === 127) {
      throw new RktError(`cannot decompress the ${tool} image: ${r.exitCode === 127 ? tool : file} is not installed`, {
        code: 'ENOENT',
        hint: `install ${tool === 'xz' ? 'xz-utils' : 'bzip2'}${asRoot ? ' and util-linux (setpriv)' : ''}`,
      })
    }
    throw new RktError(`corrupt or truncated ${tool} data: ${detail}`, {code: 'EBADACI'})
  })
  // The decompressor's exit status is the verdict on its input: a write error (EPIPE) after it gave up is
  // expected, while an error of the source itself (a network failure) fails the output.
  child.stdin.on('error', () => {})
  source.on('error', (err) => {
    kill()
    limiter.destroy(err)
  })
  source.pipe(child.stdin)
  pipeline(child.stdout, limiter, (err) => {
    if (err) kill()
  })
  limiter.on('close', () => {
    source.destroy()
    if (child.exitCode === null) kill()
  })
  return limiter
}

/**
 * Sniffs the compression of an image stream and returns the uncompressed tar as a stream, bounded by
 * maxUncompressedBytes. Throws EBADACI at once for an unknown format.
 */
export async function decompressAci(
  input: AsyncIterable<Uint8Array>,
  options: {limits?: Partial<AciLimits>} = {},
): Promise<DecompressedAci> {
  const limits = resolveLimits(options.limits)
  const it = input[Symbol.asyncIterator]()
  const parts: Buffer[] = []
  let len = 0
  while (len < SNIFF_BYTES) {
    const r = await it.next()
    if (r.done === true) break
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
    parts.push(b)
    len += b.length
  }
  const head = Buffer.concat(parts, len)
  const compression = detectCompression(head)
  if (compression === undefined) {
    await it.return?.()
    throw unknownFormat(head)
  }
  const source = rejoin(head, it)
  if (compression === 'bzip2' || compression === 'xz') {
    // execa is loaded only here: rkt commands that never decompress bzip2 or xz start faster without it.
    const {execa} = await import('execa')
    return {compression, stream: runDecompressor(execa, compression, source, limits)}
  }

  const noop = (): void => {}
  const limiter = new LimitStream(limits, noop, () => Promise.resolve())
  if (compression === 'gzip') {
    const gunzip = zlib.createGunzip({chunkSize: 64 * 1024})
    // Registered before pipeline's own handler, so the consumer sees what went wrong in user terms.
    gunzip.on('error', (err) => {
      if (!limiter.destroyed)
        limiter.destroy(new RktError(`corrupt or truncated gzip data: ${err.message}`, {code: 'EBADACI', cause: err}))
    })
    pipeline(source, gunzip, limiter, noop)
  } else {
    pipeline(source, limiter, noop)
  }
  return {compression, stream: limiter}
}

/** Opens an image file (compressed or not) as an uncompressed tar stream. */
export async function openAci(file: string, options: {limits?: Partial<AciLimits>} = {}): Promise<DecompressedAci> {
  return decompressAci(fs.createReadStream(file, {highWaterMark: 1 << 20}), options)
}
