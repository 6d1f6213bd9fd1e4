// A pod's life as a user drives it, with rkt's commands and pod states: prepare and run-prepared (one winner of a
// race), what list, status and cat-manifest report while it runs and after, stop (gently and with --force),
// and enter. Pods run the fly stage1 from busybox-static images, each test in a fresh data directory.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {RKT} from '../util/harness.js'
import {alive, BASE, PodSandbox, sh, statusPairs, type StartedPod} from '../util/pods.js'

/** An app that runs until told to stop: SIGTERM makes it exit 3. `/tmp/ready` says its trap is set. */
const LONG = sh('trap "exit 3" TERM; touch /tmp/ready; while :; do sleep 0.05; done')
const GO_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} \S+$/

/** Splits a tabwriter table into rows of trimmed cells (runs of tabs separate cells). */
function table(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(/\t+/).map((c) => c.trim()))
}

async function startLong(ps: PodSandbox, extra: string[] = []): Promise<{pod: StartedPod; name: string; id: string}> {
  const img = await ps.image(BASE)
  const pod = await ps.start(['run', ...extra, img.name, ...LONG], {readyFile: '/tmp/ready'})
  return {pod, ...img}
}

describe('prepare and run-prepared', () => {
  test('prepare --quiet prints only the UUID; the pod is prepared until run-prepared runs it', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const quiet = await ps.rkt(['prepare', '--quiet', img.name, ...sh('echo ran; exit 6')])
    assert.equal(quiet.exitCode, 0, quiet.stderr)
    assert.match(quiet.stdout, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    const uuid = quiet.stdout
    assert.equal(ps.podState(uuid), 'prepared')

    const loud = await ps.rkt(['prepare', img.name])
    assert.equal(loud.exitCode, 0, loud.stderr)
    assert.match(loud.stdout, /^[0-9a-f-]{36}$/m, 'prepare prints the UUID too')

    const st = await ps.rkt(['status', uuid])
    assert.equal(st.exitCode, 0, st.stderr)
    assert.deepEqual(
      statusPairs(st.stdout).map(([k]) => k),
      ['state', 'created'],
    )
    assert.match(st.stdout, /^state=prepared$/m)

    const run = await ps.rkt(['run-prepared', uuid])
    assert.equal(run.exitCode, 6, run.stderr)
    assert.equal(run.stdout, 'ran')
    const after = await ps.rkt(['status', uuid])
    assert.match(after.stdout, /^state=exited$/m)
    assert.match(after.stdout, /^app-pod-base=6$/m)

    const again = await ps.rkt(['run-prepared', uuid])
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, new RegExp(`pod ${uuid} is not prepared \\(it is exited\\)`))
    assert.equal(again.stdout, '')
  })

  test('two concurrent run-prepared of one pod: exactly one runs the app, the other says it is not prepared', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    for (let round = 0; round < 3; round++) {
      const prep = await ps.rkt(['prepare', '--quiet', img.name, ...sh('echo ran-once')])
      assert.equal(prep.exitCode, 0, prep.stderr)
      const uuid = prep.stdout
      const both = await Promise.all([ps.rkt(['run-prepared', uuid]), ps.rkt(['run-prepared', uuid])])
      const winners = both.filter((r) => r.exitCode === 0)
      const losers = both.filter((r) => r.exitCode !== 0)
      assert.equal(winners.length, 1, both.map((r) => `${r.exitCode}: ${r.stderr}`).join('\n'))
      assert.equal(winners[0]!.stdout, 'ran-once')
      assert.equal(losers[0]!.exitCode, 254)
      assert.equal(losers[0]!.stdout, '', 'the loser ran nothing')
      assert.match(losers[0]!.stderr, /is not prepared \(it is (running|exited|being started by another rkt)\)/)
    }
  })

  test('run-prepared of an unknown or malformed UUID', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const unknown = await ps.rkt(['run-prepared', '01234567-89ab-cdef-0123-456789abcdef'])
    assert.equal(unknown.exitCode, 254)
    assert.match(unknown.stderr, /no matches found for "01234567-89ab-cdef-0123-456789abcdef"/)
    const bad = await ps.rkt(['run-prepared', '../../etc'])
    assert.notEqual(bad.exitCode, 0)
    assert.match(bad.stderr, /no matches found for "\.\.\/\.\.\/etc"/, 'not a UUID: looked up as a pod name')
  })
})

