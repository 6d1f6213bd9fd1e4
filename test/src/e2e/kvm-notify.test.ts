// `rkt run` of a kvm pod as a Type=notify unit's main process (stage1-kvm/README.md "systemd"), real QEMU microVMs
// under TCG and no systemd: READY=1 arrives on a real datagram socket (the unit's NOTIFY_SOCKET), relayed from the
// guest's supervisor through the guest's init and the ctl port when an app speaks the protocol.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {ROOT} from '../util/harness.js'
import {testProgram, unitNotifySocket} from '../util/native.js'
import {BASE, PodSandbox, sh, waitFor, type PodImageSpec} from '../util/pods.js'

const KVM = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')}`
const NET = '--net=none'
const SD_APP: PodImageSpec = {...BASE, name: 'example.com/kvm-sd-app', programs: {'/bin/sd-app': testProgram('sd-app')}}
const NOTIFY_APP: PodImageSpec = {
  ...SD_APP,
  name: 'example.com/kvm-sd-notify',
  annotations: {'appc.io/executor/supports-systemd-notify': 'true'},
}

describe('stage1-kvm under systemd: Type=notify', () => {
  test('an app that speaks the protocol: READY=1 reaches the unit only once the app said it in the guest', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(NOTIFY_APP)
    const unit = unitNotifySocket(ps.s.work)
    t.after(unit.close)
    assert.ok(await waitFor(() => fs.existsSync(unit.path), 5000))
    // The app says READY=1 only once the host lets it (a file in a host volume, live through 9p).
    const go = path.join(ps.s.work, 'go')
    fs.mkdirSync(go)
    const script = 'while [ ! -e /go/now ]; do sleep 0.1; done; exec /bin/sd-app notify'
    const pod = await ps.start(
      ['run', KVM, NET, `--volume=go,kind=host,source=${go}`, img.name, '--mount=volume=go,target=/go', ...sh(script)],
      {env: {NOTIFY_SOCKET: unit.path, PATH: process.env['PATH'] ?? '/usr/bin:/bin'}},
    )
    // The guest is up and its apps started: still nothing, since the app has not said it.
    await sleep(2000)
    assert.deepEqual(unit.received(), [], 'no READY=1 before the app said it')
    fs.writeFileSync(path.join(go, 'now'), '')
    assert.ok(await waitFor(() => unit.received().includes('READY=1'), 30_000), `READY=1: ${unit.received().join(' ')}`)
    process.kill(pod.pid, 'SIGTERM')
    const r = await pod.proc
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.match(String(r.stdout), /^NOTIFY_SOCKET=\/run\/systemd\/notify$/m)
    assert.match(String(r.stdout), /got SIGTERM/)
    assert.deepEqual(unit.received(), ['READY=1'], 'READY=1 once')
  })

  test('no app speaks it: READY=1 once the guest is up, as nspawn says it once the container has started', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(SD_APP)
    const unit = unitNotifySocket(ps.s.work)
    t.after(unit.close)
    assert.ok(await waitFor(() => fs.existsSync(unit.path), 5000))
    const pod = await ps.start(
      ['run', KVM, NET, img.name, ...sh('echo NOTIFY_SOCKET=$NOTIFY_SOCKET; touch /ready; exec sleep 600')],
      {
        env: {NOTIFY_SOCKET: unit.path, PATH: process.env['PATH'] ?? '/usr/bin:/bin'},
        readyFile: '/ready',
      },
    )
    assert.ok(await waitFor(() => unit.received().includes('READY=1'), 30_000), `READY=1: ${unit.received().join(' ')}`)
    process.kill(pod.pid, 'SIGTERM')
    const r = await pod.proc
    assert.equal(r.exitCode, 143, String(r.stderr))
    // The unit's socket is the host's: neither the app nor QEMU gets it.
    assert.match(String(r.stdout), /^NOTIFY_SOCKET=$/m)
    assert.deepEqual(unit.received(), ['READY=1'])
  })
})
