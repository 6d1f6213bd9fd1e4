// The supervisor's mutable mode (README "Mutable pods"): a pod run for real under systemd-nspawn, driven from the
// host through /rkt/control.sock as an engine's app/add|start|stop|rm entrypoints drive it. Needs root,
// systemd-nspawn, busybox-static and `npm run build`.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {afterEach, describe, it} from 'node:test'

import {unixRequest} from '@rkt/core/stage1'
import {skipUnless} from '@rkt/core/testing'

import {appRecords, encodeConf, MemoryCgroup, missingPrerequisites, Pod, waitFor, type AppSpec} from './test-pod.js'

const missing = missingPrerequisites()
const skip = skipUnless(missing.length === 0, `needs ${missing.join(', ')}`)

const pods: Pod[] = []
const cgroups: MemoryCgroup[] = []
afterEach(async () => {
  for (const p of pods.splice(0)) await p.destroy()
  for (const c of cgroups.splice(0)) await c.destroy()
})

/** A mutable pod with no app at the start; `apps` get a root (and /shared), to be added later. */
async function mutablePod(apps: AppSpec[], grace = 10000): Promise<Pod> {
  const conf = encodeConf([
    ['version', '1'],
    ['grace', `${grace}`],
    ['mutable', '1'],
  ])
  const p = new Pod(apps, {conf})
  pods.push(p)
  fs.mkdirSync(path.join(p.root, 'rkt/supervisor.d'))
  p.start()
  await waitFor('the control socket', () => fs.existsSync(path.join(p.root, 'rkt/control.sock')))
  return p
}

const ask = (p: Pod, line: string, fds: number[] = []): string =>
  unixRequest(path.join(p.root, 'rkt'), 'control.sock', `${line}\n`, fds)

/** What the engine's app/add does: the app's section in supervisor.d, then the request. */
function add(p: Pod, app: AppSpec, fds: number[] = []): string {
  fs.writeFileSync(
    path.join(p.root, 'rkt/supervisor.d', `${app.name}.conf`),
    encodeConf([['version', '1'], ...appRecords(app)]),
  )
  return ask(p, `add ${app.name}`, fds)
}

describe('supervisor: mutable mode', {skip}, () => {
  it('starts empty, adds, starts, stops and removes apps; an app’s exit ends neither the pod nor its siblings', async () => {
    const long: AppSpec = {name: 'long', script: 'echo $$ > /shared/long; exec sleep 1000'}
    const short: AppSpec = {name: 'short', script: 'echo ran >> /shared/short; exit 3'}
    const p = await mutablePod([long, short])
    assert.equal(fs.readlinkSync(path.join(p.root, 'rkt/supervisor-status')), 'ready', 'ready with no app')
    assert.equal(add(p, long), 'ok\n')
    assert.equal(p.rkt('status/long-created'), '')
    assert.equal(p.rkt('status/long-started'), undefined, 'added, not started')
    assert.equal(ask(p, 'start long'), 'ok\n')
    await p.waitShared('long')
    assert.equal(add(p, short), 'ok\n')
    assert.equal(ask(p, 'start short'), 'ok\n')
    await waitFor('short to exit', () => p.rkt('status/short') !== undefined)
    assert.equal(p.rkt('status/short'), '3')
    assert.equal(ask(p, 'start short'), 'ok\n', 'an exited app starts again')
    await waitFor('short to exit again', () => p.sharedFile('short') === 'ran\nran\n' && p.rkt('status/short') === '3')

    assert.equal(ask(p, 'stop short'), 'error app "short" is not running\n')
    assert.equal(ask(p, 'start long'), 'error app "long" is already running\n')
    assert.equal(ask(p, 'rm long'), 'error app "long" is running: stop it first\n')
    assert.equal(ask(p, 'start nope'), 'error app "nope" is not in the pod\n')
    assert.equal(add(p, long), 'error app "long" is already in the pod\n')
    assert.equal(
      ask(p, 'add ../x'),
      'error the request is not "VERB APP" (an app name: lowercase letters, digits, dashes)\n',
    )
    assert.equal(ask(p, 'frob long'), 'error unknown verb "frob" (add, start, stop, rm)\n')
    assert.match(
      ask(p, 'add ghost'),
      /^error can't open "\/rkt\/supervisor.d\/ghost.conf": No such file or directory\n$/,
    )

    assert.equal(ask(p, 'rm short'), 'ok\n')
    for (const f of ['short', 'short-created', 'short-started']) assert.equal(p.rkt(`status/${f}`), undefined, f)
    assert.equal(p.child?.exitCode, null, 'the pod still runs')
    assert.equal(ask(p, 'stop long'), 'ok\n')
    assert.equal(p.rkt('status/long'), '143', 'the status is written before the answer')
    p.child?.kill('SIGTERM')
    const r = await p.wait()
    assert.equal(r.code, 0, r.stderr)
  })

  it('kills an app that ignores SIGTERM once the grace period is over', async () => {
    const stubborn: AppSpec = {name: 'stubborn', script: "trap '' TERM; touch /shared/up; while :; do sleep 0.05; done"}
    const p = await mutablePod([stubborn], 300)
    add(p, stubborn)
    ask(p, 'start stubborn')
    await p.waitShared('up')
    const t0 = Date.now()
    assert.equal(ask(p, 'stop stubborn'), 'ok\n')
    assert.ok(Date.now() - t0 >= 250, 'it had its grace period')
    assert.equal(p.rkt('status/stubborn'), '137')
  })

  // A skip only where skipping is allowed (never in CI: a missing controller there fails loudly).
  const noMemoryCgroup = skipUnless(MemoryCgroup.available(), 'needs the cgroup v1 memory controller')
  it('puts an added app in the cgroup whose descriptors came with the request', {skip: noMemoryCgroup}, async () => {
    const cg = new MemoryCgroup(64 * 1024 * 1024)
    cgroups.push(cg)
    const app: AppSpec = {
      name: 'a',
      script: 'touch /shared/up; exec sleep 1000',
      extra: [
        ['cgroup-fd', '3'],
        ['oom-fd', '4'],
      ],
    }
    const p = await mutablePod([app])
    assert.match(
      add(p, {...app, extra: [['cgroup-fd', '5']]}),
      /^error .*descriptor 5 was not sent with the request \(0 were\)/,
    )
    assert.equal(add(p, app, [cg.procsFd, cg.oomFd]), 'ok\n')
    assert.equal(ask(p, 'start a'), 'ok\n')
    await p.waitShared('up')
    assert.deepEqual(cg.pids(), [p.appHostPid('a')])
  })

  it('refuses requests from inside the pod', async () => {
    const app: AppSpec = {name: 'a', script: 'exec sleep 1000'}
    const p = await mutablePod([app])
    // A process of the pod's pid namespace, outside the supervisor's cgroup, as an app reaching /proc/1/root is.
    const sock = path.join(p.root, 'rkt')
    const js = `process.stdout.write(require(${JSON.stringify(nativeAddon())}).unixRequest(${JSON.stringify(sock)}, 'control.sock', 'add a\\n', []))`
    const r = spawnSync('nsenter', ['-t', String(p.supervisorPid()), '-p', '--', process.execPath, '-e', js], {
      encoding: 'utf8',
    })
    assert.equal(r.stdout, "error permission denied: the pod's apps may not drive it\n", r.stderr)
    assert.equal(add(p, app), 'ok\n', 'the host still can')
  })
})

/** The path of rktsys.node, which the nsenter'd node loads directly. */
function nativeAddon(): string {
  return path.resolve(import.meta.dirname, '../../core/dist/native/rktsys.node')
}
