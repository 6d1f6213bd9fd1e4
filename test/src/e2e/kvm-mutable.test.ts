// Mutable pods on kvm (stage1-kvm/README.md "Mutable pods"), one real QEMU microVM under TCG: a sandbox with two
// apps added (each a disk the guest loop-mounts), started, one stopped and removed while the other keeps running,
// through the guest's agent and the supervisor's control socket; what the guest and the host held for the removed
// app goes with it.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ROOT} from '../util/harness.js'
import {BASE, PodSandbox, sh} from '../util/pods.js'

const KVM = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')}`

/** Sleeps until SIGTERM, in a way a trap interrupts at once. */
const IDLE = 'while :; do sleep 1 & wait $!; done'

describe('kvm: mutable pods', () => {
  test('apps come and go in a running kvm sandbox; the one left keeps running, the removed one leaves nothing', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image({...BASE, name: 'example.com/kvm-mutable-app'})
    const pod = await ps.start(['app', 'sandbox', KVM, '--net=none'])
    const {uuid} = pod
    const podDir = ps.podPath(uuid)
    const rkt = async (...args: string[]) => ps.rkt(args)
    const list = async (): Promise<string> => {
      const r = await rkt('app', 'list', '--no-legend', uuid)
      assert.equal(r.exitCode, 0, r.stderr)
      return r.stdout.trim().replace(/[ \t]+/g, ' ')
    }
    /** What `cmd` prints in app `app`, run there by the guest's agent. */
    const inApp = async (app: string, cmd: string): Promise<string> => {
      const r = await rkt('app', 'exec', `--app=${app}`, uuid, '/bin/sh', '-c', cmd)
      assert.equal(r.exitCode, 0, r.stderr)
      return r.stdout
    }

    for (const name of ['web', 'worker']) {
      const add = await rkt('app', 'add', uuid, img.name, `--name=${name}`, ...sh(`echo ${name} > /up; ${IDLE}`))
      assert.equal(add.exitCode, 0, add.stderr)
    }
    assert.equal(await list(), 'web created\nworker created')
    for (const name of ['web', 'worker']) {
      const start = await rkt('app', 'start', uuid, `--app=${name}`)
      assert.equal(start.exitCode, 0, start.stderr)
    }
    assert.equal(await list(), 'web running\nworker running')
    // Each runs in its own root (its own disk) and its own cgroup of the guest.
    for (const name of ['web', 'worker']) {
      assert.equal(await inApp(name, 'cat /up'), name)
    }
    const webPid = fs.readFileSync(path.join(podDir, 'stage1', 'rootfs', 'rkt', 'pids', 'web'), 'utf8')

    const again = await rkt('app', 'start', uuid, '--app=web')
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, /cannot start app web: app "web" is already running/)

    // One stopped and removed; the other keeps running.
    const stop = await rkt('app', 'stop', uuid, '--app=worker')
    assert.equal(stop.exitCode, 0, stop.stderr)
    const status = await rkt('app', 'status', uuid, '--app=worker', '--format=json')
    assert.equal(status.exitCode, 0, status.stderr)
    assert.deepEqual(
      (({state, exit_code}) => ({state, exit_code}))(JSON.parse(status.stdout) as {state: string; exit_code: number}),
      {state: 'exited', exit_code: 143},
    )
    assert.equal(await list(), 'web running\nworker exited')
    const rm = await rkt('app', 'rm', uuid, '--app=worker')
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.equal(await list(), 'web running')
    // Its disk is gone from the guest (its loop device detached: only web's is attached) and from the host.
    const attached = await inApp('web', 'cat /sys/block/loop*/loop/backing_file 2>/dev/null; true')
    assert.match(attached, /^\S*web\.img$/)
    assert.deepEqual(fs.readdirSync(path.join(podDir, 'stage1', 'rootfs', 'kvm', 'added')).sort(), [
      'web.img',
      'web.sh',
    ])
    // The app's files are root's alone: `rkt install`'s rkt group may walk the stage1 rootfs, not read them.
    for (const f of ['web.img', 'web.sh'])
      assert.equal(fs.statSync(path.join(podDir, 'stage1', 'rootfs', 'kvm', 'added', f)).mode & 0o777, 0o600, f)
    assert.deepEqual(fs.readdirSync(path.join(podDir, 'stage1', 'rootfs', 'rkt', 'supervisor.d')), ['web.conf'])
    // web never stopped: the same process, still answering.
    assert.equal(fs.readFileSync(path.join(podDir, 'stage1', 'rootfs', 'rkt', 'pids', 'web'), 'utf8'), webPid)
    assert.equal(await inApp('web', 'echo still here'), 'still here')

    // The pod stops as any other; gc leaves nothing.
    assert.equal((await rkt('stop', uuid)).exitCode, 0)
    const r = await pod.proc
    assert.equal(r.exitCode, 0, String(r.stderr))
    const gc = await rkt('gc', '--grace-period=0s')
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(ps.podDir(uuid), undefined, 'collected')
  })
})
