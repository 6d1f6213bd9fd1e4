// A strict, incremental, synchronous tar parser. It exists because tar-stream's per-entry stream machinery
// alone costs more than `tar -x` takes for a whole image, and because a lenient parser is an attack surface:
// every reader of an image (validation at fetch, extraction at render) must see exactly the same entries
// (docs/security.md SEC-32, 'file smuggling'), so anything ambiguous is rejected here with one clear error.
import {limitError, resolveLimits} from './limits.js'
import type {AciLimits} from './limits.js'
import {
  BLOCK,
  checksumMatches,
  decodeStrict,
  fieldEnd,
  isZeroBlock,
  parseNumber,
  parsePax,
  rawName,
  tarError,
} from './tar-fields.js'
import type {PaxValue} from './tar-fields.js'

/** The kinds of entry an image may contain (metadata headers are consumed by the reader). */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo'

/** One archive entry with pax and GNU long-name overrides already applied. */
export interface TarEntry {
  /** The name exactly as archived (not normalised), decoded as strict UTF-8. */
  name: string
  type: TarEntryType
  /** Permission bits including setuid, setgid and sticky (0o7777). */
  mode: number
  uid: number
  gid: number
  uname: string
  gname: string
  /** Data bytes that follow (0 for every type but 'file'). */
  size: number
  /** Seconds since the epoch; pax times may be fractional. */
  mtime: number
  /** Symlink target or hardlink target name; '' for other types. */
  linkname: string
  devmajor: number
  devminor: number
  /** `SCHILY.xattr.*` records, name without the prefix → raw value; undefined when there are none. */
  xattrs: ReadonlyMap<string, Buffer> | undefined
  /** Byte offset of the entry's first header block (its pax or long-name header when it has one). */
  offset: number
}

/** Receives the archive as it is parsed; `onData` chunks are views of the pushed buffers, valid only during the call. */
export interface TarHandler {
  onEntry(entry: TarEntry): void
  onData(chunk: Buffer): void
  onEntryEnd(): void
}

const S_HEADER = 0
const S_DATA = 1
const S_META = 2
const S_PAD = 3
const S_ZERO1 = 4
const S_END = 5
const S_FAILED = 6

const TYPE_OF: Record<number, TarEntryType> = {
  0x30: 'file', // '0'
  0x00: 'file', // '\0' (pre-POSIX regular file)
  0x37: 'file', // '7' contiguous file, a regular file everywhere that matters
  0x31: 'hardlink',
  0x32: 'symlink',
  0x33: 'char',
  0x34: 'block',
  0x35: 'directory',
  0x36: 'fifo',
}

const UNSUPPORTED: Record<string, string> = {
  S: 'GNU sparse file',
  M: 'GNU multi-volume continuation',
  V: 'GNU volume label',
  N: 'GNU old long name',
  D: 'GNU dumpdir',
  I: 'inode metadata',
  X: 'Solaris extended header',
}

