// The hand-off from stage0 to the fly stage1 (docs/architecture.md "What `rkt run` does", docs/stage1.md): the PID
// that started `rkt run` becomes the pod's supervisor (fly-exec, not node), no Node process stays in the pod, signals
// sent to that PID reach the app, its exit status is the app's, killing its process group leaves nothing behind, and
// the pod lock is held exactly as long as the pod lives (and never by the app).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {alive, BASE, flockHolders, PodSandbox, procInfo, processTree, sh, waitFor} from '../util/pods.js'

/** Traps the signals it is told of, each exiting with its own code; `/tmp/ready` once the traps are set. */
const TRAPS = sh(
  'trap "exit 3" TERM; trap "exit 5" INT; trap "exit 6" HUP; trap "echo usr1 >> /tmp/got" USR1; touch /tmp/ready; while :; do sleep 0.05; done',
)

describe('hand-off: rkt run becomes the pod', () => {
  test('the PID of `rkt run` is fly-exec, the app is its child, and no node process is left in the pod', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    // Detached, so that the test's cleanup can kill the app's child with the group.
    const pod = await ps.start(['run', img.name, ...sh('sleep 30 & touch /tmp/ready; wait')], {
      readyFile: '/tmp/ready',
      detached: true,
    })
    const dir = ps.podPath(pod.uuid)

    const me = procInfo(pod.pid)
    assert.ok(me, 'rkt run is alive')
    assert.equal(me.comm, 'fly-exec')
    // From the stage1 image's tree in the store, never from the pod's writable copy of it.
    const stage1Tree = fs.readFileSync(path.join(dir, 'stage1TreeStoreID'), 'utf8').trim()
    const fromStore = path.join(ps.data, 'cas', 'tree', stage1Tree, 'rootfs', 'fly-exec')
    assert.equal(me.exe, fromStore, 'the same PID now runs the stage1 supervisor')
    assert.ok(!fs.readFileSync(`/proc/${pod.pid}/cmdline`, 'utf8').includes('node'))

    const appPid = ps.podNumber(pod.uuid, 'pid')
    assert.equal(procInfo(appPid)?.ppid, pod.pid, 'the pid file names the app, a child of fly-exec')
    assert.equal(ps.podNumber(pod.uuid, 'pgid'), me.pgid, 'the pgid file names the process group of rkt run')

    const tree = processTree(pod.pid)
    assert.deepEqual(
      tree.map((p) => p.comm).sort(),
      ['fly-exec', 'iomux', 'sh', 'sleep'],
      'fly-exec, the app’s logger, the app, its child',
    )
    const nodes = tree.filter((p) => p.comm === 'node' || path.basename(p.exe).startsWith('node'))
    assert.deepEqual(nodes, [], 'no Node process stays in the pod')
  })

  for (const [sig, code] of [
    ['SIGTERM', 3],
    ['SIGINT', 5],
    ['SIGHUP', 6],
  ] as const) {
    test(`${sig} sent to the PID of rkt run reaches the app; rkt exits with the app's status (${code})`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: 'fly'})
      const img = await ps.image(BASE)
      const pod = await ps.start(['run', img.name, ...TRAPS], {readyFile: '/tmp/ready'})
      process.kill(pod.pid, sig)
      const r = await pod.proc
      assert.equal(r.exitCode, code, String(r.stderr))
      assert.match((await ps.rkt(['status', pod.uuid])).stdout, new RegExp(`^app-pod-base=${code}$`, 'm'))
    })
  }

  test('a signal the app handles does not end the pod (SIGUSR1), and SIGKILL of the app gives 137', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...TRAPS], {readyFile: '/tmp/ready'})
    process.kill(pod.pid, 'SIGUSR1')
    assert.ok(await waitFor(() => fs.existsSync(ps.appPath(pod.uuid, 'tmp/got'))), 'the app got SIGUSR1')
    await sleep(100)
    assert.ok(alive(pod.pid), 'and lives on')
    assert.equal(fs.readFileSync(ps.appPath(pod.uuid, 'tmp/got'), 'utf8'), 'usr1\n', 'delivered once')

    process.kill(ps.podNumber(pod.uuid, 'pid'), 'SIGKILL')
    assert.equal((await pod.proc).exitCode, 137)
  })

  test('killing the process group of a detached rkt run leaves no process behind; the pod reads as exited', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...sh('sleep 300 & echo $! > /tmp/child; touch /tmp/ready; wait')], {
      readyFile: '/tmp/ready',
      detached: true,
    })
    assert.equal(procInfo(pod.pid)?.pgid, pod.pid, 'rkt leads its own group')
    const appPid = ps.podNumber(pod.uuid, 'pid')
    const child = Number(fs.readFileSync(ps.appPath(pod.uuid, 'tmp/child'), 'utf8'))
    assert.ok(alive(child))
    const members = processTree(pod.pid)
    assert.ok(
      members.every((p) => p.pgid === pod.pid),
      'every pod process is in the group',
    )

    process.kill(-pod.pid, 'SIGKILL')
    await pod.proc
    assert.ok(await waitFor(() => ![pod.pid, appPid, child].some(alive)), 'fly-exec, the app and its child are gone')
    const st = await ps.rkt(['status', pod.uuid])
    assert.match(st.stdout, /^state=exited$/m)
    assert.doesNotMatch(st.stdout, /^app-pod-base=0$/m, 'a killed pod never reads as a success')
    assert.equal((await ps.rkt(['rm', pod.uuid])).exitCode, 0)
  })

  test('the pod lock is held by the pod’s supervisor exactly while it lives, and never reaches the app', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...TRAPS], {readyFile: '/tmp/ready'})
    const dir = ps.podPath(pod.uuid)
    assert.deepEqual(flockHolders(dir), [pod.pid], 'one flock on the pod directory, held by the PID of rkt run')
    assert.match((await ps.rkt(['status', pod.uuid])).stdout, /^state=running$/m)

    const appPid = ps.podNumber(pod.uuid, 'pid')
    const appFds = fs.readdirSync(`/proc/${appPid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${appPid}/fd/${fd}`)
      } catch {
        return ''
      }
    })
    assert.deepEqual(
      appFds.filter((l) => l.startsWith(ps.data)),
      [],
      'the app holds no descriptor into the data directory (no lock fd: SEC-05)',
    )
    // The app's stdout and stderr are pipes to its logger, which copies them on to rkt's own (and keeps the log).
    const logger = processTree(pod.pid).find((p) => p.comm === 'iomux')
    assert.ok(logger, 'the app has a logger')
    for (const fd of [1, 2]) {
      assert.match(fs.readlinkSync(`/proc/${appPid}/fd/${fd}`), /^pipe:/)
      assert.equal(fs.readlinkSync(`/proc/${logger.pid}/fd/${fd}`), fs.readlinkSync(`/proc/${pod.pid}/fd/${fd}`))
    }

    process.kill(pod.pid, 'SIGTERM')
    assert.equal((await pod.proc).exitCode, 3)
    assert.deepEqual(flockHolders(dir), [], 'released when the pod exits')
    assert.match((await ps.rkt(['status', pod.uuid])).stdout, /^state=exited$/m)
  })

  test('SIGKILL of fly-exec alone: the lock dies with it, the pod reads as exited, and gc can take it', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...TRAPS], {readyFile: '/tmp/ready'})
    const appPid = ps.podNumber(pod.uuid, 'pid')
    process.kill(pod.pid, 'SIGKILL')
    assert.ok(await waitFor(() => !alive(pod.pid)))
    assert.match((await ps.rkt(['status', pod.uuid])).stdout, /^state=exited$/m)
    assert.doesNotMatch((await ps.rkt(['status', pod.uuid])).stdout, /^app-/m, 'no status is made up')
    // In fly (no pid namespace) the orphaned app outlives its supervisor: the caller has to end it.
    assert.ok(alive(appPid))
    process.kill(appPid, 'SIGKILL')
    assert.equal((await pod.proc).signal, 'SIGKILL')
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(gc.stdout, `Garbage collecting pod "${pod.uuid}"`)
    assert.equal(ps.podDir(pod.uuid), undefined)
  })
})
