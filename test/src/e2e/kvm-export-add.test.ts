// The kvm stage1's disks end to end: `rkt export` of an exited kvm pod goes through kvm's export entrypoint
// (its app's ext4 disk read with e2fsprogs, never mounted on the host), and an app added to a running pod
// gets its disk loop-mounted by the guest's init (stage1-kvm/README.md "Apps added to a running pod").
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {pathToFileURL} from 'node:url'

import {ROOT} from '../util/harness.js'
import {BASE, PodSandbox, sh} from '../util/pods.js'

const KVM = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')}`

/** Runs stage1-kvm's addAppDisk (what `rkt app add` will call) on a pod, in a Node of its own. */
async function addAppDisk(podDir: string, app: string, tree: string) {
  const mod = (p: string) => JSON.stringify(pathToFileURL(path.join(ROOT, p)).href)
  const script = [
    `import {addAppDisk} from ${mod('stage1-kvm/dist/add.js')}`,
    `import {PodPaths} from ${mod('core/dist/stage1/index.js')}`,
    'await addAppDisk(new PodPaths(process.argv[1]), process.argv[2], process.argv[3])',
  ].join('\n')
  return execa(process.execPath, ['--input-type=module', '-e', script, podDir, app, tree], {reject: false})
}

describe('stage1-kvm disks', () => {
  // Needs the app roots as disks (kvm/disks/<app>.qcow2): fails with "has no disk" until they exist.
  test('rkt export of an exited kvm pod holds the file its app wrote, and the image files', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      KVM,
      `--uuid-file-save=${uuidFile}`,
      img.name,
      ...sh('echo written in the guest > /written-by-app'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
    const aci = path.join(ps.s.work, 'exported.aci')
    const e = await ps.rkt(['export', uuid, aci])
    assert.equal(e.exitCode, 0, e.stderr)
    const out = path.join(ps.s.work, 'exported')
    fs.mkdirSync(out)
    await execa('tar', ['-xzf', aci, '-C', out])
    assert.equal(fs.readFileSync(path.join(out, 'rootfs', 'written-by-app'), 'utf8'), 'written in the guest\n')
    assert.equal(fs.readFileSync(path.join(out, 'rootfs', 'etc', 'marker'), 'utf8'), 'from the image\n')
    assert.ok(!fs.existsSync(path.join(out, 'rootfs', 'lost+found')))
  })

  test("an added app's disk is mounted by the guest on /opt/stage2/<app>/rootfs, its files there", async (t) => {
    const ps = PodSandbox.create(t)
    // The image's /kvm/busybox lets `rkt enter` name the guest's own busybox (stage0 checks the image has it).
    const img = await ps.image({...BASE, name: 'example.com/kvm-add', symlinks: {'kvm/busybox': '/bin/busybox'}})
    const pod = await ps.start(['run', KVM, img.name, ...sh(': > /ready; exec sleep 600')], {readyFile: '/ready'})
    const podDir = ps.podPath(pod.uuid)
    const tree = path.join(ps.s.work, 'added-tree')
    fs.mkdirSync(path.join(tree, 'etc'), {recursive: true})
    fs.writeFileSync(path.join(tree, 'etc', 'hello'), 'from the added disk\n')

    const bad = await addAppDisk(podDir, '../escape', tree)
    assert.notEqual(bad.exitCode, 0)
    assert.match(bad.stderr, /invalid app name/)
    const added = await addAppDisk(podDir, 'added', tree)
    assert.equal(added.exitCode, 0, added.stderr)
    assert.ok(fs.statSync(path.join(podDir, 'stage1', 'rootfs', 'kvm', 'added', 'added.img')).isFile())

    // Look from the guest's root mount namespace (where an added app's supervisor will find its root): enter
    // with PID 1 as the app's process, through the pid file the guest's agent reads (9p: the host's file).
    const pidFile = path.join(podDir, 'stage1', 'rootfs', 'rkt', 'pids', 'kvm-add')
    const appPid = fs.readFileSync(pidFile, 'utf8')
    fs.writeFileSync(pidFile, '1\n')
    const look = await ps.rkt([
      'enter',
      pod.uuid,
      '/kvm/busybox',
      'sh',
      '-c',
      'cat /opt/stage2/added/rootfs/etc/hello; grep " /opt/stage2/added/rootfs " /proc/self/mountinfo',
    ])
    fs.writeFileSync(pidFile, appPid)
    assert.equal(look.exitCode, 0, look.stderr)
    const [hello, mountinfo] = look.stdout.split('\n')
    assert.equal(hello, 'from the added disk')
    assert.match(mountinfo ?? '', / - ext4 \/dev\/loop\d+ rw/)

    const stop = await ps.rkt(['stop', pod.uuid])
    assert.equal(stop.exitCode, 0, stop.stderr)
    await pod.proc
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(ps.podDir(pod.uuid), undefined)
  })
})
