import {skipUnless} from '../testing.js'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'
import zlib from 'node:zlib'

import {formatError, RktError, UsageError} from '../errors.js'
import {getXattr, mknod, setXattr} from '../sys/native.js'
import {buildAci} from './build.js'
import {extractAci} from './extract.js'
import {imageIdOfTarFile} from './image-id.js'
import {TarReader} from './tar-reader.js'
import type {TarEntry} from './tar-reader.js'
import {AciValidator} from './validate.js'
import {TEST_MANIFEST} from './testing.js'

const isRoot = process.getuid?.() === 0
const LONG = `${'long-directory-name-'.repeat(4)}/${'file-with-a-long-name-'.repeat(4)}.txt`
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex')

/** A layout exercising every kind of entry the builder supports. */
function makeLayout(t: {after(fn: () => void): void}): {dir: string; layout: string} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-build-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const layout = path.join(dir, 'layout')
  const r = (p: string): string => path.join(layout, 'rootfs', p)
  fs.mkdirSync(r('bin'), {recursive: true})
  fs.mkdirSync(path.dirname(r(LONG)), {recursive: true})
  fs.writeFileSync(path.join(layout, 'manifest'), TEST_MANIFEST)
  fs.writeFileSync(r('bin/busybox'), crypto.randomBytes(300_000))
  fs.chmodSync(r('bin/busybox'), 0o4755)
  fs.linkSync(r('bin/busybox'), r('bin/sh'))
  fs.linkSync(r('bin/busybox'), r('bin/ls'))
  fs.symlinkSync('/etc/alternatives/java', r('bin/java'))
  fs.writeFileSync(r(LONG), 'long')
  fs.writeFileSync(r('ünïcødé'), 'u')
  fs.writeFileSync(r('bin/zero'), '')
  fs.chmodSync(r('bin/zero'), 0)
  fs.mkdirSync(r('tmp'))
  fs.chmodSync(r('tmp'), 0o1777)
  mknod(r('fifo'), 0o010644, 0, 0)
  setXattr(r('bin/busybox'), 'user.bin', Buffer.from([0, 1, 2, 0xff, 0x0a]))
  if (isRoot) {
    setXattr(r('bin/busybox'), 'security.capability', CAP)
    fs.chownSync(r('bin/busybox'), 3_000_000_000, 1234) // chown after the caps would clear them: re-set below
    setXattr(r('bin/busybox'), 'security.capability', CAP)
    fs.chmodSync(r('bin/busybox'), 0o4755)
  }
  // A socket is skipped, as actool does.
  mknod(r('sock'), 0o140644, 0, 0)
  for (const p of [r('bin/busybox'), r(LONG), r('tmp'), r('bin'), path.join(layout, 'manifest')])
    fs.utimesSync(p, 1_500_000_000, 1_500_000_000)
  return {dir, layout}
}

function entries(file: string): TarEntry[] {
  const out: TarEntry[] = []
  const r = new TarReader({onEntry: (e) => out.push(e), onData: () => {}, onEntryEnd: () => {}})
  r.push(fs.readFileSync(file))
  r.end()
  return out
}

test('builds are reproducible: same layout, same bytes, same image ID (gzip and plain)', async (t) => {
  const {dir, layout} = makeLayout(t)
  const first = {
    gzip: await buildAci({
      layoutDir: layout,
      outFile: path.join(dir, 'a-gzip.aci'),
      manifest: TEST_MANIFEST,
      compression: 'gzip',
    }),
    none: await buildAci({
      layoutDir: layout,
      outFile: path.join(dir, 'a-none.aci'),
      manifest: TEST_MANIFEST,
      compression: 'none',
    }),
  }
  // Building again a second later must not matter (actool stamps the manifest with "now").
  await new Promise((r) => setTimeout(r, 1100))
  for (const compression of ['gzip', 'none'] as const) {
    const a = first[compression]
    const b = await buildAci({
      layoutDir: layout,
      outFile: path.join(dir, `b-${compression}.aci`),
      manifest: TEST_MANIFEST,
      compression,
    })
    assert.equal(a.imageId, b.imageId)
    assert.match(a.imageId, /^sha512-[0-9a-f]{128}$/)
    assert.deepEqual(
      fs.readFileSync(path.join(dir, `a-${compression}.aci`)),
      fs.readFileSync(path.join(dir, `b-${compression}.aci`)),
    )
    const tar =
      compression === 'gzip'
        ? zlib.gunzipSync(fs.readFileSync(path.join(dir, `a-${compression}.aci`)))
        : fs.readFileSync(path.join(dir, `a-${compression}.aci`))
    assert.equal(a.imageId, `sha512-${crypto.createHash('sha512').update(tar).digest('hex')}`)
    assert.equal(a.tarBytes, tar.length)
    assert.equal(a.fileBytes, fs.statSync(path.join(dir, `a-${compression}.aci`)).size)
  }
})

