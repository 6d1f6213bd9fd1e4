import {skipUnless} from '../testing.js'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {test} from 'node:test'
import zlib from 'node:zlib'

import fc from 'fast-check'

import {RktError} from '../errors.js'
import {decompressAci, detectCompression, openAci} from './compression.js'
import type {AciLimits} from './limits.js'
import {packImage} from './testing.js'

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

/** Decompresses `data` (fed in 64 KiB pieces) and returns the tar, or the error. */
async function roundTrip(data: Buffer, limits: Partial<AciLimits> = {}): Promise<Buffer> {
  const pieces = function* (): Generator<Buffer> {
    for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536)
  }
  const {stream} = await decompressAci(Readable.from(pieces()), {limits})
  return collect(stream)
}

function run(cmd: string, args: string[], input: Buffer): Buffer {
  return execFileSync(cmd, args, {input, maxBuffer: 1 << 30})
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<RktError> {
  let caught: unknown
  try {
    await p
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof RktError, `expected an RktError, got ${String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  if (pattern) assert.match(caught.message, pattern)
  return caught
}

test('detects gzip, bzip2, xz and plain tar by magic; anything else is not an ACI', async () => {
  const tar = await packImage([])
  assert.equal(detectCompression(tar), 'none')
  assert.equal(detectCompression(zlib.gzipSync(tar)), 'gzip')
  assert.equal(detectCompression(run('bzip2', ['-c'], tar)), 'bzip2')
  assert.equal(detectCompression(run('xz', ['-c'], tar)), 'xz')
  assert.equal(detectCompression(Buffer.from('<html>')), undefined)
  await rejectsWith(
    roundTrip(Buffer.from('<!doctype html><html>404</html>')),
    'EBADACI',
    /not an ACI: unknown format \(it looks like HTML/,
  )
  await rejectsWith(roundTrip(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), 'EBADACI', /zstd/)
  await rejectsWith(roundTrip(Buffer.alloc(0)), 'EBADACI', /unknown format/)
  await rejectsWith(roundTrip(Buffer.alloc(4096, 1)), 'EBADACI', /unknown format/)
})

test('round-trips every compression', async () => {
  const tar = await packImage([
    {name: 'rootfs/blob', data: Buffer.from(Array.from({length: 300_000}, (_, i) => (i * 7919) % 251))},
  ])
  assert.deepEqual(await roundTrip(tar), tar)
  assert.deepEqual(await roundTrip(zlib.gzipSync(tar)), tar)
  assert.deepEqual(
    await roundTrip(Buffer.concat([zlib.gzipSync(tar.subarray(0, 1000)), zlib.gzipSync(tar.subarray(1000))])),
    tar,
  )
  assert.deepEqual(await roundTrip(run('bzip2', ['-c'], tar)), tar)
  assert.deepEqual(await roundTrip(run('xz', ['-c'], tar)), tar)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-comp-'))
  try {
    fs.writeFileSync(path.join(dir, 'i.aci'), run('xz', ['-c'], tar))
    const {compression, stream} = await openAci(path.join(dir, 'i.aci'))
    assert.equal(compression, 'xz')
    assert.deepEqual(await collect(stream), tar)
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('FZ-05: truncated and corrupt streams error, never hang', async () => {
  const tar = await packImage([{name: 'rootfs/blob', data: Buffer.alloc(200_000, 9)}])
  const gz = zlib.gzipSync(tar)
  const bz = run('bzip2', ['-c'], tar)
  const xz = run('xz', ['-c'], tar)
  await rejectsWith(roundTrip(gz.subarray(0, gz.length - 10)), 'EBADACI', /corrupt or truncated gzip data/)
  await rejectsWith(roundTrip(bz.subarray(0, bz.length - 10)), 'EBADACI', /corrupt or truncated bzip2 data/)
  await rejectsWith(roundTrip(xz.subarray(0, xz.length - 10)), 'EBADACI', /corrupt or truncated xz data/)
  const badXz = Buffer.from(xz)
  badXz[40] = badXz[40]! ^ 0xff
  await rejectsWith(roundTrip(badXz), 'EBADACI', /xz/)
  // Random corruption of each format: an error or a (different) stream, always an end.
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(gz, bz, xz), fc.nat(), fc.integer({min: 1, max: 255}), async (data, at, x) => {
      const copy = Buffer.from(data)
      const i = 6 + (at % (copy.length - 6))
      copy[i] = copy[i]! ^ x
      try {
        await roundTrip(copy)
      } catch (err) {
        if (!(err instanceof RktError)) throw err
      }
    }),
    {numRuns: 25, seed: 7},
  )
})

test('SEC-30: a gzip bomb stops at the size limit quickly, with bounded memory', async () => {
  // 32 gzip members of 64 MiB of zeros each: 2 GiB once inflated, about 2 MiB compressed.
  const member = zlib.gzipSync(Buffer.alloc(64 << 20), {level: 9})
  const bomb = Buffer.concat(Array.from({length: 32}, () => member))
  const started = Date.now()
  const rss = process.memoryUsage().rss
  const err = await rejectsWith(
    roundTrip(bomb, {maxUncompressedBytes: 64 << 20}),
    'ELIMIT',
    /maxUncompressedBytes = 64MiB/,
  )
  assert.match(err.hint ?? '', /RKT_MAX_IMAGE_SIZE=128MiB/)
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`)
  assert.ok(process.memoryUsage().rss - rss < 128 << 20)
})

