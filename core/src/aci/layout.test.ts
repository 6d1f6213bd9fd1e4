import assert from 'node:assert/strict'
import {test} from 'node:test'

import {LayoutChecker, normalizeEntryName} from './layout.js'
import type {TarEntry} from './tar-reader.js'

function entry(name: string, type: TarEntry['type'] = 'file', linkname = ''): TarEntry {
  return {
    name,
    type,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: 0,
    mtime: 0,
    linkname,
    devmajor: 0,
    devminor: 0,
    xattrs: undefined,
    offset: 0,
  }
}

test('names are normalised: ./, //, . components, trailing /', () => {
  assert.equal(normalizeEntryName('./manifest'), 'manifest')
  assert.equal(normalizeEntryName('rootfs//bin/./sh'), 'rootfs/bin/sh')
  assert.equal(normalizeEntryName('rootfs/bin/'), 'rootfs/bin')
  assert.equal(normalizeEntryName('./'), '')
  assert.equal(normalizeEntryName('rootfs/..a/b..'), 'rootfs/..a/b..')
  for (const bad of ['', '/rootfs/x', '//x', 'rootfs/../x', '..', 'rootfs/a/..'])
    assert.throws(() => normalizeEntryName(bad), bad)
})

test('a directory entry may follow its children; a non-directory may not replace them', () => {
  const c = new LayoutChecker()
  c.check(entry('manifest'))
  c.check(entry('rootfs/a/b'))
  assert.equal(c.check(entry('rootfs/a/', 'directory')).path, 'rootfs/a')
  c.check(entry('rootfs', 'directory'))
  assert.throws(() => c.check(entry('rootfs/a/', 'directory')), /duplicate/)
  c.check(entry('rootfs/x/y'))
  assert.throws(() => c.check(entry('rootfs/x', 'symlink', 'y')), /replaces a directory/)
  c.finish()
})

test('the archive root may appear once, as a directory', () => {
  const c = new LayoutChecker()
  assert.equal(c.check(entry('./', 'directory')).kind, 'root')
  assert.throws(() => c.check(entry('.', 'directory')), /duplicate entry for the archive root/)
  assert.throws(() => new LayoutChecker().check(entry('.', 'file')), /not a directory/)
})

test('hardlinks: to an earlier file or symlink under rootfs/, never to a directory, device, or the manifest', () => {
  const c = new LayoutChecker()
  c.check(entry('manifest'))
  c.check(entry('rootfs/f'))
  c.check(entry('rootfs/s', 'symlink', '/x'))
  c.check(entry('rootfs/d', 'directory'))
  c.check(entry('rootfs/n', 'char'))
  assert.equal(c.check(entry('rootfs/l1', 'hardlink', './rootfs/f')).linkTarget, 'rootfs/f')
  c.check(entry('rootfs/l2', 'hardlink', 'rootfs/s'))
  c.check(entry('rootfs/l3', 'hardlink', 'rootfs/l1'))
  assert.throws(() => c.check(entry('rootfs/l4', 'hardlink', 'rootfs/d')), /is a directory/)
  assert.throws(() => c.check(entry('rootfs/l5', 'hardlink', 'rootfs/n')), /device or fifo/)
  assert.throws(() => c.check(entry('rootfs/l6', 'hardlink', 'manifest')), /not an earlier entry/)
  assert.throws(() => c.check(entry('rootfs/l7', 'hardlink', 'rootfs/l7')), /not an earlier entry/)
  assert.throws(() => c.check(entry('rootfs/s2', 'symlink', '')), /empty symlink target/)
  assert.throws(() => c.check(entry('rootfs/f2/', 'file')), /name ends in '\/'/)
})