test('the archive is valid, sorted, with the manifest last (0644, root, layout mtime); GNU tar reads it', async (t) => {
  const {dir, layout} = makeLayout(t)
  const out = path.join(dir, 'x.aci')
  const res = await buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'none'})
  assert.equal(imageIdOfTarFile(out), res.imageId)
  const v = new AciValidator({allowDevices: true})
  v.push(fs.readFileSync(out))
  assert.deepEqual(v.finish().manifest, TEST_MANIFEST)
  const list = entries(out)
  const names = list.map((e) => e.name)
  assert.equal(names[0], 'rootfs/')
  assert.equal(names.at(-1), 'manifest')
  assert.ok(!names.some((n) => n.endsWith('sock')))
  const m = list.at(-1)!
  assert.deepEqual([m.mode, m.uid, m.gid, m.mtime], [0o644, 0, 0, 1_500_000_000])
  assert.equal(list.find((e) => e.name === 'rootfs/bin/ls')?.type, 'hardlink')
  assert.equal(list.find((e) => e.name === 'rootfs/bin/sh')?.linkname, 'rootfs/bin/busybox')
  assert.equal(list.find((e) => e.name === 'rootfs/bin/zero')?.mode, 0)
  const gnu = execFileSync('tar', ['-tf', out], {encoding: 'utf8'}).trim().split('\n')
  assert.deepEqual(gnu, names)
  // GNU tar extracts xattrs from our SCHILY records too.
  const x = path.join(dir, 'gnu-x')
  fs.mkdirSync(x)
  execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xf', out, '-C', x])
  assert.deepEqual(getXattr(path.join(x, 'rootfs/bin/busybox'), 'user.bin'), Buffer.from([0, 1, 2, 0xff, 0x0a]))
})

test('build → extract round-trips hardlinks, xattrs, modes, ownership, times, special files', async (t) => {
  const {dir, layout} = makeLayout(t)
  const out = path.join(dir, 'x.aci')
  await buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'gzip'})
  const tar = path.join(dir, 'x.tar')
  fs.writeFileSync(tar, zlib.gunzipSync(fs.readFileSync(out)))
  const dest = path.join(dir, 'dest')
  fs.mkdirSync(dest)
  extractAci(tar, dest, {rootfsOnly: true, allowDevices: true})
  const st = (p: string): fs.Stats => fs.lstatSync(path.join(dest, p))
  assert.equal(st('bin/sh').ino, st('bin/busybox').ino)
  assert.equal(st('bin/ls').ino, st('bin/busybox').ino)
  assert.equal(st('bin/busybox').mode & 0o7777, 0o4755)
  assert.equal(st('bin/zero').mode & 0o7777, 0)
  assert.equal(st('tmp').mode & 0o7777, 0o1777)
  assert.equal(st('fifo').isFIFO(), true)
  assert.equal(fs.readlinkSync(path.join(dest, 'bin/java')), '/etc/alternatives/java')
  assert.equal(fs.readFileSync(path.join(dest, LONG), 'utf8'), 'long')
  assert.equal(fs.readFileSync(path.join(dest, 'ünïcødé'), 'utf8'), 'u')
  assert.equal(st('bin/busybox').mtimeMs, 1_500_000_000_000)
  assert.equal(st('bin').mtimeMs, 1_500_000_000_000)
  assert.deepEqual(
    fs.readFileSync(path.join(dest, 'bin/busybox')),
    fs.readFileSync(path.join(layout, 'rootfs/bin/busybox')),
  )
  assert.deepEqual(getXattr(path.join(dest, 'bin/busybox'), 'user.bin'), Buffer.from([0, 1, 2, 0xff, 0x0a]))
  if (isRoot) {
    assert.equal(st('bin/busybox').uid, 3_000_000_000)
    assert.equal(st('bin/busybox').gid, 1234)
    assert.deepEqual(getXattr(path.join(dest, 'bin/busybox'), 'security.capability'), CAP)
  }
})

test(
  'refuses a device node, as fetch does (one rule: core/src/aci/device-nodes.ts)',
  {skip: skipUnless(isRoot, 'needs root')},
  async (t) => {
    const {dir, layout} = makeLayout(t)
    mknod(path.join(layout, 'rootfs/null'), 0o020666, 1, 3)
    const out = path.join(dir, 'x.aci')
    await assert.rejects(
      buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'none'}),
      (err: RktError) =>
        /rootfs\/null is a character device \(1:3\): device nodes are not allowed[\s\S]*remove rootfs\/null from the image layout/.test(
          formatError(err),
        ),
    )
    assert.equal(fs.existsSync(out), false)
  },
)

test('ownerRoot stores 0:0', {skip: skipUnless(isRoot, 'needs root')}, async (t) => {
  const {dir, layout} = makeLayout(t)
  const out = path.join(dir, 'x.aci')
  await buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'none', ownerRoot: true})
  assert.ok(entries(out).every((e) => e.uid === 0 && e.gid === 0))
})

test('layout and output checks, as actool', async (t) => {
  const {dir, layout} = makeLayout(t)
  const out = path.join(dir, 'x.aci')
  await assert.rejects(
    buildAci({layoutDir: layout, outFile: path.join(dir, 'x.tar'), manifest: TEST_MANIFEST, compression: 'gzip'}),
    UsageError,
  )
  await buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'gzip'})
  await assert.rejects(
    buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'gzip'}),
    (e: unknown) => e instanceof RktError && e.code === 'EEXIST',
  )
  await buildAci({layoutDir: layout, outFile: out, manifest: TEST_MANIFEST, compression: 'none', overwrite: true})
  fs.writeFileSync(path.join(layout, 'junk'), 'x')
  await assert.rejects(
    buildAci({layoutDir: layout, outFile: path.join(dir, 'y.aci'), manifest: TEST_MANIFEST, compression: 'gzip'}),
    /unrecognized file path in layout: "junk"/,
  )
  fs.rmSync(path.join(layout, 'junk'))
  fs.rmSync(path.join(layout, 'rootfs'), {recursive: true})
  await assert.rejects(
    buildAci({layoutDir: layout, outFile: path.join(dir, 'y.aci'), manifest: TEST_MANIFEST, compression: 'gzip'}),
    /no rootfs directory/,
  )
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.includes('.tmp-')),
    [],
    'no temp file left behind',
  )
})
