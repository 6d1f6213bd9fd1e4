// The kvm stage1 end to end (stage1-kvm/README.md): real QEMU microVMs, under TCG on these hosts (their
// /dev/kvm is kvm_pvm), booting the project's guest kernel over the pod's 9p root, with real CNI networks
// bridged in by taps. About ten boots in all: each test asserts several things of one pod.
import {execa} from 'execa'
import {spawnSync} from 'node:child_process'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {before, describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {ACTOOL, ROOT} from '../util/harness.js'
import {HOST_PAGE, HOST_SERVICE, startHostService} from '../util/host-service.js'
import {BASE, PodSandbox, sh, waitFor} from '../util/pods.js'

const KVM_ACI = path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')
const KVM = `--stage1-path=${KVM_ACI}`
const PVM = fs.existsSync('/sys/module/kvm_pvm')

before(async () => {
  for (const tool of ['qemu-system-x86_64', 'tc', 'ip', 'curl', 'script']) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], {reject: false})
    assert.equal(r.exitCode, 0, `${tool} is missing (scripts/setup installs it)`)
  }
  assert.ok(fs.existsSync(KVM_ACI), `${KVM_ACI} is missing: npm run build`)
})

/** QEMU processes of a pod (by the -name run gives them). */
function qemuOf(uuid: string): string[] {
  const r = spawnSync('pgrep', ['-f', `^\\S*qemu-system-x86_64 -name rkt-${uuid} `], {encoding: 'utf8'})
  return r.stdout.split('\n').filter(Boolean)
}

/** What curl gets from a URL ('' on failure). */
function curl(url: string): string {
  return spawnSync('curl', ['-s', '-m', '2', url], {encoding: 'utf8'}).stdout ?? ''
}

/** What a pod may leave on the host after gc: its QEMU, its namespace's mount, its NAT rules, its directory. */
async function leftovers(ps: PodSandbox, uuid: string): Promise<string[]> {
  const left: string[] = []
  if (qemuOf(uuid).length > 0) left.push('QEMU')
  if (readMountinfo().some((m) => m.mountPoint.includes(uuid))) left.push('mounts')
  const nat = String((await execa('iptables', ['-t', 'nat', '-S'])).stdout)
  if (nat.includes(uuid)) left.push('iptables rules')
  if (ps.podDir(uuid) !== undefined) left.push('pod directory')
  return left
}

const gc = async (ps: PodSandbox): Promise<void> => {
  const r = await ps.rkt(['gc', '--grace-period=0s'])
  assert.equal(r.exitCode, 0, r.stderr)
}