/** A name for messages: JSON-quoted, and cut short when it is long (hostile names can be megabytes). */
function shorten(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 100)}…${name.slice(-60)}` : name)
}

/**
 * The tar parser: push chunks in order, then end(). Every error is thrown from push or end, after which the
 * reader stays failed. Entry data is handed through as it arrives; nothing is sized from a header.
 */
export class TarReader {
  private readonly limits: AciLimits
  private state = S_HEADER
  private error: unknown
  private readonly block = Buffer.alloc(BLOCK)
  private blockLen = 0
  private remaining = 0
  private entrySize = 0
  private pos = 0
  private total = 0
  private count = 0
  private metaType = 0
  private metaParts: Buffer[] = []
  private metaLen = 0
  private metaOffset = -1
  private metaAt = 0
  private localPax: Map<string, PaxValue> | undefined
  private longName: string | undefined
  private longLink: string | undefined
  private readonly globalPax = new Map<string, PaxValue>()
  private globalBytes = 0
  private lastName = ''

  constructor(
    private readonly handler: TarHandler,
    limits: Partial<AciLimits> = {},
  ) {
    this.limits = resolveLimits(limits)
  }

  /** Bytes pushed so far, trailing data included. */
  get bytes(): number {
    return this.total
  }

  /**
   * Archive bytes parsed so far. Inside onEntryEnd it is the end of the entry's data (before padding), so
   * callers can copy entries byte for byte (actool patch-manifest).
   */
  get position(): number {
    return this.pos
  }

  /** Entries delivered so far. */
  get entries(): number {
    return this.count
  }

  /** Parses the next piece of the archive, calling the handler synchronously. */
  push(chunk: Buffer): void {
    if (this.state === S_FAILED) throw this.error
    try {
      this.total += chunk.length
      if (this.total > this.limits.maxUncompressedBytes) {
        throw limitError('maxUncompressedBytes', this.limits, 'the uncompressed image')
      }
      this.consume(chunk)
    } catch (err) {
      this.state = S_FAILED
      this.error = err
      throw err
    }
  }

  /** Checks that the archive ended cleanly: an end marker (at least one zero block) and no entry cut short. */
  end(): void {
    if (this.state === S_FAILED) throw this.error
    // One zero block then EOF is accepted (some writers stop there); a partial block after it must be zeros.
    const ok =
      this.state === S_END || (this.state === S_ZERO1 && !this.block.subarray(0, this.blockLen).some((b) => b !== 0))
    if (!ok) {
      const where = this.total === 0 ? 'the archive is empty' : `premature end at byte ${this.total}`
      const after = this.lastName ? ` (in or after entry ${shorten(this.lastName)})` : ''
      this.state = S_FAILED
      this.error = tarError(`${where}${after}; the download or file is truncated`)
      throw this.error
    }
    this.state = S_END
  }

  private consume(chunk: Buffer): void {
    const len = chunk.length
    let i = 0
    while (i < len) {
      switch (this.state) {
        case S_HEADER:
        case S_ZERO1: {
          if (this.blockLen === 0 && len - i >= BLOCK) {
            this.onBlock(chunk, i)
            i += BLOCK
            this.pos += BLOCK
          } else {
            const n = Math.min(BLOCK - this.blockLen, len - i)
            chunk.copy(this.block, this.blockLen, i, i + n)
            this.blockLen += n
            i += n
            if (this.blockLen === BLOCK) {
              this.blockLen = 0
              this.onBlock(this.block, 0)
              this.pos += BLOCK
            }
          }
          break
        }
        case S_DATA: {
          const n = Math.min(this.remaining, len - i)
          this.handler.onData(chunk.subarray(i, i + n))
          this.remaining -= n
          this.pos += n
          i += n
          if (this.remaining === 0) this.afterData()
          break
        }
        case S_META: {
          const n = Math.min(this.remaining, len - i)
          this.metaParts.push(Buffer.from(chunk.subarray(i, i + n)))
          this.remaining -= n
          this.pos += n
          i += n
          if (this.remaining === 0) this.afterMeta()
          break
        }
        case S_PAD: {
          const n = Math.min(this.remaining, len - i)
          this.remaining -= n
          this.pos += n
          i += n
          if (this.remaining === 0) this.state = S_HEADER
          break
        }
        default:
          // S_END: trailing data (tar's record padding or anything else) is ignored but was counted.
          this.pos += len - i
          i = len
      }
    }
  }

  private startPadding(size: number): void {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK
    this.remaining = pad
    this.state = pad === 0 ? S_HEADER : S_PAD
  }

  private afterData(): void {
    this.handler.onEntryEnd()
    this.startPadding(this.entrySize)
  }

  private onBlock(buf: Buffer, off: number): void {
    const at = this.pos
    if (this.state === S_ZERO1) {
      if (!isZeroBlock(buf, off)) {
        throw tarError(`a lone zero block at byte ${at - BLOCK} is followed by a header; the archive is ambiguous`)
      }
      this.state = S_END
      return
    }
    if (isZeroBlock(buf, off)) {
      if (this.metaOffset >= 0)
        throw tarError(`the metadata header at byte ${this.metaOffset} is not followed by an entry`)
      this.state = S_ZERO1
      return
    }
    if (!checksumMatches(buf, off, at))
      throw tarError(`bad header checksum at byte ${at} (name field ${rawName(buf, off)})`)
    const ustar =
      buf[off + 257] === 0x75 &&
      buf[off + 258] === 0x73 &&
      buf[off + 259] === 0x74 &&
      buf[off + 260] === 0x61 &&
      buf[off + 261] === 0x72
    const posix = ustar && buf[off + 262] === 0
    const gnu = ustar && buf[off + 262] === 0x20 && buf[off + 263] === 0x20 && buf[off + 264] === 0
    if (!posix && !gnu) {
      throw tarError(
        `the header at byte ${at} (name field ${rawName(buf, off)}) has no ustar magic (v7 or unknown tar format)`,
      )
    }
    const flag = buf[off + 156]!
    const size = parseNumber(buf, off + 124, 12, 'size', at)
    if (flag === 0x78 || flag === 0x67 || flag === 0x4c || flag === 0x4b) {
      this.startMeta(flag, size, at)
      return
    }
    const type = TYPE_OF[flag]
    if (type === undefined) {
      const ch = String.fromCharCode(flag)
      const what = UNSUPPORTED[ch] ?? (ch >= 'A' && ch <= 'Z' ? 'vendor extension' : 'unknown type')
      throw tarError(`unsupported entry type '${ch}' (${what}) for ${rawName(buf, off)} at byte ${at}`)
    }
    this.entry(buf, off, at, type, flag, size, posix)
  }

  private startMeta(flag: number, size: number, at: number): void {
    const kind = String.fromCharCode(flag)
    if (size > this.limits.maxHeaderBytes) {
      throw limitError('maxHeaderBytes', this.limits, `the '${kind}' metadata header of ${size} bytes at byte ${at}`)
    }
    if (
      (flag === 0x78 && this.localPax) ||
      (flag === 0x4c && this.longName !== undefined) ||
      (flag === 0x4b && this.longLink !== undefined)
    ) {
      throw tarError(`a second '${kind}' metadata header for the same entry at byte ${at}`)
    }
    if (this.metaOffset < 0) this.metaOffset = at
    this.metaAt = at
    this.metaType = flag
    this.metaParts = []
    this.metaLen = size
    this.remaining = size
    this.entrySize = size
    this.state = S_META
    if (size === 0) this.afterMeta()
  }

  private afterMeta(): void {
    const data = this.metaParts.length === 1 ? this.metaParts[0]! : Buffer.concat(this.metaParts, this.metaLen)
    this.metaParts = []
    const at = this.metaAt
    switch (this.metaType) {
      case 0x78:
        this.localPax = parsePax(data, at)
        break
      case 0x67: {
        for (const [k, v] of parsePax(data, at)) {
          if (k === 'path' || k === 'linkpath' || k === 'size')
            throw tarError(`global pax header at byte ${at} sets '${k}'`)
          this.globalBytes += k.length + v.length
          // An empty value removes the global setting.
          if (v.length === 0) this.globalPax.delete(k)
          else this.globalPax.set(k, v)
        }
        if (this.globalBytes > this.limits.maxHeaderBytes) {
          throw limitError('maxHeaderBytes', this.limits, 'the global pax headers')
        }
        // A global header belongs to no entry: it does not open a metadata sequence.
        if (!this.localPax && this.longName === undefined && this.longLink === undefined) this.metaOffset = -1
        break
      }
      default: {
        // GNU long name / link: the name and a terminating NUL (writers differ on whether they pad with more).
        let end = data.length
        while (end > 0 && data[end - 1] === 0) end--
        if (end === 0) throw tarError(`empty GNU long name at byte ${at}`)
        if (data.indexOf(0) < end && data.indexOf(0) !== -1)
          throw tarError(`NUL inside the GNU long name at byte ${at}`)
        const text = decodeStrict(data, 0, end, `the GNU long name at byte ${at}`)
        if (this.metaType === 0x4c) this.longName = text
        else this.longLink = text
      }
    }
    this.startPadding(this.metaLen)
  }

  private entry(
    buf: Buffer,
    off: number,
    at: number,
    type: TarEntryType,
    flag: number,
    ustarSize: number,
    posix: boolean,
  ): void {
    const local = this.localPax
    // A local record shadows the global one; an empty local value means "use the header field".
    const paxString = (key: string): string | undefined => {
      const v = local?.has(key) ? local.get(key) : this.globalPax.get(key)
      return typeof v === 'string' && v !== '' ? v : undefined
    }
    const paxNumber = (key: string): number | undefined => {
      const v = paxString(key)
      if (v === undefined) return undefined
      if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v)))
        throw tarError(`pax ${key}=${JSON.stringify(v)} is not a valid number at byte ${at}`)
      return Number(v)
    }

    // Name: a GNU long name or pax path overrides the header fields; both at once is ambiguous.
    const paxPath = paxString('path')
    if (paxPath !== undefined && this.longName !== undefined)
      throw tarError(`entry at byte ${at} has both a pax path and a GNU long name`)
    let name = this.longName ?? paxPath
    if (name === undefined) {
      name = decodeStrict(buf, off, fieldEnd(buf, off, 100), `the name at byte ${at}`)
      if (posix && buf[off + 345] !== 0) {
        name = `${decodeStrict(buf, off + 345, fieldEnd(buf, off + 345, 155), `the name prefix at byte ${at}`)}/${name}`
      }
    }
    const paxLink = paxString('linkpath')
    if (paxLink !== undefined && this.longLink !== undefined)
      throw tarError(`entry ${JSON.stringify(name)} at byte ${at} has both a pax linkpath and a GNU long link`)
    let linkname =
      this.longLink ??
      paxLink ??
      decodeStrict(buf, off + 157, fieldEnd(buf, off + 157, 100), `the link name at byte ${at}`)

    const entryAt = this.metaOffset >= 0 ? this.metaOffset : at
    const where = (): string => `entry ${shorten(name)} at byte ${entryAt}`
    let size = ustarSize
    const paxSize = paxNumber('size')
    if (paxSize !== undefined) {
      if (ustarSize !== 0 && ustarSize !== paxSize) {
        throw tarError(`${where()}: pax size ${paxSize} disagrees with the header size ${ustarSize}`)
      }
      size = paxSize
    }
    if (flag === 0 && name.endsWith('/')) type = 'directory'
    if (type !== 'file') {
      if (size !== 0) throw tarError(`${where()}: a ${type} entry declares ${size} data bytes`)
      if (type !== 'symlink' && type !== 'hardlink') linkname = ''
    }
    this.checkPath(name, () => `the name of ${where()}`)
    if (linkname !== '') this.checkPath(linkname, () => `the link target of ${where()}`)

    this.count++
    if (this.count > this.limits.maxEntries) throw limitError('maxEntries', this.limits, 'the number of entries')
    // Fail fast on a size that cannot fit: no need to wait for (or allocate for) data that would exceed the bound.
    if (this.pos + BLOCK + size > this.limits.maxUncompressedBytes) {
      throw limitError('maxUncompressedBytes', this.limits, `${where()} of ${size} bytes`)
    }

    let mtime = parseNumber(buf, off + 136, 12, 'mtime', at)
    const paxMtime = paxString('mtime')
    if (paxMtime !== undefined) {
      if (!/^\d{1,16}(\.\d{1,9})?$/.test(paxMtime))
        throw tarError(`${where()}: invalid pax mtime ${JSON.stringify(paxMtime)}`)
      mtime = Number(paxMtime)
    }
    const uid = paxNumber('uid') ?? parseNumber(buf, off + 108, 8, 'uid', at)
    const gid = paxNumber('gid') ?? parseNumber(buf, off + 116, 8, 'gid', at)
    if (uid > 0xffffffff || gid > 0xffffffff) throw tarError(`${where()}: uid/gid ${uid}/${gid} out of range`)

    let xattrs: Map<string, Buffer> | undefined
    for (const source of [this.globalPax, local]) {
      if (!source) continue
      for (const [k, v] of source) {
        if (!k.startsWith('SCHILY.xattr.')) continue
        xattrs ??= new Map()
        xattrs.set(k.slice(13), typeof v === 'string' ? Buffer.from(v) : v)
      }
    }

    const entry: TarEntry = {
      name,
      type,
      mode: parseNumber(buf, off + 100, 8, 'mode', at) & 0o7777,
      uid,
      gid,
      uname: paxString('uname') ?? buf.toString('utf8', off + 265, fieldEnd(buf, off + 265, 32)),
      gname: paxString('gname') ?? buf.toString('utf8', off + 297, fieldEnd(buf, off + 297, 32)),
      size,
      mtime,
      linkname,
      devmajor: type === 'char' || type === 'block' ? parseNumber(buf, off + 329, 8, 'devmajor', at) : 0,
      devminor: type === 'char' || type === 'block' ? parseNumber(buf, off + 337, 8, 'devminor', at) : 0,
      xattrs,
      offset: this.metaOffset >= 0 ? this.metaOffset : at,
    }
    this.localPax = undefined
    this.longName = undefined
    this.longLink = undefined
    this.metaOffset = -1
    this.lastName = name
    this.entrySize = size
    this.handler.onEntry(entry)
    if (size === 0) {
      this.handler.onEntryEnd()
      this.state = S_HEADER
    } else {
      this.remaining = size
      this.state = S_DATA
    }
  }

  private checkPath(p: string, what: () => string): void {
    if (p.length > this.limits.maxPathBytes || Buffer.byteLength(p) > this.limits.maxPathBytes) {
      throw limitError('maxPathBytes', this.limits, `${what()} (${Buffer.byteLength(p)} bytes)`)
    }
    let depth = 1
    for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 0x2f) depth++
    if (depth > this.limits.maxPathDepth) {
      // Count real components only (a//b is 2) before refusing.
      const real = p.split('/').filter((c) => c !== '').length
      if (real > this.limits.maxPathDepth) {
        throw limitError('maxPathDepth', this.limits, `the depth (${real}) of ${what()}`)
      }
    }
  }
}
