// `rkt run` as a systemd unit's main process (README "Running under systemd"), with the real protocols and no systemd
// as PID 1: SIGTERM (what systemd sends to stop a unit) stops the pod gracefully on every engine; socket activation
// through Debian's systemd-socket-activate reaches the app on nspawn and fly, and kvm refuses it; a Type=notify
// unit's READY=1 arrives on a real datagram socket only once the app has said READY=1 itself.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {describe, test} from 'node:test'
import {execa} from 'execa'

import {RKT} from '../util/harness.js'
import {testProgram, unitNotifySocket} from '../util/native.js'
import {BASE, PodSandbox, sh, statusPairs, waitFor, type PodImageSpec} from '../util/pods.js'

const SD_APP: PodImageSpec = {
  ...BASE,
  name: 'example.com/sd-app',
  programs: {'/bin/sd-app': testProgram('sd-app')},
}
const NOTIFY_APP: PodImageSpec = {
  ...SD_APP,
  name: 'example.com/sd-notify',
  annotations: {'appc.io/executor/supports-systemd-notify': 'true'},
}

/** No network of the pod's own where the engine can do without (fly has none). */
const netFlags = (engine: string): string[] => (engine === 'fly' ? [] : ['--net=none'])

/** Connects to a unix socket and reads until the other side closes. */
function readFrom(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const c = net.connect(socket)
    c.setEncoding('utf8')
    c.on('data', (d) => (out += String(d)))
    c.on('end', () => resolve(out))
    c.on('error', reject)
  })
}

describe('rkt run under systemd', () => {
  for (const engine of ['nspawn', 'fly', 'kvm'] as const) {
    test(`${engine}: SIGTERM to a foreground rkt run stops the pod gracefully: the app gets it, its status is kept`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image(BASE)
      const script = 'trap "echo got-term; exit 7" TERM; touch /ready; while :; do sleep 0.1; done'
      const pod = await ps.start(['run', ...netFlags(engine), 'example.com/pod-base:1.0', ...sh(script)], {
        readyFile: '/ready',
      })
      process.kill(pod.pid, 'SIGTERM')
      const r = await pod.proc
      assert.equal(r.exitCode, 7, `rkt run exits with the app's code: ${String(r.stderr)}`)
      assert.match(String(r.stdout), /got-term/)
      const status = statusPairs((await ps.rkt(['status', pod.uuid])).stdout)
      assert.deepEqual(
        status.filter(([k]) => k === 'state' || k === 'app-pod-base'),
        [
          ['state', 'exited'],
          ['app-pod-base', '7'],
        ],
      )
    })
  }

  for (const engine of ['nspawn', 'fly'] as const) {
    test(`${engine}: socket activation: the unit's sockets reach the app at 3, 4 with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image(SD_APP)
      const [a, b] = [path.join(ps.s.work, 'a.sock'), path.join(ps.s.work, 'b.sock')]
      const proc = execa(
        'systemd-socket-activate',
        ['-l', a, '-l', b, '--fdname=web:admin', '--', RKT, ...ps.s.globals, 'run', ...netFlags(engine)].concat([
          'example.com/sd-app:1.0',
          '--exec=/bin/sd-app',
          '--',
          'listen',
        ]),
        {reject: false, stdin: 'ignore', cwd: ps.s.work},
      )
      assert.ok(await waitFor(() => fs.existsSync(b), 10_000), 'systemd-socket-activate listens')
      // The first connection starts rkt (systemd-socket-activate waits for one); the app accepts it.
      assert.equal(await readFrom(a), 'hello from fd 3\n')
      assert.equal(await readFrom(b), 'hello from fd 4\n')
      const r = await proc
      assert.equal(r.exitCode, 0, String(r.stderr))
      assert.match(String(r.stdout), /^LISTEN_FDS=2 LISTEN_FDNAMES=web:admin own-pid=yes$/m)
    })
  }

  test('kvm refuses socket activation clearly (exit 254), with nothing left running', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'kvm'})
    await ps.image(SD_APP)
    const a = path.join(ps.s.work, 'a.sock')
    const proc = execa(
      'systemd-socket-activate',
      ['-l', a, '--', RKT, ...ps.s.globals, 'run', '--net=none', 'example.com/sd-app:1.0', '--exec=/bin/sd-app'],
      {reject: false, stdin: 'ignore', cwd: ps.s.work},
    )
    assert.ok(await waitFor(() => fs.existsSync(a), 10_000))
    const c = net.connect(a)
    c.on('error', () => {})
    const r = await proc
    c.destroy()
    assert.equal(r.exitCode, 254)
    assert.match(String(r.stderr), /socket activation is not supported by the kvm stage1/)
    const list = await ps.rkt(['list', '--no-legend'])
    assert.doesNotMatch(list.stdout, /running/)
  })

  for (const engine of ['nspawn', 'fly'] as const) {
    test(`${engine}: Type=notify: READY=1 reaches the unit's socket only once the app said it; the app gets NOTIFY_SOCKET`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image(NOTIFY_APP)
      const unit = unitNotifySocket(ps.s.work)
      t.after(unit.close)
      assert.ok(await waitFor(() => fs.existsSync(unit.path), 5000))
      // The app is slow to be ready: READY=1 before /sent exists would be the engine's, not the app's.
      const script = 'sleep 1; touch /sent; exec /bin/sd-app notify'
      const pod = await ps.start(['run', ...netFlags(engine), 'example.com/sd-notify:1.0', ...sh(script)], {
        env: {NOTIFY_SOCKET: unit.path, PATH: process.env['PATH'] ?? '/usr/bin:/bin'},
      })
      assert.ok(
        await waitFor(() => unit.received().includes('READY=1'), 20_000),
        `READY=1: ${unit.received().join(' ')}`,
      )
      assert.ok(fs.existsSync(ps.appPath(pod.uuid, '/sent')), 'READY=1 came only after the app said it')
      process.kill(pod.pid, 'SIGTERM')
      const r = await pod.proc
      assert.equal(r.exitCode, 0, String(r.stderr))
      assert.match(String(r.stdout), /^NOTIFY_SOCKET=\/run\/systemd\/notify$/m)
      assert.match(String(r.stdout), /got SIGTERM/)
      assert.equal(unit.received().filter((l) => l === 'READY=1').length, 1, 'READY=1 once')
    })
  }
})