describe('stage1-kvm', () => {
  test('the README example in a microVM: rkt run --stage1-image=…/stage1-kvm.aci hello.aci greets and exits 0', async (t) => {
    const ps = PodSandbox.create(t)
    // The example image as the demo makes it: its committed manifest, busybox-static as its rootfs.
    const layout = path.join(ps.s.work, 'hello')
    fs.mkdirSync(path.join(layout, 'rootfs', 'bin'), {recursive: true})
    fs.copyFileSync(path.join(ROOT, 'examples', 'hello', 'manifest'), path.join(layout, 'manifest'))
    fs.copyFileSync('/bin/busybox', path.join(layout, 'rootfs', 'bin', 'busybox'))
    fs.symlinkSync('busybox', path.join(layout, 'rootfs', 'bin', 'sh'))
    const aci = path.join(ps.s.work, 'hello.aci')
    await execa(ACTOOL, ['build', layout, aci])
    const r = await ps.rkt(['--insecure-options=image', 'run', `--stage1-image=${KVM_ACI}`, aci])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'Hello from an App Container image\nAC_APP_NAME=hello')
    // This host's /dev/kvm is kvm_pvm: software emulation, said in one line that names the override.
    const notices = r.stderr.split('\n').filter((l) => l.startsWith('stage1-kvm:'))
    if (PVM) assert.deepEqual(notices.length, 1, r.stderr)
    if (PVM) assert.match(notices[0]!, /kvm_pvm.*TCG.*RKT_KVM_ACCEL=kvm/)
    // No kernel message reached the terminal: they are in the pod's console log.
    assert.ok(!/\[\s*\d+\.\d+\]|Linux version|reboot:/.test(r.stdout + r.stderr), r.stderr)
  })

  test('the guest has its own kernel, the app appc’s capabilities, and its exit code is rkt run’s (RKT_KVM_ACCEL=tcg: no notice)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt(
      ['run', KVM, img.name, ...sh('uname -r; grep CapBnd /proc/self/status; echo oops >&2; exit 7')],
      {
        env: {RKT_KVM_ACCEL: 'tcg'},
      },
    )
    assert.equal(r.exitCode, 7, r.stderr)
    const [kernel, caps] = r.stdout.split('\n')
    assert.match(kernel!, /^\d+\.\d+\.\d+/)
    assert.notEqual(kernel, String((await execa('uname', ['-r'])).stdout))
    // the guest runs nspawn's supervisor: appc's default set for a root app, as under nspawn
    assert.equal(caps, 'CapBnd:\t00000000a80425fb')
    // stderr is the app's own stream (the second virtio console), without the TCG notice when TCG is asked for
    assert.equal(
      r.stderr
        .split('\n')
        .filter((l) => !l.startsWith('rkt: warning'))
        .join('\n'),
      'oops',
    )
    const uuid = fs.readdirSync(path.join(ps.data, 'pods', 'run'))[0]!
    assert.equal((await ps.statusJson(uuid)).apps?.[0]?.exit_code, 7)
  })

  test('two apps share an empty volume; a host volume is written through live; --memory=128Mi is the app’s cgroup limit', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const hostDir = path.join(ps.s.work, 'host-vol')
    fs.mkdirSync(hostDir)
    fs.writeFileSync(path.join(hostDir, 'from-host'), 'host-data')
    const r = await ps.rkt([
      'run',
      KVM,
      '--volume=shared,kind=empty',
      `--volume=hostvol,kind=host,source=${hostDir}`,
      img.name,
      '--name=writer',
      '--memory=128Mi',
      '--mount=volume=shared,target=/shared',
      '--mount=volume=hostvol,target=/host',
      ...sh('echo from-writer > /shared/x; cat /host/from-host > /host/copied; cat /sys/fs/cgroup/memory.max'),
      '---',
      img.name,
      '--name=reader',
      '--mount=volume=shared,target=/shared',
      ...sh(
        'for i in $(seq 50); do [ -s /shared/x ] && break; sleep 0.1; done; echo "reader:$(cat /shared/x)"; cat /sys/fs/cgroup/memory.max',
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const lines = r.stdout.split('\n').sort()
    assert.deepEqual(lines, ['134217728', 'max', 'reader:from-writer'].sort(), r.stdout)
    assert.equal(fs.readFileSync(path.join(hostDir, 'copied'), 'utf8'), 'host-data')
  })

  test('--port reaches the guest from the host’s loopback, not a host service’s port; another kvm pod reaches it; enter and stop work, stop frees the port at once; gc leaves nothing', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image({
      ...BASE,
      name: 'example.com/kvm-web',
      app: {ports: [{name: 'http', protocol: 'tcp', port: 80}]},
      files: {...BASE.files, 'www/index.html': 'hello-from-the-vm\n'},
    })
    const port = 18000 + Math.floor(Math.random() * 1000)
    // A port a host service listens on is refused before the VM or its network exists.
    const svc = await startHostService(t, 'tcp', '::', port)
    const uuidFile = path.join(ps.s.work, 'refused.uuid')
    const refused = await ps.rkt([
      'run',
      KVM,
      `--uuid-file-save=${uuidFile}`,
      `--port=http:${port}`,
      img.name,
      ...sh('true'),
    ])
    assert.equal(refused.exitCode, 254, refused.stderr)
    const said = `host port ${port}/tcp is in use on the host: ${HOST_SERVICE} (pid ${svc.pid}) listens on [::]:${port}`
    assert.ok(refused.stderr.includes(said), refused.stderr)
    const refusedUuid = fs.readFileSync(uuidFile, 'utf8').trim()
    assert.ok(!fs.existsSync(path.join(ps.podPath(refusedUuid), 'net-state.json')))
    assert.deepEqual(qemuOf(refusedUuid), [])
    await svc.stop()

    const web = await ps.start(
      ['run', KVM, `--port=http:${port}`, img.name, ...sh(': > /ready; exec httpd -f -p 80 -h /www')],
      {readyFile: '/ready'},
    )
    await waitFor(() => curl(`http://127.0.0.1:${port}/`) === 'hello-from-the-vm\n', 20_000)
    assert.equal(curl(`http://127.0.0.1:${port}/`), 'hello-from-the-vm\n')

    const st = await ps.rkt(['status', '--format=json', web.uuid])
    const ip = (JSON.parse(st.stdout) as {networks?: {ip: string}[]}).networks?.[0]?.ip
    assert.match(ip ?? '', /^172\.16\.28\.\d+$/)
    const peer = await ps.rkt([
      'run',
      KVM,
      img.name,
      ...sh(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} 80 | tail -1`),
    ])
    assert.equal(peer.exitCode, 0, peer.stderr)
    assert.equal(peer.stdout, 'hello-from-the-vm')

    // enter runs in the app's context in the guest: its hostname, root, kernel, and its exit code comes back
    const e = await ps.rkt(['enter', web.uuid, '/bin/sh', '-c', 'hostname; cat /www/index.html; uname -r; exit 3'])
    assert.equal(e.exitCode, 3, e.stderr)
    const [hostname, page] = e.stdout.split('\n')
    assert.equal(hostname, `rkt-${web.uuid}`)
    assert.equal(page, 'hello-from-the-vm')

    // stop: the guest's supervisor gives the app SIGTERM; rkt run ends with it
    const s = await ps.rkt(['stop', web.uuid])
    assert.equal(s.exitCode, 0, s.stderr)
    // The port is free at once: a host service bound now gets the host's traffic to it, not the stopped VM.
    await startHostService(t, 'tcp', '0.0.0.0', port)
    assert.equal(curl(`http://127.0.0.1:${port}/`), `${HOST_PAGE}\n`)
    const ended = await web.proc
    assert.equal(ended.exitCode, 143, String(ended.stderr))
    assert.equal((await ps.statusJson(web.uuid)).apps?.[0]?.exit_code, 143)
    const shown = (await ps.statusJson(web.uuid)).networks as {ip: string}[] | undefined
    assert.equal(shown?.[0]?.ip, ip, 'the stopped pod still shows its network')
    await gc(ps)
    assert.deepEqual(await leftovers(ps, web.uuid), [])
    assert.deepEqual(await leftovers(ps, refusedUuid), [])
  })

  test('stop --force kills QEMU: rkt run and the app’s status say 137', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', KVM, img.name, ...sh(': > /ready; exec sleep 600')], {readyFile: '/ready'})
    assert.equal(qemuOf(pod.uuid).length, 1)
    const s = await ps.rkt(['stop', '--force', pod.uuid])
    assert.equal(s.exitCode, 0, s.stderr)
    const ended = await pod.proc
    assert.equal(ended.exitCode, 137, String(ended.stderr))
    assert.equal((await ps.statusJson(pod.uuid)).apps?.[0]?.exit_code, 137)
    await gc(ps)
    assert.deepEqual(await leftovers(ps, pod.uuid), [])
  })

  test('a SIGKILLed rkt run takes its QEMU with it, and gc cleans the rest', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', KVM, img.name, ...sh(': > /ready; exec sleep 600')], {readyFile: '/ready'})
    process.kill(pod.pid, 'SIGKILL')
    await pod.proc
    assert.ok(await waitFor(() => qemuOf(pod.uuid).length === 0, 5000), 'QEMU outlived rkt run')
    await gc(ps)
    assert.deepEqual(await leftovers(ps, pod.uuid), [])
  })

  test('--interactive: a shell in the guest on a terminal of its own, with the host’s TERM and window size', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const run = ps.startInPty([KVM, '--interactive', img.name, '--exec=/bin/sh'], {env: {TERM: 'xterm-kvmtest'}})
    await run.resize(25, 90) // before the guest boots: the size kvm-exec sends at the start
    // Markers the shell computes, so the terminal's echo of the typed line never matches them.
    run.type('echo "tty=$(tty) term=$TERM size=$(stty size)"; echo at-$((6*7))\n')
    await run.expect(/^at-42\r?$/m)
    assert.match(run.output, /^tty=\/dev\/pts\/\d+ term=xterm-kvmtest size=25 90\r?$/m)
    assert.doesNotMatch(run.output, /not a tty/)
    // A window resized while the app runs: SIGWINCH on the host, the pty's size in the guest.
    await run.resize(40, 120)
    const from = run.output.length
    run.type('sleep 0.5; echo "now=$(stty size)"; exit 5\n')
    await run.expect(/^now=40 120\r?$/m, 60_000, from)
    const r = await run.end()
    assert.equal(r.exitCode, 5, r.output)
  })

  test('^] three times on the terminal kills the pod; rkt status records the app killed (137)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.escapeInteractive(KVM, img.name)
    assert.equal(r.exitCode, 137, r.output)
    assert.match(r.output, /\^\] typed three times: the pod is killed/)
    assert.equal(r.app, '137')
    await gc(ps)
    assert.deepEqual(await leftovers(ps, r.uuid), [])
  })

  test('the boot is bounded: a guest that does not start in time is killed and the failure reported', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const t0 = Date.now()
    const r = await ps.rkt(['run', KVM, img.name, ...sh('echo never')], {env: {RKT_KVM_BOOT_TIMEOUT: '0.2'}})
    assert.equal(r.exitCode, 254, r.stderr)
    assert.match(r.stderr, /the guest did not start within 0\.2 s/)
    assert.ok(Date.now() - t0 < 20_000)
    assert.equal(r.stdout, '')
    const uuid = fs.readdirSync(path.join(ps.data, 'pods', 'run'))[0]!
    assert.deepEqual(qemuOf(uuid), [])
  })

  test('forcing KVM where it cannot work fails within the bound, saying why and what to do', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const t0 = Date.now()
    const r = await ps.rkt(['run', KVM, img.name, ...sh('echo never')], {
      env: {RKT_KVM_ACCEL: 'kvm', RKT_KVM_BOOT_TIMEOUT: '10'},
    })
    if (!PVM && r.exitCode === 0) return // a host whose KVM works: forcing it is just right
    assert.equal(r.exitCode, 254, r.stderr)
    assert.ok(Date.now() - t0 < 20_000, 'not bounded')
    assert.match(r.stderr, /RKT_KVM_ACCEL=tcg/)
    if (PVM) assert.match(r.stderr, /kvm_pvm/)
    const uuid = fs.readdirSync(path.join(ps.data, 'pods', 'run'))[0]!
    assert.deepEqual(qemuOf(uuid), [])
  })

  test('--net=host is refused before anything starts', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', KVM, '--net=host', img.name, ...sh('echo never')])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /--net=host is not possible with the kvm stage1/)
    assert.match(r.stderr, /--port/)
  })
})
