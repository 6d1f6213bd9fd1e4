import {skipUnless} from '../testing.js'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {Readable} from 'node:stream'
import {test} from 'node:test'
import zlib from 'node:zlib'

import {RktError} from '../errors.js'
import {getXattr, listXattrs} from '../sys/native.js'
import {decompressAci} from './compression.js'
import {AciExtractor, extractAci} from './extract.js'
import type {ExtractOptions} from './extract.js'
import {blockPadding, encodePaxHeader, encodeUstarHeader} from './tar-header.js'
import {TEST_MANIFEST, makeSandbox, packImage, packTar} from './testing.js'
import type {EntrySpec, Sandbox} from './testing.js'

const isRoot = process.getuid?.() === 0

/**
 * Extracts an archive next to a victim and checks that the victim is untouched, whatever happened. `build`
 * receives the victim's absolute path, so absolute link targets can aim at it.
 */
async function extractBeside(
  build: Buffer | ((victim: string) => Promise<Buffer>),
  options: ExtractOptions = {rootfsOnly: true},
  use?: (sb: Sandbox) => void,
): Promise<{error: unknown}> {
  const sb = makeSandbox()
  try {
    const file = sb.writeTar(Buffer.isBuffer(build) ? build : await build(sb.victim))
    const before = sb.snapshot()
    let error: unknown
    try {
      extractAci(file, sb.dest, options)
    } catch (err) {
      error = err
    }
    assert.equal(sb.snapshot(), before, 'the victim and everything beside dest are unchanged')
    assert.deepEqual(sb.sharedInodes(), [], 'no inode inside dest is shared with the victim')
    if (use) {
      // A check of the result was asked for: the extraction had to succeed.
      assert.equal(error, undefined, `the extraction failed: ${String(error)}`)
      use(sb)
    }
    return {error}
  } finally {
    sb.cleanup()
  }
}

function assertRejected(error: unknown, pattern: RegExp): void {
  assert.ok(error instanceof RktError, `expected a rejection, got ${String(error)}`)
  assert.ok(['EBADACI', 'EBADTAR'].includes(error.code), error.code)
  assert.match(error.message, pattern)
}

