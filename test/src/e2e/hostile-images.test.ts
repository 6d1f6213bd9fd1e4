// Hostile image archives (docs/security.md "Image archives", SEC-22…SEC-33) fetched and written out through the CLI,
// with a victim directory planted beside the data dir (<sandbox>/victim/x). Each archive is refused by
// `rkt fetch` (exit 254, a message naming the problem, nothing stored), or, when it is structurally valid and
// only dangerous once extracted, stored and then refused by `rkt image render` and `rkt image extract` (exit
// 254, no output directory). Whatever happens, the victim keeps its content, mode, link count and mtime, and
// nothing appears anywhere in the sandbox or beside it.
import {encodePaxHeader, encodeUstarHeader} from '@rkt/core/aci/index'
import {packTar} from '@rkt/core/aci/testing'
import type {EntrySpec} from '@rkt/core/aci/testing'
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'
import zlib from 'node:zlib'

import {requireTool, Sandbox} from '../util/harness.js'

const MiB = 1024 * 1024
const NAME = 'example.com/hostile'
const MANIFEST = JSON.stringify({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: NAME,
  labels: [
    {name: 'os', value: 'linux'},
    {name: 'arch', value: 'amd64'},
  ],
})

/** Where the archive is written, where the victim lives, where outputs go. */
interface Where {
  /** <sandbox>/victim, absolute. */
  readonly victim: string
}

interface HostileCase {
  readonly name: string
  /** The image file's bytes (a tar, or a compressed tar). */
  readonly build: (w: Where) => Uint8Array | Promise<Uint8Array>
  /** Which command refuses it: `rkt fetch`, or (a structurally valid archive) `rkt image render/extract`. */
  readonly refusedBy: 'fetch' | 'extract'
  /** What the message must say. */
  readonly message: RegExp
  readonly env?: Record<string, string>
  /** A program needed to build the archive. */
  readonly tool?: string
}

/** manifest, rootfs/, then `rest`, packed by tar-stream exactly as given (as an attacker would). */
function image(rest: EntrySpec[]): Promise<Buffer> {
  return packTar([{name: 'manifest', data: MANIFEST}, {name: 'rootfs/'}, ...rest])
}

/** A hand-made ustar entry: header, data, padding. */
function rawEntry(name: string, typeflag: string, data: Buffer = Buffer.alloc(0), size = data.length): Buffer {
  const header = encodeUstarHeader({name, typeflag, size, mode: typeflag === '5' ? 0o755 : 0o644, mtime: 1_600_000_000})
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)])
}

const END = Buffer.alloc(1024)

/** The start of a valid image made by hand: manifest and rootfs/. */
function rawStart(): Buffer {
  return Buffer.concat([rawEntry('manifest', '0', Buffer.from(MANIFEST)), rawEntry('rootfs/', '5')])
}

