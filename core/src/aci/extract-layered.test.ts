import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'

import {RktError} from '../errors.js'
import {extractAci} from './extract.js'
import type {ExtractOptions} from './extract.js'
import {makeSandbox, packImage} from './testing.js'
import type {EntrySpec, Sandbox} from './testing.js'

/** Renders layers bottom-up into one dest (appc R1), the upper ones with `layered`, beside a victim. */
async function render(
  layers: ((victim: string) => EntrySpec[])[],
  check: (sb: Sandbox) => void,
  options: ExtractOptions = {},
): Promise<void> {
  const sb = makeSandbox()
  try {
    const files = await Promise.all(
      layers.map(async (l, i) => sb.writeTar(await packImage(l(sb.victim)), `layer${i}.tar`)),
    )
    const before = sb.snapshot()
    files.forEach((f, i) => extractAci(f, sb.dest, {rootfsOnly: true, layered: i > 0, ...options}))
    assert.equal(sb.snapshot(), before, 'the victim is unchanged')
    assert.deepEqual(sb.sharedInodes(), [])
    check(sb)
  } finally {
    sb.cleanup()
  }
}

test('R2: a lower layer symlink is replaced by an upper directory, not followed', async () => {
  for (const target of ['../victim', 'ABS']) {
    await render(
      [
        (v) => [{name: 'rootfs/lib', type: 'symlink', linkname: target === 'ABS' ? v : target}],
        () => [{name: 'rootfs/lib/'}, {name: 'rootfs/lib/libc.so', data: 'libc'}],
      ],
      (sb) => {
        assert.equal(fs.lstatSync(path.join(sb.dest, 'lib')).isDirectory(), true)
        assert.equal(fs.readFileSync(path.join(sb.dest, 'lib/libc.so'), 'utf8'), 'libc')
        assert.equal(fs.existsSync(path.join(sb.victim, 'libc.so')), false)
      },
    )
  }
})

test('R2: a lower symlink as a parent component (no directory entry above) is replaced too', async () => {
  await render(
    [(v) => [{name: 'rootfs/usr/lib', type: 'symlink', linkname: v}], () => [{name: 'rootfs/usr/lib/x/y', data: 'y'}]],
    (sb) => {
      assert.equal(fs.lstatSync(path.join(sb.dest, 'usr/lib')).isDirectory(), true)
      assert.equal(fs.readFileSync(path.join(sb.dest, 'usr/lib/x/y'), 'utf8'), 'y')
    },
  )
})

test('file over file is replaced (a new inode: a lower hardlink twin keeps the old content)', async () => {
  await render(
    [
      () => [
        {name: 'rootfs/etc/conf', data: 'old', mode: 0o644},
        {name: 'rootfs/etc/twin', type: 'link', linkname: 'rootfs/etc/conf'},
      ],
      () => [{name: 'rootfs/etc/conf', data: 'new', mode: 0o600}],
    ],
    (sb) => {
      assert.equal(fs.readFileSync(path.join(sb.dest, 'etc/conf'), 'utf8'), 'new')
      assert.equal(fs.statSync(path.join(sb.dest, 'etc/conf')).mode & 0o777, 0o600)
      assert.equal(fs.readFileSync(path.join(sb.dest, 'etc/twin'), 'utf8'), 'old')
    },
  )
})

test('an upper file over a lower symlink pointing outside replaces the symlink', async () => {
  await render(
    [
      (v) => [{name: 'rootfs/x', type: 'symlink', linkname: path.join(v, 'x')}],
      () => [{name: 'rootfs/x', data: 'mine'}],
    ],
    (sb) => {
      assert.equal(fs.lstatSync(path.join(sb.dest, 'x')).isFile(), true)
      assert.equal(fs.readFileSync(path.join(sb.dest, 'x'), 'utf8'), 'mine')
    },
  )
})

test('a lower directory replaced by an upper non-directory is removed; a lower file under an upper dir too', async () => {
  await render(
    [
      () => [
        {name: 'rootfs/d/a/b', data: 'b'},
        {name: 'rootfs/p', data: 'file'},
      ],
      () => [
        {name: 'rootfs/d', type: 'symlink', linkname: '/elsewhere'},
        {name: 'rootfs/p/q', data: 'q'},
        {name: 'rootfs/d2/f', data: 'f'},
      ],
    ],
    (sb) => {
      assert.equal(fs.readlinkSync(path.join(sb.dest, 'd')), '/elsewhere')
      assert.equal(fs.readFileSync(path.join(sb.dest, 'p/q'), 'utf8'), 'q')
      assert.equal(fs.readFileSync(path.join(sb.dest, 'd2/f'), 'utf8'), 'f')
    },
  )
})

test('upper directories update the metadata of lower ones and keep their contents', async () => {
  await render(
    [
      () => [
        {name: 'rootfs/d/', mode: 0o755},
        {name: 'rootfs/d/lower', data: 'l'},
      ],
      () => [
        {name: 'rootfs/d/', mode: 0o700},
        {name: 'rootfs/d/upper', data: 'u'},
      ],
    ],
    (sb) => {
      assert.deepEqual(fs.readdirSync(path.join(sb.dest, 'd')).sort(), ['lower', 'upper'])
      assert.equal(fs.statSync(path.join(sb.dest, 'd')).mode & 0o777, 0o700)
    },
  )
})

test('without layered, an existing path is an error, not an overwrite', async () => {
  const sb = makeSandbox()
  try {
    const a = sb.writeTar(await packImage([{name: 'rootfs/lib', type: 'symlink', linkname: '../victim'}]), 'a.tar')
    const b = sb.writeTar(await packImage([{name: 'rootfs/lib/x', data: 'x'}]), 'b.tar')
    const c = sb.writeTar(await packImage([{name: 'rootfs/lib', data: 'x'}]), 'c.tar')
    const before = sb.snapshot()
    extractAci(a, sb.dest, {rootfsOnly: true})
    assert.throws(
      () => extractAci(b, sb.dest, {rootfsOnly: true}),
      (e: unknown) => e instanceof RktError && /"lib" exists and is a symlink/.test(e.message),
    )
    assert.throws(
      () => extractAci(c, sb.dest, {rootfsOnly: true}),
      (e: unknown) => e instanceof RktError && /"lib" already exists/.test(e.message),
    )
    assert.equal(sb.snapshot(), before)
  } finally {
    sb.cleanup()
  }
})

test('R3: the whitelist filter skips unlisted files, keeps directories, and links to skipped targets', async () => {
  const keep = new Set(['/bin/sh', '/etc/keep', '/etc/link-to-keep', '/etc/link-to-drop'])
  await render(
    [
      () => [
        {name: 'rootfs/bin/sh', data: 'sh'},
        {name: 'rootfs/bin/ls', data: 'ls'},
        {name: 'rootfs/etc/keep', data: 'k'},
        {name: 'rootfs/etc/drop', data: 'd'},
        {name: 'rootfs/etc/link-to-keep', type: 'link', linkname: 'rootfs/etc/keep'},
        {name: 'rootfs/etc/link-to-drop', type: 'link', linkname: 'rootfs/etc/drop'},
        {name: 'rootfs/var/empty/'},
      ],
    ],
    (sb) => {
      const list = (d: string): string[] => fs.readdirSync(path.join(sb.dest, d)).sort()
      assert.deepEqual(list('bin'), ['sh'])
      assert.deepEqual(list('etc'), ['keep', 'link-to-keep'])
      assert.deepEqual(list('var'), ['empty'])
    },
    {filter: (p) => keep.has(p)},
  )
})
