// A pod's cgroups over its life, on this machine's real cgroup hierarchies (root): run's setUpPodCgroups,
// stop's stopPodApps and gc's gcPod, with real processes in the pod's cgroups and a real mount left by "run".
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, describe, test} from 'node:test'

import {mountsUnder} from '../sys/mounts.js'
import {MNT_DETACH, umount2} from '../sys/native.js'
import {bindMount} from './volumes.js'
import {appDir, detectCgroups, hierarchyFor, killPod, podDir, removePodCgroups, stage1Dir} from './cgroups.js'
import {gcPod, setUpPodCgroups, stopPodApps} from './pod-cgroups.js'
import {isRoot, skipUnless} from '../testing.js'
import {makeTestPod} from './testing.js'

const host = detectCgroups()
const skip = skipUnless(isRoot && hierarchyFor(host, 'memory') !== undefined, 'needs root and a memory cgroup')
const cleanups: (() => Promise<unknown> | void)[] = []
after(async () => {
  for (const c of cleanups.reverse()) await c()
})

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-pod-cgroups-'))
  cleanups.push(() => fs.rmSync(d, {recursive: true, force: true}))
  return d
}

const procsOf = (dir: string): number[] =>
  fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)

/** `sleep 60`, moved into these cgroups before it starts; resolves once it is in them. */
async function sleeperIn(dirs: readonly string[]): Promise<{proc: ChildProcess; exit: Promise<NodeJS.Signals | null>}> {
  const joins = dirs.map((d) => `echo $$ > ${path.join(d, 'cgroup.procs')}`).join('; ')
  const proc = spawn('/bin/sh', ['-c', `${joins}; exec sleep 60`], {stdio: 'ignore'})
  cleanups.push(() => void proc.kill('SIGKILL'))
  const exit = new Promise<NodeJS.Signals | null>((r) => proc.once('exit', (_, s) => r(s)))
  for (let i = 0; i < 200 && !procsOf(dirs[0]!).includes(proc.pid!); i++) await sleep(10)
  assert.ok(procsOf(dirs[0]!).includes(proc.pid!), `${proc.pid} in ${dirs[0]}`)
  return {proc, exit}
}

describe('a pod’s cgroups, run to gc (root, real cgroups)', {skip}, () => {
  test('run makes them with the limits, stop signals the apps, gc kills what is left and unmounts', async () => {
    const uuid = crypto.randomUUID()
    const memory = {name: 'resource/memory', value: {limit: '64Mi'}}
    const pod = makeTestPod(tmpdir(), uuid, [{name: 'a', app: {isolators: [memory]}}, {name: 'b'}])
    cleanups.push(async () => {
      const dirs = host.hierarchies.map((h) => podDir(h, uuid))
      await killPod(dirs)
      await removePodCgroups(dirs)
    })
    const warnings: string[] = []
    const run = spawn('sleep', ['60'], {stdio: 'ignore'}) // stands in for the run entrypoint
    cleanups.push(() => void run.kill('SIGKILL'))

    setUpPodCgroups(pod, (m) => warnings.push(m), run.pid)
    assert.deepEqual(warnings, [])
    assert.ok(fs.existsSync(pod.paths.cgroups), 'recorded for gc')
    const mem = hierarchyFor(host, 'memory')!
    const limit = mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'
    assert.equal(fs.readFileSync(path.join(appDir(mem, uuid, 'a'), limit), 'utf8').trim(), String(64 << 20))
    assert.ok(fs.existsSync(appDir(mem, uuid, 'b')), "b's cgroup")
    assert.deepEqual(procsOf(stage1Dir(mem, uuid)), [run.pid], 'run is in the pod’s own cgroup')

    const app = await sleeperIn(host.hierarchies.map((h) => appDir(h, uuid, 'a')))
    assert.equal(await stopPodApps(pod.paths, uuid, false, assert.fail), true)
    assert.equal(await app.exit, 'SIGTERM', 'the app got SIGTERM')
    const stubborn = await sleeperIn(host.hierarchies.map((h) => appDir(h, uuid, 'b')))
    assert.equal(await stopPodApps(pod.paths, uuid, true, assert.fail), true)
    assert.equal(await stubborn.exit, 'SIGKILL', '--force kills')
    assert.equal(run.exitCode ?? run.signalCode, null, 'stop leaves run (in the pod’s own cgroup) alone')
  })

  test('gc kills the pod’s processes, unmounts what run mounted and removes the cgroups', async () => {
    const uuid = crypto.randomUUID()
    const pod = makeTestPod(tmpdir(), uuid, [{name: 'a'}])
    const run = spawn('sleep', ['60'], {stdio: 'ignore'})
    cleanups.push(() => void run.kill('SIGKILL'))
    const runExit = new Promise<NodeJS.Signals | null>((r) => run.once('exit', (_, s) => r(s)))
    setUpPodCgroups(pod, assert.fail, run.pid)
    const app = await sleeperIn(host.hierarchies.map((h) => appDir(h, uuid, 'a')))
    const target = path.join(pod.apps[0]!.rootfs, 'mnt')
    fs.mkdirSync(target)
    bindMount(tmpdir(), target, true)
    cleanups.push(() => {
      if (mountsUnder(target).length > 0) umount2(target, MNT_DETACH)
    })

    await gcPod(pod.paths, uuid, assert.fail)
    assert.equal(await app.exit, 'SIGKILL')
    assert.equal(await runExit, 'SIGKILL', 'a run process left behind is killed too')
    assert.deepEqual(mountsUnder(pod.paths.stage1Rootfs), [], 'run’s mount is gone')
    for (const h of host.hierarchies) assert.ok(!fs.existsSync(podDir(h, uuid)), `${podDir(h, uuid)} removed`)
  })

  test('a pod run without cgroups: stop says so, gc has nothing to do', async () => {
    const uuid = crypto.randomUUID()
    const pod = makeTestPod(tmpdir(), uuid, [{name: 'a'}])
    assert.equal(await stopPodApps(pod.paths, uuid, true, assert.fail), false)
    await gcPod(pod.paths, uuid, assert.fail)
  })
})