const CASES: HostileCase[] = [
  {
    name: '../victim/x',
    build: () => image([{name: '../victim/x', data: 'pwned\n'}]),
    refusedBy: 'fetch',
    message: /"\.\.\/victim\/x".*'\.\.' in the name/,
  },
  {
    name: 'rootfs/../../victim/x',
    build: () => image([{name: 'rootfs/../../victim/x', data: 'pwned\n'}]),
    refusedBy: 'fetch',
    message: /'\.\.' in the name/,
  },
  {
    name: 'absolute /…/victim/x',
    build: (w) => image([{name: `${w.victim}/x`, data: 'pwned\n'}]),
    refusedBy: 'fetch',
    message: /absolute name/,
  },
  {
    name: 'symlink rootfs/loop -> ../../victim, then rootfs/loop/pwned',
    build: () =>
      image([
        {name: 'rootfs/loop', type: 'symlink', linkname: '../../victim'},
        {name: 'rootfs/loop/pwned', data: 'pwned\n'},
      ]),
    refusedBy: 'fetch',
    message: /parent "rootfs\/loop" is a symlink/,
  },
  {
    name: 'symlink rootfs/loop -> /…/victim (absolute), then rootfs/loop/pwned',
    build: (w) =>
      image([
        {name: 'rootfs/loop', type: 'symlink', linkname: w.victim},
        {name: 'rootfs/loop/pwned', data: 'pwned\n'},
      ]),
    refusedBy: 'fetch',
    message: /parent "rootfs\/loop" is a symlink/,
  },
  {
    name: 'dir rootfs/d/, then symlink rootfs/d -> ../../victim, then rootfs/d/x',
    build: () =>
      image([
        {name: 'rootfs/d/'},
        {name: 'rootfs/d', type: 'symlink', linkname: '../../victim'},
        {name: 'rootfs/d/x', data: 'pwned\n'},
      ]),
    refusedBy: 'fetch',
    message: /duplicate entry "rootfs\/d"/,
  },
  {
    name: 'hardlink to ../victim/x',
    build: () => image([{name: 'rootfs/h', type: 'link', linkname: '../victim/x'}]),
    refusedBy: 'fetch',
    message: /'\.\.' in the name/,
  },
  {
    name: 'hardlink to an absolute path',
    build: (w) => image([{name: 'rootfs/h', type: 'link', linkname: `${w.victim}/x`}]),
    refusedBy: 'fetch',
    message: /absolute name/,
  },
  {
    // CVE-2026-26960: in-archive symlinks that only escape when chained, then a hardlink through them.
    name: 'CVE-2026-26960 symlink chain + hardlink',
    build: () =>
      image([
        {name: 'rootfs/a/'},
        {name: 'rootfs/a/b/'},
        {name: 'rootfs/a/b/c/'},
        {name: 'rootfs/a/b/c/up', type: 'symlink', linkname: '../..'},
        {name: 'rootfs/a/b/escape', type: 'symlink', linkname: 'c/up/../../..'},
        {name: 'rootfs/exfil', type: 'link', linkname: 'rootfs/a/b/escape/victim/x'},
      ]),
    refusedBy: 'fetch',
    message: /hardlink target "rootfs\/a\/b\/escape\/victim\/x" is not an earlier entry of the image/,
  },
  {
    name: 'a character device (rootfs/dev/mem, 1:1)',
    build: () =>
      image([{name: 'rootfs/dev/'}, {name: 'rootfs/dev/mem', type: 'character-device', devmajor: 1, devminor: 1}]),
    // Refused at fetch already: rendering refuses device nodes, so such an image must not get into the store.
    refusedBy: 'fetch',
    message: /rootfs\/dev\/mem is a character device \(1:1\): device nodes are not allowed/,
  },
  {
    name: 'duplicate manifest and ./manifest',
    build: () => image([{name: './manifest', data: MANIFEST.replace(NAME, 'example.com/other')}]),
    refusedBy: 'fetch',
    message: /duplicate entry 'manifest'/,
  },
  {
    name: 'duplicate rootfs/bin/app',
    build: () =>
      image([
        {name: 'rootfs/bin/'},
        {name: 'rootfs/bin/app', data: 'first\n', mode: 0o755},
        {name: 'rootfs/bin/app', data: 'second\n', mode: 0o755},
      ]),
    refusedBy: 'fetch',
    message: /duplicate entry "rootfs\/bin\/app"/,
  },
  {
    name: 'rootfsjunk beside rootfs/',
    build: () => image([{name: 'rootfsjunk', data: 'junk\n'}]),
    refusedBy: 'fetch',
    message: /"rootfsjunk".*an image holds only 'manifest' and 'rootfs\/\.\.\.'/,
  },
  {
    // File smuggling (SEC-32): one parser would read 512 data bytes, another 1024 with a header inside.
    name: 'a pax size that disagrees with the ustar size',
    build: () => {
      const hidden = rawEntry('rootfs/smuggled', '0', Buffer.from('pwned\n'))
      const data = Buffer.concat([Buffer.alloc(512, 0x61), hidden.subarray(0, 512)])
      return Buffer.concat([
        rawStart(),
        encodePaxHeader([['size', '1024']]),
        encodeUstarHeader({name: 'rootfs/f', typeflag: '0', size: 512, mode: 0o644}),
        data,
        END,
      ])
    },
    refusedBy: 'fetch',
    message: /pax size 1024 disagrees with the header size 512/,
  },
  {
    name: 'a gzip bomb: zeros expanding past RKT_MAX_IMAGE_SIZE=64MiB',
    build: () => zlib.gzipSync(Buffer.alloc(80 * MiB), {level: 9}),
    refusedBy: 'fetch',
    env: {RKT_MAX_IMAGE_SIZE: '64MiB'},
    message: /exceeds the limit maxUncompressedBytes = 64MiB[\s\S]*RKT_MAX_IMAGE_SIZE=128MiB/,
  },
  {
    name: 'a gzip bomb: a valid image whose file of zeros expands past RKT_MAX_IMAGE_SIZE=64MiB',
    build: () => {
      const zeros = 80 * MiB
      return zlib.gzipSync(
        Buffer.concat([
          rawStart(),
          encodeUstarHeader({name: 'rootfs/z', typeflag: '0', size: zeros, mode: 0o644}),
          Buffer.alloc(zeros),
          END,
        ]),
        {level: 9},
      )
    },
    refusedBy: 'fetch',
    env: {RKT_MAX_IMAGE_SIZE: '64MiB'},
    message: /"rootfs\/z".* exceeds the limit maxUncompressedBytes = 64MiB[\s\S]*RKT_MAX_IMAGE_SIZE=128MiB/,
  },
  {
    name: 'an xz bomb: zeros expanding past RKT_MAX_IMAGE_SIZE=64MiB (decompressed by xz)',
    tool: 'xz',
    build: async () => (await execa('xz', ['-9', '-c'], {input: Buffer.alloc(80 * MiB), encoding: 'buffer'})).stdout,
    refusedBy: 'fetch',
    env: {RKT_MAX_IMAGE_SIZE: '64MiB'},
    message: /exceeds the limit maxUncompressedBytes = 64MiB[\s\S]*RKT_MAX_IMAGE_SIZE=128MiB/,
  },
  {
    name: 'a bzip2 bomb: zeros expanding past RKT_MAX_IMAGE_SIZE=64MiB (decompressed by bzip2)',
    tool: 'bzip2',
    build: async () => (await execa('bzip2', ['-9', '-c'], {input: Buffer.alloc(80 * MiB), encoding: 'buffer'})).stdout,
    refusedBy: 'fetch',
    env: {RKT_MAX_IMAGE_SIZE: '64MiB'},
    message: /exceeds the limit maxUncompressedBytes = 64MiB[\s\S]*RKT_MAX_IMAGE_SIZE=128MiB/,
  },
  {
    name: 'more entries than RKT_MAX_IMAGE_ENTRIES=50',
    build: () => image(Array.from({length: 60}, (_, i) => ({name: `rootfs/f${i}`, data: `${i}\n`}))),
    refusedBy: 'fetch',
    env: {RKT_MAX_IMAGE_ENTRIES: '50'},
    message: /the number of entries exceeds the limit maxEntries = 50[\s\S]*RKT_MAX_IMAGE_ENTRIES=100/,
  },
  {
    name: 'a 2 MiB pax header over RKT_MAX_TAR_HEADER_SIZE=1MiB',
    build: () =>
      Buffer.concat([
        rawStart(),
        encodePaxHeader([['comment', 'a'.repeat(2 * MiB)]]),
        rawEntry('rootfs/f', '0', Buffer.from('f\n')),
        END,
      ]),
    refusedBy: 'fetch',
    env: {RKT_MAX_TAR_HEADER_SIZE: '1MiB'},
    message:
      /metadata header of \d+ bytes .*exceeds the limit maxHeaderBytes = 1MiB[\s\S]*RKT_MAX_TAR_HEADER_SIZE=2MiB/,
  },
]

