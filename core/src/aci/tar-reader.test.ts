import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import fc from 'fast-check'

import {RktError} from '../errors.js'
import {setXattr} from '../sys/native.js'
import type {AciLimits} from './limits.js'
import {blockPadding, encodePaxHeader, encodeUstarHeader} from './tar-header.js'
import type {UstarFields} from './tar-header.js'
import {TarReader} from './tar-reader.js'
import type {TarEntry} from './tar-reader.js'
import {packTar} from './testing.js'

interface Parsed {
  entry: TarEntry
  data: Buffer
}

/** Parses a whole archive, pushing it in `chunk`-byte pieces. */
function parse(buf: Buffer, limits: Partial<AciLimits> = {}, chunk = buf.length || 1): Parsed[] {
  const out: Parsed[] = []
  let parts: Buffer[] = []
  const r = new TarReader(
    {
      onEntry: (entry) => {
        parts = []
        out.push({entry, data: Buffer.alloc(0)})
      },
      onData: (c) => parts.push(Buffer.from(c)),
      onEntryEnd: () => {
        out.at(-1)!.data = Buffer.concat(parts)
      },
    },
    limits,
  )
  for (let i = 0; i < buf.length; i += chunk) r.push(buf.subarray(i, i + chunk))
  r.end()
  return out
}

const END = Buffer.alloc(1024)

