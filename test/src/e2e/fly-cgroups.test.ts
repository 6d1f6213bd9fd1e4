// Each fly pod has cgroups of its own, so that nothing of a pod outlives it. A fly app once left a
// background process running after its pod read as exited, and that process (uid 1000, no capabilities)
// raced `rkt rm` and deleted host files through the pod's directory. Now fly-exec kills whatever is left in
// the app's cgroups before it records the app's status and releases the pod lock; `rkt stop` signals the
// whole cgroup; `rkt enter` joins it; `--memory` and `--cpu` are enforced (fly ignored them, silently);
// gc removes the cgroups.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {alive, BASE, PodSandbox, podCgroups, sh, statusPairs, waitFor} from '../util/pods.js'

/** `rkt run` to completion, with the pod's UUID. */
async function run(
  ps: PodSandbox,
  args: readonly string[],
): Promise<{exitCode: number; stdout: string; stderr: string; uuid: string}> {
  const uuidFile = path.join(ps.s.work, `uuid-${Math.random().toString(36).slice(2)}`)
  const r = await ps.rkt(['run', `--uuid-file-save=${uuidFile}`, ...args])
  return {...r, uuid: fs.readFileSync(uuidFile, 'utf8').trim()}
}

/** The host directory of a process's cgroup in the v1 hierarchy holding `controller`. */
function cgroupOf(pid: number, controller: string): string {
  const line = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller))
  assert.ok(line, `process ${pid} has a ${controller} cgroup`)
  const mount = fs.readdirSync('/sys/fs/cgroup').find((h) => h.split(',').includes(controller))
  assert.ok(mount, `${controller} is mounted`)
  return path.join('/sys/fs/cgroup', mount, line.split(':').slice(2).join(':'))
}

describe('fly pods and their cgroups', () => {
  test('an app’s background process (uid 1000) does not outlive the pod: killed before the pod reads as exited', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    await ps.image(BASE)
    const r = await run(ps, [
      'example.com/pod-base:1.0',
      '--user=1000',
      '--group=1000',
      ...sh('setsid sleep 600 </dev/null >/dev/null 2>&1 & echo bg=$!'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const bg = Number(/bg=(\d+)/.exec(r.stdout)?.[1])
    assert.ok(bg > 0, r.stdout)
    assert.equal(alive(bg), false, `the app's background process ${bg} is still running after its pod exited`)
    const status = statusPairs((await ps.rkt(['status', r.uuid])).stdout)
    assert.deepEqual(
      status.filter(([k]) => k === 'state' || k === 'app-pod-base'),
      [
        ['state', 'exited'],
        ['app-pod-base', '0'],
      ],
    )
    assert.ok(podCgroups(r.uuid).length > 0, 'the pod has cgroups until gc')
    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
    assert.deepEqual(podCgroups(r.uuid), [], 'gc removes them')
  })

  test('rkt stop signals every process of the pod; rkt enter joins the app’s cgroups', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    await ps.image(BASE)
    const pod = await ps.start(
      ['run', 'example.com/pod-base:1.0', ...sh('setsid sleep 600 & echo $! > /bg; touch /ready; sleep 600')],
      {readyFile: 'ready'},
    )
    const bg = Number(fs.readFileSync(ps.appPath(pod.uuid, 'bg'), 'utf8'))
    const app = ps.podNumber(pod.uuid, 'pid')
    const enter = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'cat /proc/self/cgroup'])
    assert.equal(enter.exitCode, 0, enter.stderr)
    assert.equal(
      enter.stdout,
      fs.readFileSync(`/proc/${app}/cgroup`, 'utf8').trimEnd(),
      'the entered process is in the app’s cgroups',
    )
    const stop = await ps.rkt(['stop', pod.uuid])
    assert.equal(stop.exitCode, 0, stop.stderr)
    assert.ok(await waitFor(() => !alive(bg) && !alive(app)), 'the app and its background process are gone')
    assert.equal((await pod.proc).exitCode, 143, 'the app ended by the SIGTERM of rkt stop')
  })

  test('--memory and --cpu are enforced: limits in the app’s cgroup, an OOM kill is 137 and reported', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    await ps.image(BASE)
    const pod = await ps.start(
      ['run', 'example.com/pod-base:1.0', '--memory=64Mi', '--cpu=250m', ...sh('touch /ready; sleep 600')],
      {readyFile: 'ready'},
    )
    const app = ps.podNumber(pod.uuid, 'pid')
    const memory = cgroupOf(app, 'memory')
    const cpu = cgroupOf(app, 'cpu')
    assert.ok(memory.endsWith(`/rkt/${pod.uuid}/pod-base`), memory)
    assert.equal(fs.readFileSync(path.join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024))
    assert.equal(fs.readFileSync(path.join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim(), '25000')
    assert.equal((await ps.rkt(['stop', '--force', pod.uuid])).exitCode, 0)

    const oom = await run(ps, [
      'example.com/pod-base:1.0',
      '--memory=32Mi',
      ...sh('exec dd if=/dev/zero of=/dev/null bs=200M count=1'),
    ])
    assert.equal(oom.exitCode, 137, oom.stderr)
    assert.match((await ps.rkt(['status', oom.uuid])).stdout, /^oom-killed=pod-base$/m)
  })
})