/** Names an escape would create beside the sandbox (in its parent directory). */
const ESCAPE_NAMES = new Set(['victim', 'pwned', 'exfil', 'smuggled'])

/** A sandbox with the victim planted beside the data dir, and a snapshot of everything but the data dir. */
function plant(t: TestContext): {
  s: Sandbox
  victim: string
  out: string
  snapshot: () => string
  beside: () => string[]
} {
  const s = Sandbox.create(t)
  const victim = path.join(s.dir, 'victim')
  fs.mkdirSync(victim, {mode: 0o755})
  const x = path.join(victim, 'x')
  fs.writeFileSync(x, 'precious\n', {mode: 0o400})
  // Old timestamps: any write (or a file created and removed again) would move them to now.
  const old = new Date('2020-01-01T00:00:00Z')
  fs.utimesSync(x, old, old)
  fs.utimesSync(victim, old, old)
  const out = path.join(s.dir, 'out')
  const snapshot = (): string => {
    const lines: string[] = []
    const walk = (dir: string): void => {
      for (const name of fs.readdirSync(dir).sort()) {
        const p = path.join(dir, name)
        if (p === s.data) continue
        const st = fs.lstatSync(p)
        let extra = ''
        if (st.isFile()) extra = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')
        else if (st.isSymbolicLink()) extra = fs.readlinkSync(p)
        lines.push(
          `${path.relative(s.dir, p)} mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid} nlink=${st.nlink} ` +
            `ino=${st.ino} mtime=${st.mtimeMs} ${extra}`,
        )
        if (st.isDirectory()) walk(p)
      }
    }
    walk(s.dir)
    return lines.join('\n')
  }
  const beside = (): string[] =>
    fs
      .readdirSync(path.dirname(s.dir))
      .filter((n) => ESCAPE_NAMES.has(n))
      .sort()
  return {s, victim, out, snapshot, beside}
}