test('SEC-30: an xz bomb kills the decompressor at the limit', async () => {
  const bomb = execFileSync('sh', ['-c', 'head -c 256M /dev/zero | xz -1 -c'], {maxBuffer: 1 << 30})
  const started = Date.now()
  await rejectsWith(roundTrip(bomb, {maxUncompressedBytes: 16 << 20}), 'ELIMIT')
  assert.ok(Date.now() - started < 5000)
})

test(
  'SEC-41: as root, bzip2 and xz run as nobody with no_new_privs',
  {skip: skipUnless(process.getuid?.() === 0, 'needs root')},
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-priv-'))
    const saved = process.env['PATH']
    try {
      fs.chmodSync(dir, 0o777)
      fs.writeFileSync(
        path.join(dir, 'xz'),
        `#!/bin/sh\ngrep -E '^(Uid|Gid|NoNewPrivs|CapEff)' /proc/self/status > ${dir}/status\nexec /usr/bin/xz "$@"\n`,
        {mode: 0o755},
      )
      process.env['PATH'] = `${dir}:${saved ?? '/usr/bin:/bin'}`
      const tar = await packImage([])
      assert.deepEqual(await roundTrip(run('/usr/bin/xz', ['-c'], tar)), tar)
      const status = fs.readFileSync(path.join(dir, 'status'), 'utf8')
      assert.match(status, /Uid:\s+65534\s+65534\s+65534\s+65534/)
      assert.match(status, /Gid:\s+65534/)
      assert.match(status, /NoNewPrivs:\s+1/)
      assert.match(status, /CapEff:\s+0+\n/)
    } finally {
      process.env['PATH'] = saved
      fs.rmSync(dir, {recursive: true, force: true})
    }
  },
)

test('an error of the input stream fails the output', async () => {
  const tar = await packImage([{name: 'rootfs/a', data: Buffer.alloc(100_000, 1)}])
  const gz = zlib.gzipSync(tar)
  for (const data of [tar, gz, run('xz', ['-c'], tar)]) {
    const input = new Readable({read() {}})
    input.push(data.subarray(0, 1000))
    setTimeout(() => input.destroy(new Error('connection reset')), 20)
    const {stream} = await decompressAci(input)
    await assert.rejects(collect(stream), /connection reset/)
  }
})
