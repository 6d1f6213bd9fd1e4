// bindDnsFiles: the host's or stage0's resolv.conf and hosts bound read-only into a real app root (root: real
// bind mounts), per the DNS modes; what it leaves to the engine, and an image whose /etc leads into a volume.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {mountsUnder} from '../sys/mounts.js'
import {MNT_DETACH, umount2} from '../sys/native.js'
import {bindDnsFiles} from './dns-files.js'
import {bindMount} from './volumes.js'
import {isRoot, skipUnless} from '../testing.js'
import {makeTestPod} from './testing.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) {
    for (const m of mountsUnder(d).reverse()) umount2(m.mountPoint, MNT_DETACH)
    fs.rmSync(d, {recursive: true, force: true})
  }
})

function pod() {
  dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-dns-files-')))
  const p = makeTestPod(dirs.at(-1)!, crypto.randomUUID(), [{name: 'a'}])
  fs.mkdirSync(p.paths.stage1Rootfs, {recursive: true})
  return {paths: p.paths, rootfs: p.apps[0]!.rootfs}
}

describe('bindDnsFiles (root: bind mounts)', {skip: skipUnless(isRoot, 'bind mounts need root')}, () => {
  test("stage0's files and the host's, read-only; the defaults left to the engine", () => {
    const {paths, rootfs} = pod()
    fs.mkdirSync(path.dirname(paths.resolvConf), {recursive: true})
    fs.writeFileSync(paths.resolvConf, 'nameserver 192.0.2.53\n')
    assert.deepEqual(bindDnsFiles(paths, rootfs, {resolv: 'stage0', hosts: 'host'}, assert.fail), [])
    assert.equal(fs.readFileSync(path.join(rootfs, 'etc/resolv.conf'), 'utf8'), 'nameserver 192.0.2.53\n')
    assert.equal(fs.readFileSync(path.join(rootfs, 'etc/hosts'), 'utf8'), fs.readFileSync('/etc/hosts', 'utf8'))
    assert.throws(() => fs.writeFileSync(path.join(rootfs, 'etc/hosts'), 'x'), {code: 'EROFS'})

    const other = pod()
    assert.deepEqual(bindDnsFiles(other.paths, other.rootfs, {resolv: 'none', hosts: 'default'}, assert.fail), [
      '/etc/resolv.conf',
      '/etc/hosts',
    ])
    assert.ok(!fs.existsSync(path.join(other.rootfs, 'etc')), 'nothing made in the root')
  })

  test('a stage0 file that was not written is left to the engine, not an error', () => {
    const {paths, rootfs} = pod()
    assert.deepEqual(bindDnsFiles(paths, rootfs, {resolv: 'stage0', hosts: 'stage0'}, assert.fail), [
      '/etc/resolv.conf',
      '/etc/hosts',
    ])
  })

  test('an image whose /etc/hosts links into a volume gets none, and a warning says so', () => {
    const {paths, rootfs} = pod()
    const volume = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-dns-volume-'))
    dirs.push(volume)
    fs.mkdirSync(path.join(rootfs, 'etc'), {recursive: true})
    fs.mkdirSync(path.join(rootfs, 'vol'))
    fs.symlinkSync('/vol/hosts', path.join(rootfs, 'etc/hosts'))
    bindMount(volume, path.join(rootfs, 'vol'), false) // as an engine binds volumes before the /etc files
    const warnings: string[] = []
    assert.deepEqual(
      bindDnsFiles(paths, rootfs, {resolv: 'none', hosts: 'host'}, (m) => warnings.push(m)),
      ['/etc/resolv.conf'],
    )
    assert.deepEqual(warnings, ["no /etc/hosts: the image's symlinks put it in a volume, where rkt writes nothing"])
    assert.deepEqual(fs.readdirSync(volume), [], 'nothing written into the volume')
  })
})