/** A file entry built by hand: header, data, padding. */
function rawFile(f: Partial<UstarFields> & {name: string}, data = Buffer.alloc(0)): Buffer {
  return Buffer.concat([encodeUstarHeader({typeflag: '0', size: data.length, ...f}), data, blockPadding(data.length)])
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RktError, `expected RktError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    if (message) assert.match(`${err.message}\n${err.hint ?? ''}`, message)
    return true
  })
}

test('round-trips archives written by tar-stream, whatever the chunking', async () => {
  const long = `rootfs/${'d'.repeat(120)}/${'f'.repeat(90)}`
  const buf = await packTar([
    {name: 'manifest', data: '{}'},
    {name: 'rootfs/', mode: 0o755},
    {name: 'rootfs/bin/app', data: Buffer.alloc(1000, 7), mode: 0o4755, uid: 1000, gid: 100},
    {name: 'rootfs/bin/sh', type: 'symlink', linkname: '/bin/app'},
    {name: 'rootfs/bin/hard', type: 'link', linkname: 'rootfs/bin/app'},
    {name: long, data: 'long'},
    {name: 'rootfs/ünïcødé', data: 'u'},
    {name: 'rootfs/empty', data: ''},
  ])
  const expected = parse(buf)
  assert.deepEqual(
    expected.map((p) => [p.entry.name, p.entry.type, p.data.length]),
    [
      ['manifest', 'file', 2],
      ['rootfs/', 'directory', 0],
      ['rootfs/bin/app', 'file', 1000],
      ['rootfs/bin/sh', 'symlink', 0],
      ['rootfs/bin/hard', 'hardlink', 0],
      [long, 'file', 4],
      ['rootfs/ünïcødé', 'file', 1],
      ['rootfs/empty', 'file', 0],
    ],
  )
  const app = expected[2]!.entry
  assert.equal(app.mode, 0o4755)
  assert.equal(app.uid, 1000)
  assert.equal(app.gid, 100)
  assert.equal(app.mtime, 1_600_000_000)
  assert.equal(expected[3]!.entry.linkname, '/bin/app')
  assert.equal(expected[4]!.entry.linkname, 'rootfs/bin/app')
  for (const chunk of [1, 7, 511, 512, 513, 4096]) {
    assert.deepEqual(parse(buf, {}, chunk), expected, `chunk size ${chunk}`)
  }
})

test('hands entry data through as views of the pushed buffer (nothing buffered whole)', async () => {
  const buf = await packTar([{name: 'a', data: Buffer.alloc(100_000, 1)}])
  const views: Buffer[] = []
  const r = new TarReader({onEntry: () => {}, onData: (c) => views.push(c), onEntryEnd: () => {}})
  r.push(buf)
  r.end()
  assert.equal(views.length, 1)
  assert.equal(views[0]!.buffer, buf.buffer)
})

test('reads GNU tar archives: pax and gnu formats, long names, huge uids, xattrs', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-tar-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const src = path.join(dir, 'src')
  const longDir = `rootfs/${'x'.repeat(150)}`
  fs.mkdirSync(path.join(src, longDir), {recursive: true})
  const longFile = `${longDir}/${'y'.repeat(110)}`
  fs.writeFileSync(path.join(src, longFile), 'hello')
  fs.symlinkSync('z'.repeat(120), path.join(src, 'rootfs/link'))
  fs.writeFileSync(path.join(src, 'manifest'), '{}')
  setXattr(path.join(src, 'manifest'), 'user.x', Buffer.from([0, 1, 2, 0xff]))
  for (const format of ['pax', 'gnu']) {
    const out = path.join(dir, `${format}.tar`)
    execFileSync('tar', [
      `--format=${format}`,
      '--xattrs',
      '--owner=big:3000000000',
      '--group=big:3000000001',
      '-C',
      src,
      '-cf',
      out,
      'manifest',
      'rootfs',
    ])
    const parsed = parse(fs.readFileSync(out))
    const names = parsed.map((p) => p.entry.name)
    assert.ok(names.includes(longFile), `${format}: ${names.join(' ')}`)
    const file = parsed.find((p) => p.entry.name === longFile)!
    assert.equal(file.data.toString(), 'hello')
    assert.equal(file.entry.uid, 3000000000)
    assert.equal(file.entry.gid, 3000000001)
    assert.equal(parsed.find((p) => p.entry.name === 'rootfs/link')!.entry.linkname, 'z'.repeat(120))
    if (format === 'pax') {
      const m = parsed.find((p) => p.entry.name === 'manifest')!
      assert.deepEqual(m.entry.xattrs?.get('user.x'), Buffer.from([0, 1, 2, 0xff]))
    }
  }
})

test('reads base-256 sizes and both checksum conventions', () => {
  // Base-256 size field: 0x80 then the value big-endian.
  const h = encodeUstarHeader({name: 'f', typeflag: '0', size: 0})
  h.fill(0, 124, 136)
  h[124] = 0x80
  h[135] = 5
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  const parsed = parse(Buffer.concat([h, Buffer.from('abcde'), blockPadding(5), END]))
  assert.equal(parsed[0]!.data.toString(), 'abcde')

  // Signed checksum (historic Sun/old GNU writers): bytes >= 0x80 counted negative.
  const name = 'rootfs/é'
  const s = encodeUstarHeader({name, typeflag: '0'})
  s.fill(0x20, 148, 156)
  let signed = 0
  for (const b of s) signed += b >= 0x80 ? b - 256 : b
  s.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  assert.equal(parse(Buffer.concat([s, END]))[0]!.entry.name, name)
})

test('rejects a bad checksum, naming the offset', () => {
  const ok = rawFile({name: 'a'})
  const bad = rawFile({name: 'b', checksum: 1234})
  throwsCode(() => parse(Buffer.concat([ok, bad, END])), 'EBADTAR', /bad header checksum at byte 512 .*"b"/)
})

test('rejects premature ends: in data, in a header, without end marker, empty input', async () => {
  const buf = await packTar([{name: 'a', data: Buffer.alloc(2000, 1)}])
  throwsCode(() => parse(buf.subarray(0, 1000)), 'EBADTAR', /premature end at byte 1000 .*"a"/)
  throwsCode(() => parse(buf.subarray(0, 200)), 'EBADTAR', /premature end/)
  throwsCode(() => parse(buf.subarray(0, 512 + 2048)), 'EBADTAR', /premature end/)
  throwsCode(() => parse(Buffer.alloc(0)), 'EBADTAR', /empty/)
  // One zero block then EOF is accepted; so is trailing data after the end marker.
  assert.equal(parse(buf.subarray(0, 512 + 2048 + 512)).length, 1)
  assert.equal(parse(Buffer.concat([buf, Buffer.from('trailing garbage')])).length, 1)
})

test('trailing data counts toward the size limit', async () => {
  const buf = await packTar([{name: 'a', data: 'x'}])
  throwsCode(
    () => parse(Buffer.concat([buf, Buffer.alloc(10_000, 1)]), {maxUncompressedBytes: buf.length + 100}),
    'ELIMIT',
  )
})

test('a lone zero block followed by a header is ambiguous and rejected', () => {
  throwsCode(
    () => parse(Buffer.concat([rawFile({name: 'a'}), Buffer.alloc(512), rawFile({name: 'hidden'}), END])),
    'EBADTAR',
    /lone zero block/,
  )
})

test('SEC-32: a pax size that disagrees with the ustar size is rejected', () => {
  const data = Buffer.alloc(1024, 0x41)
  const smuggle = Buffer.concat([
    encodePaxHeader([['size', '1024']]),
    encodeUstarHeader({name: 'rootfs/a', typeflag: '0', size: 512}),
    data,
    END,
  ])
  throwsCode(() => parse(smuggle), 'EBADTAR', /pax size 1024 disagrees with the header size 512/)
  // A pax size with a zero ustar size is how large files are written: accepted.
  const big = Buffer.concat([
    encodePaxHeader([['size', '1024']]),
    encodeUstarHeader({name: 'rootfs/a', typeflag: '0', size: 0}),
    data,
    END,
  ])
  assert.equal(parse(big)[0]!.data.length, 1024)
})

test('pax and GNU long-name headers over the header limit are rejected before they are read', () => {
  const big = encodePaxHeader([['comment', 'x'.repeat(2 << 20)]])
  const started = Date.now()
  throwsCode(() => parse(Buffer.concat([big.subarray(0, 512 * 4)]), {}), 'ELIMIT', /maxHeaderBytes = 1MiB/)
  assert.ok(Date.now() - started < 1000)
  const gnu = encodeUstarHeader({name: '././@LongLink', typeflag: 'L', size: 10_000, format: 'gnu'})
  throwsCode(
    () => parse(Buffer.concat([gnu, Buffer.alloc(10_240, 0x61)]), {maxHeaderBytes: 4096}),
    'ELIMIT',
    /RKT_MAX_TAR_HEADER_SIZE=8KiB/,
  )
})

test('a header claiming 8 EiB fails fast with no allocation; so does a merely huge one at premature end', () => {
  const h = encodeUstarHeader({name: 'rootfs/huge', typeflag: '0', size: 0})
  h.fill(0, 124, 136)
  h[124] = 0x80
  h[128] = 0x80 // 2^63 = 8 EiB
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  const rss = process.memoryUsage().rss
  throwsCode(() => parse(Buffer.concat([h, Buffer.alloc(4096)])), 'EBADTAR', /size overflows/)
  // 2^50 bytes declared: over the size limit at once, and with the limit lifted, a premature end.
  const h2 = encodeUstarHeader({name: 'rootfs/huge', typeflag: '0', size: 2 ** 50})
  throwsCode(() => parse(Buffer.concat([h2, Buffer.alloc(4096)])), 'ELIMIT', /maxUncompressedBytes/)
  throwsCode(
    () => parse(Buffer.concat([h2, Buffer.alloc(4096)]), {maxUncompressedBytes: 2 ** 52}),
    'EBADTAR',
    /premature end/,
  )
  assert.ok(process.memoryUsage().rss - rss < 64 << 20)
})

test('a 50,000-level path is rejected by the depth limit (and by the path limit by default)', () => {
  const deep = `rootfs/${'a/'.repeat(50_000)}f`
  const archive = Buffer.concat([
    encodePaxHeader([['path', deep]]),
    encodeUstarHeader({name: 'placeholder', typeflag: '0'}),
    END,
  ])
  throwsCode(() => parse(archive, {maxPathBytes: 1 << 20}), 'ELIMIT', /maxPathDepth = 1024/)
  throwsCode(() => parse(archive), 'ELIMIT', /maxPathBytes = 4KiB/)
})

test('rejects unsupported entry types: GNU sparse (typeflag and pax), multi-volume, volume label', () => {
  for (const [flag, what] of [
    ['S', /GNU sparse/],
    ['M', /multi-volume/],
    ['V', /volume label/],
    ['N', /old long name/],
    ['Q', /vendor extension/],
    ['9', /unknown type/],
  ] as const) {
    throwsCode(
      () => parse(Buffer.concat([rawFile({name: 'rootfs/s', typeflag: flag, format: 'gnu'}), END])),
      'EBADTAR',
      what,
    )
  }
  const paxSparse = Buffer.concat([encodePaxHeader([['GNU.sparse.major', '1']]), rawFile({name: 'rootfs/s'}), END])
  throwsCode(() => parse(paxSparse), 'EBADTAR', /GNU sparse/)
})

test('rejects v7 headers without the ustar magic', () => {
  throwsCode(() => parse(Buffer.concat([rawFile({name: 'a', format: 'v7'}), END])), 'EBADTAR', /no ustar magic/)
})

test('rejects invalid UTF-8 and NUL in names, negative and malformed numbers', () => {
  const bad = encodeUstarHeader({name: 'x', typeflag: '0'})
  bad[1] = 0xc3 // a lone lead byte
  bad.fill(0x20, 148, 156)
  let sum = 0
  for (const b of bad) sum += b
  bad.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  throwsCode(() => parse(Buffer.concat([bad, END])), 'EBADTAR', /not valid UTF-8/)
  throwsCode(
    () => parse(Buffer.concat([encodePaxHeader([['path', 'rootfs/a\0b']]), rawFile({name: 'p'}), END])),
    'EBADTAR',
    /NUL in pax path/,
  )
  throwsCode(
    () => parse(Buffer.concat([encodePaxHeader([['uid', '-1']]), rawFile({name: 'p'}), END])),
    'EBADTAR',
    /pax uid/,
  )
  throwsCode(
    () =>
      parse(
        Buffer.concat([
          encodePaxHeader([['path', 'x']]).subarray(0, 512),
          Buffer.from('8 path=x\n'),
          Buffer.alloc(503),
          rawFile({name: 'p'}),
          END,
        ]),
      ),
    'EBADTAR',
  )

  const neg = encodeUstarHeader({name: 'n', typeflag: '0'})
  neg.fill(0xff, 108, 116) // base-256 negative uid
  neg.fill(0x20, 148, 156)
  sum = 0
  for (const b of neg) sum += b
  neg.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  throwsCode(() => parse(Buffer.concat([neg, END])), 'EBADTAR', /negative uid/)
  const garbage = rawFile({name: 'g'})
  garbage.write('12x4', 100, 'latin1')
  garbage.fill(0x20, 148, 156)
  sum = 0
  for (let i = 0; i < 512; i++) sum += garbage[i]!
  garbage.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  throwsCode(() => parse(Buffer.concat([garbage, END])), 'EBADTAR', /mode is not an octal number/)
})

test('rejects data on header-only entries, two pax headers for one entry, a dangling pax header', () => {
  const dirWithData = Buffer.concat([
    encodeUstarHeader({name: 'd/', typeflag: '5', size: 512}),
    Buffer.alloc(512, 1),
    END,
  ])
  throwsCode(() => parse(dirWithData), 'EBADTAR', /directory entry declares 512 data bytes/)
  const twice = Buffer.concat([
    encodePaxHeader([['path', 'a']]),
    encodePaxHeader([['path', 'b']]),
    rawFile({name: 'c'}),
    END,
  ])
  throwsCode(() => parse(twice), 'EBADTAR', /second 'x' metadata header/)
  throwsCode(() => parse(Buffer.concat([encodePaxHeader([['path', 'a']]), END])), 'EBADTAR', /not followed by an entry/)
  const both = Buffer.concat([
    encodePaxHeader([['path', 'a']]),
    encodeUstarHeader({name: '././@LongLink', typeflag: 'L', size: 2, format: 'gnu'}),
    Buffer.from('b\0'),
    Buffer.alloc(510),
    rawFile({name: 'c'}),
    END,
  ])
  throwsCode(() => parse(both), 'EBADTAR', /both a pax path and a GNU long name/)
})

test('applies global pax headers; an old-style regular file ending in / is a directory', () => {
  const archive = Buffer.concat([
    encodePaxHeader(
      [
        ['uid', '4242'],
        ['SCHILY.xattr.user.g', 'global'],
      ],
      {global: true},
    ),
    rawFile({name: 'a'}),
    encodeUstarHeader({name: 'olddir/', typeflag: '\0'}),
    END,
  ])
  const parsed = parse(archive)
  assert.equal(parsed[0]!.entry.uid, 4242)
  assert.equal(parsed[0]!.entry.xattrs?.get('user.g')?.toString(), 'global')
  assert.equal(parsed[1]!.entry.type, 'directory')
  throwsCode(
    () => parse(Buffer.concat([encodePaxHeader([['path', 'x']], {global: true}), rawFile({name: 'a'}), END])),
    'EBADTAR',
    /global pax header .* sets 'path'/,
  )
})

test('enforces the entry and name limits', async () => {
  const buf = await packTar([
    {name: 'a', data: ''},
    {name: 'b', data: ''},
    {name: 'c', data: ''},
  ])
  throwsCode(() => parse(buf, {maxEntries: 2}), 'ELIMIT', /RKT_MAX_IMAGE_ENTRIES=4/)
  throwsCode(
    () => parse(Buffer.concat([encodePaxHeader([['path', 'n'.repeat(5000)]]), rawFile({name: 'p'}), END])),
    'ELIMIT',
    /maxPathBytes/,
  )
})

test('FZ-04 (parser): mutated archives parse or fail with an rkt error, never hang or crash', async () => {
  const base = await packTar([
    {name: 'manifest', data: '{}'},
    {name: 'rootfs/'},
    {name: `rootfs/${'l'.repeat(150)}`, data: Buffer.alloc(700, 3)},
    {name: 'rootfs/s', type: 'symlink', linkname: '../x'},
  ])
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({min: 0, max: 255})), {minLength: 1, maxLength: 8}),
      fc.integer({min: 1, max: 2048}),
      fc.nat(base.length),
      (mutations, chunk, cut) => {
        const buf = Buffer.from(base.subarray(0, Math.max(cut, 1)))
        for (const [i, v] of mutations) if (i < buf.length) buf[i] = v
        try {
          parse(buf, {}, chunk)
        } catch (err) {
          if (!(err instanceof RktError)) throw err
        }
      },
    ),
    {numRuns: 400, seed: 42},
  )
})