describe('list, status and cat-manifest', () => {
  test('list: the table, --full, --no-legend; one row per pod with its state', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod, id} = await startLong(ps)
    const exited = await ps.rkt(['run', 'example.com/pod-base:1.0', '--name=done', ...sh('exit 0')])
    assert.equal(exited.exitCode, 0, exited.stderr)

    const r = await ps.rkt(['list'])
    assert.equal(r.exitCode, 0, r.stderr)
    const rows = table(r.stdout)
    assert.deepEqual(rows[0], ['UUID', 'APP', 'IMAGE NAME', 'STATE', 'CREATED', 'STARTED', 'NETWORKS'])
    assert.equal(rows.length, 3)
    const running = rows.find((row) => row[0] === pod.uuid.slice(0, 8))
    assert.ok(running, r.stdout)
    assert.deepEqual(running.slice(1, 4), ['pod-base', 'example.com/pod-base:1.0', 'running'])
    for (const cell of running.slice(4, 6)) assert.match(cell, /^(now|\d+ seconds? ago)$/)
    const other = rows.find((row) => row[1] === 'done')
    assert.ok(other, r.stdout)
    assert.equal(other[3], 'exited')

    const full = await ps.rkt(['list', '--full'])
    const fullRows = table(full.stdout)
    assert.deepEqual(fullRows[0], ['UUID', 'APP', 'IMAGE NAME', 'IMAGE ID', 'STATE', 'CREATED', 'STARTED', 'NETWORKS'])
    const fullRunning = fullRows.find((row) => row[0] === pod.uuid)
    assert.ok(fullRunning, full.stdout)
    assert.equal(fullRunning[3], id.slice(0, 19))
    assert.equal(fullRunning[4], 'running')
    assert.match(fullRunning[5]!, GO_TIME)
    assert.match(fullRunning[6]!, GO_TIME)

    const bare = await ps.rkt(['list', '--no-legend'])
    assert.equal(table(bare.stdout).length, 2)
    assert.ok(!bare.stdout.includes('UUID'))
  })

  test('list --format=json and json-pretty: rkt’s v1.Pod fields for running, exited and prepared pods', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const before = Math.floor(Date.now() / 1000)
    const {pod, id} = await startLong(ps)
    const exited = await ps.rkt([
      'run',
      `--uuid-file-save=${path.join(ps.s.work, 'u')}`,
      'example.com/pod-base',
      ...sh('exit 4'),
    ])
    assert.equal(exited.exitCode, 4)
    const exitedUuid = fs.readFileSync(path.join(ps.s.work, 'u'), 'utf8').trim()
    const prepared = (await ps.rkt(['prepare', '--quiet', 'example.com/pod-base'])).stdout

    const r = await ps.rkt(['list', '--format=json'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.split('\n').length, 1, 'one line')
    const pods = JSON.parse(r.stdout) as Record<string, unknown>[]
    assert.equal(pods.length, 3)
    const byName = new Map(pods.map((p) => [p['name'] as string, p]))
    type App = Record<string, unknown>
    const appOf = (uuid: string): App => (byName.get(uuid)!['apps'] as App[])[0]!

    const running = byName.get(pod.uuid)!
    assert.deepEqual(Object.keys(running), ['name', 'state', 'app_names', 'apps', 'created_at', 'started_at'])
    assert.equal(running['state'], 'running')
    assert.deepEqual(running['app_names'], ['pod-base'])
    assert.deepEqual(Object.keys(appOf(pod.uuid)), ['name', 'state', 'created_at', 'started_at', 'image_id'])
    assert.equal(appOf(pod.uuid)['state'], 'running')
    assert.equal(appOf(pod.uuid)['image_id'], id)

    const done = byName.get(exitedUuid)!
    assert.equal(done['state'], 'exited')
    assert.deepEqual(Object.keys(appOf(exitedUuid)), [
      'name',
      'state',
      'created_at',
      'started_at',
      'finished_at',
      'exit_code',
      'image_id',
    ])
    assert.equal(appOf(exitedUuid)['exit_code'], 4)
    assert.equal(appOf(exitedUuid)['state'], 'exited')

    const prep = byName.get(prepared)!
    assert.deepEqual(
      Object.keys(prep),
      ['name', 'state', 'app_names', 'apps', 'created_at'],
      'no started_at before it runs',
    )
    assert.equal(prep['state'], 'prepared')
    assert.equal(appOf(prepared)['state'], 'created')

    // Pod times are seconds; app times are int64 nanoseconds (read from the text: they exceed a double).
    for (const p of pods) {
      for (const k of ['created_at', 'started_at']) {
        if (p[k] === undefined) continue
        assert.ok(
          Number.isInteger(p[k]) && (p[k] as number) >= before - 1 && (p[k] as number) <= Date.now() / 1000 + 1,
          `${k} in seconds`,
        )
      }
    }
    const ns = [...r.stdout.matchAll(/"(created_at|started_at|finished_at)":(\d+)/g)].filter(
      ([, , v]) => v!.length > 12,
    )
    assert.ok(ns.length >= 6)
    for (const [, k, v] of ns) assert.match(v!, /^\d{19}$/, `${k} in nanoseconds`)
    const [, c, s, f] = /"state":"exited","created_at":(\d+),"started_at":(\d+),"finished_at":(\d+)/.exec(r.stdout)!
    assert.ok(BigInt(c!) <= BigInt(s!) && BigInt(s!) <= BigInt(f!), 'created ≤ started ≤ finished')

    const pretty = await ps.rkt(['list', '--format=json-pretty'])
    assert.match(pretty.stdout, /^\[\n\t\{\n\t\t"name": /)
    assert.equal(pretty.stdout.replace(/\s+/g, ''), r.stdout.replace(/\s+/g, ''))
  })

  test('status: key=value lines while running and after; --format=json; --uuid-file from --uuid-file-save', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod} = await startLong(ps)
    const appPid = ps.podNumber(pod.uuid, 'pid')

    const r = await ps.rkt(['status', pod.uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    const running = statusPairs(r.stdout)
    assert.deepEqual(
      running.map(([k]) => k),
      ['state', 'created', 'started', 'networks', 'pid', 'exited'],
    )
    const get = (pairs: [string, string][], k: string) => pairs.find(([key]) => key === k)?.[1]
    assert.equal(get(running, 'state'), 'running')
    assert.match(get(running, 'created')!, GO_TIME)
    assert.match(get(running, 'started')!, GO_TIME)
    assert.equal(get(running, 'networks'), '')
    assert.equal(get(running, 'pid'), String(appPid))
    assert.equal(get(running, 'exited'), 'false')

    const json = await ps.rkt(['status', '--format=json', pod.uuid])
    const list = JSON.parse((await ps.rkt(['list', '--format=json'])).stdout) as unknown[]
    assert.deepEqual(JSON.parse(json.stdout), list[0], 'status --format=json is the pod as list shows it')

    process.kill(pod.pid, 'SIGTERM')
    assert.equal((await pod.proc).exitCode, 3)
    const uuidFile = path.join(ps.s.work, 'saved')
    fs.writeFileSync(uuidFile, `${pod.uuid}\n`)
    const after = await ps.rkt(['status', `--uuid-file=${uuidFile}`])
    assert.equal(after.exitCode, 0, after.stderr)
    const exited = statusPairs(after.stdout)
    assert.deepEqual(
      exited.map(([k]) => k),
      ['state', 'created', 'started', 'networks', 'pid', 'exited', 'app-pod-base'],
    )
    assert.equal(get(exited, 'state'), 'exited')
    assert.equal(get(exited, 'exited'), 'true')
    assert.equal(get(exited, 'app-pod-base'), '3')
    assert.equal(get(exited, 'started'), get(running, 'started'))

    const missing = await ps.rkt(['status', `--uuid-file=${path.join(ps.s.work, 'nope')}`])
    assert.equal(missing.exitCode, 254)
    assert.match(missing.stderr, /nope/)
  })

  test('status --wait returns when a running pod exits; --wait-ready when a prepared pod becomes ready', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    const pod = await ps.start([
      'run',
      `--volume=v,kind=host,source=${host}`,
      img.name,
      '--mount=volume=v,target=/v',
      ...sh('while [ ! -e /v/go ]; do sleep 0.02; done; exit 4'),
    ])
    const short = await ps.rkt(['status', '--wait=200ms', pod.uuid])
    assert.equal(short.exitCode, 254)
    assert.match(short.stderr, /timed out waiting for the pod to finish/)
    const waiting = execa(RKT, [...ps.s.globals, 'status', '--wait', pod.uuid], {reject: false, stdin: 'ignore'})
    await sleep(250)
    assert.equal(waiting.exitCode, null, 'still waiting while the pod runs')
    fs.writeFileSync(path.join(host, 'go'), '')
    const w = await waiting
    assert.equal(w.exitCode, 0, String(w.stderr))
    assert.match(String(w.stdout), /^state=exited$/m)
    assert.match(String(w.stdout), /^app-pod-base=4$/m)

    const uuid = (await ps.rkt(['prepare', '--quiet', img.name, ...LONG])).stdout
    const ready = execa(RKT, [...ps.s.globals, 'status', '--wait-ready=10s', uuid], {reject: false, stdin: 'ignore'})
    await sleep(250)
    assert.equal(ready.exitCode, null, 'a prepared pod is not ready')
    const started = await ps.start(['run-prepared', uuid], {uuid})
    const rr = await ready
    assert.equal(rr.exitCode, 0, String(rr.stderr))
    assert.match(String(rr.stdout), /^state=running$/m)
    assert.equal(fs.readlinkSync(path.join(ps.podPath(uuid), 'stage1', 'rootfs', 'rkt', 'supervisor-status')), 'ready')
    process.kill(started.pid, 'SIGTERM')
    assert.equal((await started.proc).exitCode, 3)

    const neverReady = path.join(ps.s.work, 'never')
    assert.equal(
      (await ps.rkt(['run', `--uuid-file-save=${neverReady}`, img.name, '--exec=/bin/missing'])).exitCode,
      254,
    )
    const failed = await ps.rkt(['status', '--wait-ready=5s', `--uuid-file=${neverReady}`])
    assert.equal(failed.exitCode, 254)
    assert.match(failed.stderr, /finished without becoming ready \(it is exited\)/)

    const timeout = await ps.rkt([
      'status',
      '--wait-ready=300ms',
      (await ps.rkt(['prepare', '--quiet', img.name])).stdout,
    ])
    assert.equal(timeout.exitCode, 254)
    assert.match(timeout.stderr, /timed out waiting for the pod to be ready/)
  })

  test('cat-manifest: the pod manifest stage0 wrote, pretty (tabs) by default, one line with --pretty-print=false', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const run = await ps.rkt([
      'run',
      `--uuid-file-save=${uuidFile}`,
      '--set-env=K=v',
      img.name,
      '--name=web',
      ...sh('true'),
    ])
    assert.equal(run.exitCode, 0, run.stderr)
    const r = await ps.rkt(['cat-manifest', `--uuid-file=${uuidFile}`])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.match(r.stdout, /^\{\n\t"acKind": "PodManifest",\n\t"acVersion": "1\.30\.0",\n/)
    const m = JSON.parse(r.stdout) as {
      acKind: string
      apps: {
        name: string
        image: {id: string; name: string}
        app: {exec: string[]; environment: {name: string; value: string}[]}
      }[]
      annotations: {name: string; value: string}[]
    }
    assert.equal(m.acKind, 'PodManifest')
    assert.equal(m.apps.length, 1)
    assert.equal(m.apps[0]!.name, 'web')
    assert.equal(m.apps[0]!.image.id, img.id)
    assert.equal(m.apps[0]!.image.name, 'example.com/pod-base')
    assert.deepEqual(m.apps[0]!.app.exec, ['/bin/sh', '-c', 'true'])
    assert.deepEqual(m.apps[0]!.app.environment, [{name: 'K', value: 'v'}])
    assert.deepEqual(m.annotations, [{name: 'coreos.com/rkt/stage1/mutable', value: 'false'}])
    const flat = await ps.rkt(['cat-manifest', '--pretty-print=false', fs.readFileSync(uuidFile, 'utf8').trim()])
    assert.equal(flat.stdout.split('\n').length, 1)
    assert.deepEqual(JSON.parse(flat.stdout), m)
  })
})