const hostile: [string, (victim: string) => EntrySpec[], RegExp][] = [
  ['../victim/x', () => [{name: '../victim/x', data: 'pwned'}], /'\.\.' in the name/],
  ['rootfs/../../victim/x', () => [{name: 'rootfs/../../victim/x', data: 'pwned'}], /'\.\.' in the name/],
  ['/victim/x', (v) => [{name: `${v}/x`, data: 'pwned'}], /absolute name/],
  ['////victim/x', (v) => [{name: `////${v}/x`, data: 'pwned'}], /absolute name/],
  [
    'symlink loop -> ../victim, then loop/pwned',
    () => [
      {name: 'rootfs/loop', type: 'symlink', linkname: '../victim'},
      {name: 'rootfs/loop/pwned', data: 'pwned'},
    ],
    /parent "rootfs\/loop" is a symlink/,
  ],
  [
    'symlink loop -> /abs/victim, then loop/x',
    (v) => [
      {name: 'rootfs/loop', type: 'symlink', linkname: v},
      {name: 'rootfs/loop/x', data: 'pwned'},
    ],
    /parent "rootfs\/loop" is a symlink/,
  ],
  [
    'containerd SymlinkMultipleRelative',
    (v) => [
      {name: 'rootfs/dummy/etc', type: 'symlink', linkname: v},
      {name: 'rootfs/localetc', type: 'symlink', linkname: './dummy/etc'},
      {name: 'rootfs/localetc/unbroken', data: 'pwned'},
    ],
    /parent "rootfs\/localetc" is a symlink/,
  ],
  [
    'containerd SymlinkMultipleRelative, through the first link',
    (v) => [
      {name: 'rootfs/dummy/etc', type: 'symlink', linkname: v},
      {name: 'rootfs/localetc', type: 'symlink', linkname: './dummy/etc'},
      {name: 'rootfs/dummy/etc/unbroken', data: 'pwned'},
    ],
    /parent "rootfs\/dummy\/etc" is a symlink/,
  ],
  [
    'SEC-25: dir d/, then symlink d -> ../victim, then d/f',
    () => [
      {name: 'rootfs/d/'},
      {name: 'rootfs/d', type: 'symlink', linkname: '../../victim'},
      {name: 'rootfs/d/x', data: 'pwned'},
    ],
    /duplicate entry "rootfs\/d"/,
  ],
  [
    'SEC-25: a file under a directory, then a symlink replacing that directory',
    () => [
      {name: 'rootfs/d/f', data: 'ok'},
      {name: 'rootfs/d', type: 'symlink', linkname: '../victim'},
      {name: 'rootfs/d/x', data: 'pwned'},
    ],
    /replaces a directory/,
  ],
  ['hardlink to ../victim/x', () => [{name: 'rootfs/h', type: 'link', linkname: '../victim/x'}], /'\.\.' in the name/],
  [
    'hardlink to rootfs/../../victim/x',
    () => [{name: 'rootfs/h', type: 'link', linkname: 'rootfs/../../victim/x'}],
    /'\.\.' in the name/,
  ],
  ['hardlink to /abs/victim/x', (v) => [{name: 'rootfs/h', type: 'link', linkname: `${v}/x`}], /absolute name/],
  [
    'hardlink to a symlink pointing outside, then written through',
    (v) => [
      {name: 'rootfs/s', type: 'symlink', linkname: `${v}/x`},
      {name: 'rootfs/h', type: 'link', linkname: 'rootfs/s'},
      {name: 'rootfs/h', data: 'pwned'},
    ],
    /duplicate entry "rootfs\/h"/,
  ],
  [
    'a symlink pointing outside, then written through itself',
    (v) => [
      {name: 'rootfs/s', type: 'symlink', linkname: `${v}/x`},
      {name: 'rootfs/s', data: 'pwned'},
    ],
    /duplicate entry "rootfs\/s"/,
  ],
  [
    'hardlink through a symlinked directory',
    (v) => [
      {name: 'rootfs/dir', type: 'symlink', linkname: v},
      {name: 'rootfs/h', type: 'link', linkname: 'rootfs/dir/x'},
    ],
    /not an earlier entry/,
  ],
  [
    'CVE-2026-26960: symlink chain then hardlink through it',
    () => [
      {name: 'rootfs/a/b/c/up', type: 'symlink', linkname: '../..'},
      {name: 'rootfs/a/b/escape', type: 'symlink', linkname: 'c/up/../..'},
      {name: 'rootfs/exfil', type: 'link', linkname: 'rootfs/a/b/escape/../victim/x'},
    ],
    /'\.\.' in the name/,
  ],
  [
    'CVE-2026-26960 without dot-dot in the hardlink target',
    () => [
      {name: 'rootfs/a/b/c/up', type: 'symlink', linkname: '../..'},
      {name: 'rootfs/a/b/escape', type: 'symlink', linkname: 'c/up/../../../..'},
      {name: 'rootfs/exfil', type: 'link', linkname: 'rootfs/a/b/escape/victim/x'},
    ],
    /not an earlier entry/,
  ],
  [
    'hardlink to a directory',
    () => [{name: 'rootfs/d/'}, {name: 'rootfs/h', type: 'link', linkname: 'rootfs/d'}],
    /is a directory/,
  ],
  [
    'char device without allowDevices',
    () => [{name: 'rootfs/dev/mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o600}],
    /rootfs\/dev\/mem is a character device \(1:1\): device nodes are not allowed/,
  ],
  [
    'block device without allowDevices',
    () => [{name: 'rootfs/dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o600}],
    /rootfs\/dev\/sda is a block device \(8:0\): device nodes are not allowed/,
  ],
  [
    'duplicate rootfs/bin/app',
    () => [
      {name: 'rootfs/bin/app', data: 'a'},
      {name: 'rootfs/bin/app', data: 'b'},
    ],
    /duplicate entry "rootfs\/bin\/app"/,
  ],
  [
    'duplicate via ./rootfs/bin/app',
    () => [
      {name: 'rootfs/bin/app', data: 'a'},
      {name: './rootfs//bin/./app', data: 'b'},
    ],
    /duplicate entry "rootfs\/bin\/app"/,
  ],
  ['duplicate ./manifest', () => [{name: './manifest', data: '{}'}], /duplicate entry 'manifest'/],
  ['rootfsjunk', () => [{name: 'rootfsjunk', data: 'x'}], /only 'manifest' and 'rootfs/],
  ['manifest as a directory entry elsewhere', () => [{name: 'other/'}], /only 'manifest' and 'rootfs/],
]

for (const [name, entries, pattern] of hostile) {
  test(`hostile archive rejected, victim untouched: ${name}`, async () => {
    for (const rootfsOnly of [true, false]) {
      const {error} = await extractBeside((victim) => packImage(entries(victim)), {rootfsOnly})
      assertRejected(error, pattern)
    }
  })
}

test('containerd HardlinkSymlinkChmod: the outside file keeps mode 0400', async () => {
  let outside = ''
  await extractBeside(
    (victim) => {
      outside = path.join(victim, 'x')
      return packImage([
        {name: 'rootfs/also-exists', type: 'symlink', linkname: outside, mode: 0o777},
        {name: 'rootfs/sketchylink', type: 'link', linkname: 'rootfs/also-exists', mode: 0o777},
      ])
    },
    {rootfsOnly: true},
    (sb) => {
      assert.equal(fs.statSync(outside).mode & 0o7777, 0o400)
      assert.equal(fs.readlinkSync(path.join(sb.dest, 'sketchylink')), outside)
    },
  )
})

test('SEC-25 with NFC/NFD twins: distinct names on Linux, and never a write through the symlink', async () => {
  const nfc = 'rootfs/d\u00e9'
  const nfd = 'rootfs/de\u0301'
  const {error} = await extractBeside(
    await packImage([
      {name: `${nfc}/`},
      {name: nfd, type: 'symlink', linkname: '../victim'},
      {name: `${nfd}/x`, data: 'pwned'},
    ]),
  )
  assertRejected(error, /is a symlink/)
  await extractBeside(
    await packImage([
      {name: `${nfc}/`},
      {name: nfd, type: 'symlink', linkname: '../victim'},
      {name: `${nfc}/x`, data: 'ok'},
    ]),
    {rootfsOnly: true},
    (sb) => {
      assert.equal(fs.readFileSync(path.join(sb.dest, 'd\u00e9', 'x'), 'utf8'), 'ok')
    },
  )
})

test('rootfs//victim is normalised and lands inside dest', async () => {
  await extractBeside(await packImage([{name: 'rootfs//victim', data: 'inside'}]), {rootfsOnly: true}, (sb) => {
    assert.equal(fs.readFileSync(path.join(sb.dest, 'victim'), 'utf8'), 'inside')
  })
})

test('SEC-33: an absolute symlink target is kept exactly; relative ones too', async () => {
  const sb = makeSandbox()
  try {
    const file = sb.writeTar(
      await packImage([
        {name: 'rootfs/usr/bin/java', type: 'symlink', linkname: '/etc/alternatives/java'},
        {name: 'rootfs/usr/bin/rel', type: 'symlink', linkname: '../../../../..//x/./y'},
      ]),
    )
    extractAci(file, sb.dest, {rootfsOnly: true})
    assert.equal(fs.readlinkSync(path.join(sb.dest, 'usr/bin/java')), '/etc/alternatives/java')
    assert.equal(fs.readlinkSync(path.join(sb.dest, 'usr/bin/rel')), '../../../../..//x/./y')
  } finally {
    sb.cleanup()
  }
})

/** An image whose entries carry pax xattrs (built by hand: values are binary). */
function imageWithXattrs(xattrs: [string, Buffer][]): Buffer {
  const manifest = Buffer.concat([
    encodeUstarHeader({name: 'manifest', typeflag: '0', size: TEST_MANIFEST.length}),
    TEST_MANIFEST,
    blockPadding(TEST_MANIFEST.length),
  ])
  const data = Buffer.from('#!/bin/sh\n')
  return Buffer.concat([
    manifest,
    encodeUstarHeader({name: 'rootfs/', typeflag: '5', mode: 0o755}),
    encodeUstarHeader({name: 'rootfs/d/', typeflag: '5', mode: 0o755}),
    encodePaxHeader(xattrs.map(([k, v]) => [`SCHILY.xattr.${k}`, v] as const)),
    encodeUstarHeader({name: 'rootfs/d/f', typeflag: '0', size: data.length, mode: 0o755}),
    data,
    blockPadding(data.length),
    Buffer.alloc(1024),
  ])
}

test('xattrs: user.* and security.capability kept, trusted.overlay.* never written', async () => {
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex') // v2: cap_net_raw permitted
  const archive = imageWithXattrs([
    ['user.x', Buffer.from([1, 0, 0xff])],
    ['trusted.overlay.opaque', Buffer.from('y')],
    ...(isRoot ? ([['security.capability', cap]] as [string, Buffer][]) : []),
  ])
  await extractBeside(archive, {rootfsOnly: true}, (sb) => {
    const f = path.join(sb.dest, 'd/f')
    assert.deepEqual(getXattr(f, 'user.x'), Buffer.from([1, 0, 0xff]))
    assert.ok(!listXattrs(f).includes('trusted.overlay.opaque'))
    if (isRoot) assert.deepEqual(getXattr(f, 'security.capability'), cap)
  })
})

test(
  'metadata: setuid kept, ownership and mtimes preserved (files, dirs, symlinks), modes exact',
  {skip: skipUnless(isRoot, 'needs root')},
  async () => {
    const mtime = new Date(1_234_567_890_000)
    const archive = await packImage([
      {name: 'rootfs/bin/', mode: 0o711, uid: 7, gid: 8, mtime},
      {name: 'rootfs/bin/su', data: 'su', mode: 0o4755, uid: 0, gid: 0, mtime},
      {name: 'rootfs/bin/sg', data: 'sg', mode: 0o2711, uid: 1234, gid: 5678, mtime},
      {name: 'rootfs/bin/none', data: '', mode: 0o000, uid: 1, gid: 1, mtime},
      {name: 'rootfs/bin/link', type: 'symlink', linkname: 'su', uid: 42, gid: 43, mtime},
      {name: 'rootfs/tmp/', mode: 0o1777, mtime},
      {name: 'rootfs/fifo', type: 'fifo', mode: 0o640, uid: 3, gid: 4, mtime},
    ])
    await extractBeside(archive, {rootfsOnly: true}, (sb) => {
      const st = (p: string): fs.Stats => fs.lstatSync(path.join(sb.dest, p))
      assert.equal(st('bin/su').mode & 0o7777, 0o4755)
      assert.equal(st('bin/sg').mode & 0o7777, 0o2711)
      assert.equal(st('bin/sg').uid, 1234)
      assert.equal(st('bin/sg').gid, 5678)
      assert.equal(st('bin/none').mode & 0o7777, 0)
      assert.equal(st('bin').mode & 0o7777, 0o711)
      assert.equal(st('bin').uid, 7)
      assert.equal(st('tmp').mode & 0o7777, 0o1777)
      assert.equal(st('bin/link').uid, 42)
      assert.equal(st('fifo').isFIFO(), true)
      assert.equal(st('fifo').mode & 0o7777, 0o640)
      for (const p of ['bin', 'bin/su', 'bin/link', 'tmp', 'fifo']) assert.equal(st(p).mtimeMs, mtime.getTime(), p)
    })
  },
)

test('devices are created only with allowDevices', {skip: skipUnless(isRoot, 'needs root')}, async () => {
  const archive = await packImage([
    {name: 'rootfs/dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666},
    {name: 'rootfs/dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660},
  ])
  await extractBeside(archive, {rootfsOnly: true, allowDevices: true}, (sb) => {
    const st = fs.lstatSync(path.join(sb.dest, 'dev/null'))
    assert.equal(st.isCharacterDevice(), true)
    assert.equal(st.rdev, (1 << 8) | 3)
    assert.equal(fs.lstatSync(path.join(sb.dest, 'dev/loop9')).isBlockDevice(), true)
  })
})

test('without rootfsOnly both manifest and rootfs/ are written; ./ entries and progress are handled', async () => {
  const archive = await packTar([
    {name: './'},
    {name: './manifest', data: TEST_MANIFEST},
    {name: './rootfs/'},
    {name: './rootfs/a', data: 'a'},
  ])
  const progress: [number, number][] = []
  await extractBeside(archive, {onProgress: (d, t) => progress.push([d, t])}, (sb) => {
    assert.deepEqual(fs.readFileSync(path.join(sb.dest, 'manifest')), TEST_MANIFEST)
    assert.equal(fs.readFileSync(path.join(sb.dest, 'rootfs/a'), 'utf8'), 'a')
    assert.deepEqual(progress.at(-1), [archive.length, archive.length])
  })
})

test('an image without manifest or rootfs entry, or truncated, is rejected', async () => {
  assertRejected((await extractBeside(await packTar([{name: 'rootfs/'}]))).error, /no 'manifest'/)
  assertRejected(
    (
      await extractBeside(
        await packTar([
          {name: 'manifest', data: '{}'},
          {name: 'rootfs/a', data: 'a'},
        ]),
      )
    ).error,
    /no 'rootfs'/,
  )
  const full = await packImage([{name: 'rootfs/a', data: Buffer.alloc(5000, 1)}])
  assertRejected((await extractBeside(full.subarray(0, 2048))).error, /premature end/)
})

test('the destination must be an existing directory', () => {
  assert.throws(() => extractAci('/nonexistent.tar', '/nonexistent-dir-for-rkt-test'), /cannot extract into/)
})

test('AciExtractor extracts straight from a decompressed stream; a failure stays a failure', async () => {
  const tar = await packImage([{name: 'rootfs/bin/sh', data: Buffer.alloc(300_000, 5), mode: 0o755}])
  const sb = makeSandbox()
  try {
    const {stream} = await decompressAci(Readable.from([zlib.gzipSync(tar)]))
    const x = new AciExtractor(sb.dest, {rootfsOnly: true})
    for await (const chunk of stream as AsyncIterable<Buffer>) x.push(chunk)
    assert.deepEqual(x.finish(), {entries: 3, skipped: 1, bytes: tar.length})
    assert.deepEqual(fs.readFileSync(path.join(sb.dest, 'bin/sh')), Buffer.alloc(300_000, 5))

    const bad = new AciExtractor(fs.mkdtempSync(path.join(sb.root, 'd2-')), {rootfsOnly: true})
    bad.push(tar.subarray(0, 5000))
    assert.throws(() => bad.finish(), /premature end/)
    assert.throws(() => bad.push(tar.subarray(5000)), /premature end/)
  } finally {
    sb.cleanup()
  }
})