function assertVictim(victim: string): void {
  const x = path.join(victim, 'x')
  assert.equal(fs.readFileSync(x, 'utf8'), 'precious\n', 'the victim content is unchanged')
  const st = fs.lstatSync(x)
  assert.ok(st.isFile())
  assert.equal(st.mode & 0o7777, 0o400, 'the victim mode is unchanged')
  assert.equal(st.nlink, 1, 'nothing hard-links the victim')
  assert.equal(st.mtime.toISOString(), '2020-01-01T00:00:00.000Z', 'the victim was not written')
  assert.deepEqual(fs.readdirSync(victim), ['x'], 'nothing was created in the victim directory')
}

describe('hostile images are refused, and nothing outside the sandbox changes', () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      if (c.tool !== undefined && !(await requireTool(t, c.tool))) return
      const {s, victim, out, snapshot, beside} = plant(t)
      const aci = path.join(s.work, 'hostile.aci')
      fs.writeFileSync(aci, await c.build({victim}))
      const before = snapshot()
      const besideBefore = beside()
      const env = c.env ?? {}

      const fetch = await s.rkt(['--insecure-options=image', 'fetch', aci], {env})
      assertVictim(victim)
      if (c.refusedBy === 'fetch') {
        assert.equal(fetch.exitCode, 254, `fetch must fail: ${fetch.stdout}${fetch.stderr}`)
        assert.match(fetch.stderr, c.message)
        assert.match(fetch.stderr, /^rkt: cannot fetch image /m)
        assert.equal(fetch.stdout, '', 'no image ID is printed')
        assert.deepEqual(await s.images(), [])
        assert.deepEqual(s.storeFiles(), [], 'no blob or staging file is left behind')
      } else {
        assert.equal(fetch.exitCode, 0, `the archive is structurally valid: ${fetch.stderr}`)
        const id = fetch.stdout.trim()
        assert.match(id, /^sha512-[0-9a-f]{32}$/)
        assert.equal((await s.images()).length, 1)
        for (const cmd of ['render', 'extract'] as const) {
          for (const rootfsOnly of [false, true]) {
            const args = ['image', cmd, ...(rootfsOnly ? ['--rootfs-only'] : []), id, out]
            const r = await s.rkt(args, {env})
            assertVictim(victim)
            assert.equal(r.exitCode, 254, `${args.join(' ')} must fail: ${r.stderr}`)
            assert.match(r.stderr, c.message, args.join(' '))
            assert.equal(fs.existsSync(out), false, `${args.join(' ')} leaves no output directory`)
          }
        }
      }

      assertVictim(victim)
      assert.equal(snapshot(), before, 'nothing in the sandbox outside the data dir changed (no output, no temp dir)')
      assert.deepEqual(beside(), besideBefore, 'nothing was created beside the sandbox')
    })
  }

  test('an absolute symlink target renders and extracts with exactly that target (SEC-33, SEC-27)', async (t) => {
    const {s, victim, out, snapshot} = plant(t)
    const aci = path.join(s.work, 'java.aci')
    fs.writeFileSync(
      aci,
      await image([
        {name: 'rootfs/usr/'},
        {name: 'rootfs/usr/bin/'},
        {name: 'rootfs/usr/bin/java', type: 'symlink', linkname: '/etc/alternatives/java'},
        {name: 'rootfs/usr/bin/escape', type: 'symlink', linkname: '../../../../victim/x'},
        // SEC-27: a hardlink to a symlink that points outside, archived with mode 0777: no metadata may
        // reach the victim through it.
        {name: 'rootfs/sketchy', type: 'symlink', linkname: `${victim}/x`, mode: 0o777},
        {name: 'rootfs/sketchylink', type: 'link', linkname: 'rootfs/sketchy', mode: 0o777},
      ]),
    )
    const fetch = await s.rkt(['--insecure-options=image', 'fetch', aci])
    assert.equal(fetch.exitCode, 0, fetch.stderr)
    const id = fetch.stdout.trim()
    const before = snapshot()

    for (const cmd of ['render', 'extract']) {
      const r = await s.rkt(['image', cmd, id, out])
      assert.equal(r.exitCode, 0, `${cmd}: ${r.stderr}`)
      const java = path.join(out, 'rootfs/usr/bin/java')
      assert.ok(fs.lstatSync(java).isSymbolicLink())
      assert.equal(fs.readlinkSync(java), '/etc/alternatives/java', `${cmd} keeps the target as archived`)
      // A relative target pointing outside is just a (dangling, inside any pod) link: kept, never followed.
      assert.equal(fs.readlinkSync(path.join(out, 'rootfs/usr/bin/escape')), '../../../../victim/x')
      for (const link of ['rootfs/sketchy', 'rootfs/sketchylink']) {
        assert.ok(fs.lstatSync(path.join(out, link)).isSymbolicLink(), `${cmd}: ${link} is a symlink`)
        assert.equal(fs.readlinkSync(path.join(out, link)), `${victim}/x`)
      }
      assertVictim(victim)
      assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'manifest'), 'utf8')) as {name: string}).name, NAME)
      fs.rmSync(out, {recursive: true})
    }
    const r = await s.rkt(['image', 'render', '--rootfs-only', id, out])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(fs.readlinkSync(path.join(out, 'usr/bin/java')), '/etc/alternatives/java')
    fs.rmSync(out, {recursive: true})

    assertVictim(victim)
    assert.equal(snapshot(), before)
  })

  test('a dependency whose symlink points outside is replaced, never followed, by the image above it', async (t) => {
    // Each archive alone is valid; only rendering one over the other could follow B's rootfs/etc into the
    // victim. appc R2: the upper layer's directory replaces the lower layer's symlink.
    const {s, victim, out, snapshot} = plant(t)
    const base = path.join(s.work, 'base.aci')
    fs.writeFileSync(
      base,
      await packTar([
        {name: 'manifest', data: MANIFEST.replace(NAME, 'example.com/evil-base')},
        {name: 'rootfs/'},
        {name: 'rootfs/etc', type: 'symlink', linkname: victim},
        {name: 'rootfs/rel', type: 'symlink', linkname: '../../victim'},
      ]),
    )
    const app = path.join(s.work, 'app.aci')
    fs.writeFileSync(
      app,
      await packTar([
        {
          name: 'manifest',
          data: JSON.stringify({...JSON.parse(MANIFEST), dependencies: [{imageName: 'example.com/evil-base'}]}),
        },
        {name: 'rootfs/'},
        {name: 'rootfs/etc/'},
        {name: 'rootfs/etc/pwned', data: 'pwned\n'},
        {name: 'rootfs/rel/x', data: 'pwned\n'},
      ]),
    )
    for (const f of [base, app]) {
      const r = await s.rkt(['--insecure-options=image', 'fetch', f])
      assert.equal(r.exitCode, 0, r.stderr)
    }
    const before = snapshot()
    const r = await s.rkt(['image', 'render', NAME, out])
    assertVictim(victim)
    assert.equal(r.exitCode, 0, r.stderr)
    for (const d of ['etc', 'rel']) {
      const st = fs.lstatSync(path.join(out, 'rootfs', d))
      assert.ok(st.isDirectory(), `rootfs/${d} became a real directory`)
    }
    assert.equal(fs.readFileSync(path.join(out, 'rootfs/etc/pwned'), 'utf8'), 'pwned\n')
    assert.equal(fs.readFileSync(path.join(out, 'rootfs/rel/x'), 'utf8'), 'pwned\n')
    fs.rmSync(out, {recursive: true})
    assertVictim(victim)
    assert.equal(snapshot(), before)
  })
})