describe('stop', () => {
  test('stop: prints the UUID in quotes, the app gets SIGTERM, rkt run exits with its status; returns once exited', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod} = await startLong(ps)
    const r = await ps.rkt(['stop', pod.uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, `"${pod.uuid}"`)
    // stop waits for the pod to exit: status says so at once, and rm works at once (rkt#3449).
    const st = await ps.rkt(['status', pod.uuid])
    assert.match(st.stdout, /^state=exited$/m)
    assert.match(st.stdout, /^app-pod-base=3$/m)
    assert.equal((await pod.proc).exitCode, 3)
    const rm = await ps.rkt(['rm', pod.uuid])
    assert.equal(rm.exitCode, 0, rm.stderr)
  })

  test('stop --force kills the app: 137; stop of an exited pod says it is already stopped', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    // This app ignores SIGTERM: only --force ends it.
    const pod = await ps.start(
      ['run', img.name, ...sh('trap "" TERM; touch /tmp/ready; while :; do sleep 0.05; done')],
      {readyFile: '/tmp/ready'},
    )
    const r = await ps.rkt(['stop', '--force', pod.uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, `"${pod.uuid}"`)
    assert.equal((await pod.proc).exitCode, 137)
    assert.match((await ps.rkt(['status', pod.uuid])).stdout, /^app-pod-base=137$/m)

    const again = await ps.rkt(['stop', pod.uuid])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(again.stdout, `pod "${pod.uuid}" is already stopped`)
  })

  test('stop of a prepared pod and of an unknown pod fail with 254; --uuid-file works', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuid = (await ps.rkt(['prepare', '--quiet', img.name])).stdout
    const prepared = await ps.rkt(['stop', uuid])
    assert.equal(prepared.exitCode, 254)
    assert.match(prepared.stderr, /not running \(it is prepared\)/)
    assert.equal(ps.podState(uuid), 'prepared', 'left as it was')
    const unknown = await ps.rkt(['stop', 'ffffffff-ffff-4fff-8fff-ffffffffffff'])
    assert.equal(unknown.exitCode, 254)

    const {pod} = await startLong(ps)
    const file = path.join(ps.s.work, 'uuid')
    fs.writeFileSync(file, pod.uuid)
    const byFile = await ps.rkt(['stop', `--uuid-file=${file}`])
    assert.equal(byFile.exitCode, 0, byFile.stderr)
    assert.equal((await pod.proc).exitCode, 3)

    // Several pods: each is stopped or reported; one failure makes the command fail.
    const {pod: second} = await startLong(ps)
    const many = await ps.rkt(['stop', second.uuid, 'ffffffff-ffff-4fff-8fff-ffffffffffff', pod.uuid])
    assert.equal(many.exitCode, 254)
    assert.equal(many.stdout, `"${second.uuid}"\npod "${pod.uuid}" is already stopped`)
    assert.match(many.stderr, /no matches found for "ffffffff/)
    assert.equal((await second.proc).exitCode, 3)
  })
})

