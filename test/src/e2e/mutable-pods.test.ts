// Mutable pods on nspawn (`rkt app sandbox|add|start|stop|rm|list|status|exec`): a sandbox with two apps added,
// one stopped and removed while the other keeps running; `app list` and `app status --format=json` agree; bad
// requests are refused with the problem named (exit 254) and change nothing; after the pod's stop and gc
// nothing of the added apps is left on the host.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ROOT} from '../util/harness.js'
import {BASE, mountsUnder, NSPAWN, PodSandbox, sh, waitFor} from '../util/pods.js'

/** Sleeps until SIGTERM, in a way a trap interrupts at once. */
const IDLE = 'while :; do sleep 1 & wait $!; done'

interface AppJson {
  name: string
  state: string
  image_id?: string
  created_at?: number
  started_at?: number
  finished_at?: number
  exit_code?: number
}

describe('nspawn: mutable pods', () => {
  test('apps come and go in a running sandbox; list and status agree; bad requests are refused', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image({...BASE, name: 'example.com/mutable-app'})
    const pod = await ps.start(['app', 'sandbox', NSPAWN])
    const {uuid} = pod
    const rkt = async (...args: string[]) => ps.rkt(args)
    const list = async (): Promise<string[][]> => {
      const r = await rkt('app', 'list', '--no-legend', uuid)
      assert.equal(r.exitCode, 0, r.stderr)
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/))
    }
    const status = async (app: string): Promise<AppJson> => {
      const r = await rkt('app', 'status', uuid, `--app=${app}`, '--format=json')
      assert.equal(r.exitCode, 0, r.stderr)
      return JSON.parse(r.stdout) as AppJson
    }
    const refused = async (args: string[], message: RegExp): Promise<void> => {
      const r = await rkt(...args)
      assert.equal(r.exitCode, 254, `${args.join(' ')}: ${r.stdout} ${r.stderr}`)
      assert.match(r.stderr, message)
    }
    assert.deepEqual(await list(), [], 'a sandbox starts empty')

    for (const name of ['web', 'worker']) {
      const add = await rkt('app', 'add', uuid, img.name, `--name=${name}`, ...sh(`touch /up; ${IDLE}`))
      assert.equal(add.exitCode, 0, add.stderr)
    }
    assert.deepEqual(await list(), [
      ['web', 'created'],
      ['worker', 'created'],
    ])
    for (const name of ['web', 'worker']) assert.equal((await rkt('app', 'start', uuid, `--app=${name}`)).exitCode, 0)
    for (const name of ['web', 'worker'])
      assert.ok(await waitFor(() => fs.existsSync(ps.appPath(uuid, 'up', name)), 10_000), `${name} runs`)

    // app list and app status --format=json say the same, in rkt's v1.App shape.
    const listed = await list()
    assert.deepEqual(listed, [
      ['web', 'running'],
      ['worker', 'running'],
    ])
    for (const [name, state] of listed) {
      const s = await status(name!)
      assert.equal(s.state, state)
      assert.equal(s.image_id, img.id)
      assert.ok(s.created_at! > 0 && s.started_at! >= s.created_at!, JSON.stringify(s))
      assert.equal(s.exit_code, undefined)
    }

    await refused(['app', 'start', uuid, '--app=web'], /app "web" is already running/)
    await refused(['app', 'rm', uuid, '--app=web'], /app "web" is running: stop it first/)
    await refused(['app', 'start', uuid, '--app=nope'], /has no app named nope/)
    await refused(['app', 'status', uuid, '--app=nope'], /cannot find app "nope" in the pod/)
    await refused(['app', 'add', uuid, img.name, '--name=web'], /already has an app named web/)

    // One stopped and removed; the other keeps running.
    const stop = await rkt('app', 'stop', uuid, '--app=worker')
    assert.equal(stop.exitCode, 0, stop.stderr)
    const stopped = await status('worker')
    assert.equal(stopped.state, 'exited')
    assert.equal(stopped.exit_code, 143, 'ended by the SIGTERM of app stop')
    assert.ok(stopped.finished_at! >= stopped.started_at!)
    assert.deepEqual(await list(), [
      ['web', 'running'],
      ['worker', 'exited'],
    ])
    await refused(['app', 'stop', uuid, '--app=worker'], /app "worker" is not running/)
    const rm = await rkt('app', 'rm', uuid, '--app=worker')
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.deepEqual(await list(), [['web', 'running']])
    const podDir = ps.podPath(uuid)
    assert.equal(fs.existsSync(path.join(podDir, 'appsinfo', 'worker')), false)
    assert.deepEqual(mountsUnder(path.join(podDir, 'stage1', 'rootfs', 'opt', 'stage2', 'worker')), [])
    const manifest = JSON.parse(fs.readFileSync(path.join(podDir, 'pod'), 'utf8')) as {apps: {name: string}[]}
    assert.deepEqual(
      manifest.apps.map((a) => a.name),
      ['web'],
    )
    const exec = await rkt('app', 'exec', `--app=web`, uuid, '/bin/sh', '-c', 'echo still here')
    assert.equal(exec.exitCode, 0, exec.stderr)
    assert.equal(exec.stdout, 'still here')
    assert.equal(ps.podState(uuid), 'run', 'the pod runs on')

    // A pod made by rkt run has its apps fixed.
    const fixed = await ps.start(['run', NSPAWN, img.name, ...sh(`touch /up; ${IDLE}`)], {readyFile: '/up'})
    await refused(['app', 'add', fixed.uuid, img.name, '--name=more'], /is not a mutable pod/)
    await refused(['app', 'stop', fixed.uuid, '--app=mutable-app'], /is not a mutable pod/)

    // The pod stops as any other, and gc leaves nothing of the added apps on the host.
    for (const u of [uuid, fixed.uuid]) assert.equal((await rkt('stop', u)).exitCode, 0)
    const gc = await rkt('gc', '--grace-period=0s')
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(ps.podDir(uuid), undefined, 'collected')
    assert.equal(fs.existsSync(`/run/systemd/nspawn/propagate/rkt-${uuid}`), false)
  })

  test('a stage1 without app/* entrypoints (fly) is refused before any pod runs, with the fix named', async (t) => {
    const ps = PodSandbox.create(t)
    const fly = path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-fly.aci')
    const r = await ps.rkt(['app', 'sandbox', `--stage1-path=${fly}`])
    assert.equal(r.exitCode, 254, r.stderr)
    assert.match(r.stderr, /cannot run mutable pods: it has no app\/add entrypoint/)
    assert.match(r.stderr, /nspawn/, 'the fix: a stage1 that has them')
    const pods = path.join(ps.data, 'pods')
    const made = fs.existsSync(pods) ? fs.readdirSync(pods).flatMap((d) => fs.readdirSync(path.join(pods, d))) : []
    assert.deepEqual(made, [], 'no pod was made')
  })
})