describe('enter', () => {
  test("runs the command in the app's root, with the app's user, groups, environment and working directory", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod} = await startLong(ps, ['--set-env=FROM_RUN=yes'])
    // Only the app's rootfs has /tmp/ready (its own tmpfs) and /etc/marker; the host has /usr/bin/env.
    const r = await ps.rkt([
      'enter',
      pod.uuid,
      '/bin/sh',
      '-c',
      'cat /etc/marker; ls /tmp; test -e /usr/bin/env && echo HOST; echo "$FROM_RUN $AC_APP_NAME $(id -u) $(pwd)"; exit 9',
    ])
    assert.equal(r.exitCode, 9, r.stderr)
    assert.equal(r.stdout, 'from the image\nready\nyes pod-base 0 /')
    assert.ok(fs.existsSync('/usr/bin/env'), 'the host has what the pod must not see')

    const ps2 = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps2.image(BASE)
    const other = await ps2.start(
      ['run', img.name, '--user=1000', '--group=100', '--supplementary-gids=5', '--working-dir=/tmp', ...LONG],
      {readyFile: '/tmp/ready'},
    )
    const id = await ps2.rkt(['enter', other.uuid, '/bin/sh', '-c', 'echo "$(id -u) $(id -g) $(id -G) $(pwd)"'])
    assert.equal(id.exitCode, 0, id.stderr)
    assert.equal(id.stdout, '1000 100 100 5 /tmp')
  })

  test('the entered command is the process rkt enter started (same PID), and it can see the app', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod} = await startLong(ps)
    const appPid = ps.podNumber(pod.uuid, 'pid')
    const enter = execa(
      RKT,
      [...ps.s.globals, 'enter', pod.uuid, '/bin/sh', '-c', `echo $$; cat /proc/${appPid}/comm`],
      {reject: false, stdin: 'ignore'},
    )
    const r = await enter
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.equal(String(r.stdout), `${enter.pid}\nsh`)
  })

  test('enter on an exited or prepared pod, an unknown app or a missing command: 254 with the reason', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {pod} = await startLong(ps)
    const noApp = await ps.rkt(['enter', '--app=nope', pod.uuid, '/bin/true'])
    assert.equal(noApp.exitCode, 254)
    assert.match(noApp.stderr, /no app named nope/)
    const noCmd = await ps.rkt(['enter', pod.uuid, '/bin/no-such-command'])
    assert.equal(noCmd.exitCode, 254)
    assert.match(noCmd.stderr, /\/bin\/no-such-command/)
    assert.match(noCmd.stderr, /rkt enter UUID \/bin\/sh/, 'the hint is about enter, not --exec')
    assert.doesNotMatch(noCmd.stderr, /--exec/)
    const noBash = await ps.rkt(['enter', pod.uuid])
    assert.equal(noBash.exitCode, 254)
    assert.match(noBash.stderr, /"\/bin\/bash"/, 'the default command is /bin/bash, which busybox lacks')
    assert.ok(alive(pod.pid), 'a failed enter leaves the pod alone')

    await ps.rkt(['stop', pod.uuid])
    const exited = await ps.rkt(['enter', pod.uuid, '/bin/true'])
    assert.equal(exited.exitCode, 254)
    assert.match(exited.stderr, /is not running \(it is exited\)/)
    const prepared = await ps.rkt([
      'enter',
      (await ps.rkt(['prepare', '--quiet', 'example.com/pod-base'])).stdout,
      '/bin/true',
    ])
    assert.equal(prepared.exitCode, 254)
    assert.match(prepared.stderr, /is not running \(it is prepared\)/)
  })
})
