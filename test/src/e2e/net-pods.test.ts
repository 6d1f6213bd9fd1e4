// Contained networking under the nspawn stage1 (docs/networking.md), with real plugins (Debian's
// containernetworking-plugins), real network namespaces and iptables: pods on the built-in default network
// reach each other and the host, --net=none reaches nothing, default-restricted has no default route, a
// bridge network from net.d honours IP=, --port answers on the host's loopback and from a "remote host"
// namespace joined by a veth pair, and gc leaves no veth, namespace, iptables rule or lease, even after
// SIGKILL. Every sandbox has its own data dir, hence its own IPAM leases (<data>/networks).
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {before, describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {ROOT} from '../util/harness.js'
import {HOST_PAGE, HOST_SERVICE, startHostService} from '../util/host-service.js'
import {BASE, killPodCgroups, NSPAWN, podCgroups, PodSandbox, podTraces, sh, type PodImageSpec} from '../util/pods.js'

const PLUGINS = ['ptp', 'bridge', 'host-local', 'loopback', 'portmap']

/** Fails loudly (whatever CI says) when the host cannot do what every test here needs. */
before(async () => {
  const missing = PLUGINS.filter((p) => !fs.existsSync(path.join('/usr/lib/cni', p)))
  assert.deepEqual(missing, [], 'CNI plugins missing: apt-get install containernetworking-plugins')
  const nat = await execa('iptables', ['-t', 'nat', '-S'], {reject: false})
  assert.equal(nat.exitCode, 0, `iptables nat table unusable (apt-get install iptables): ${String(nat.stderr)}`)
  assert.ok(fs.existsSync('/dev/net/tun'), '/dev/net/tun is missing')
  for (const tool of ['curl', 'unshare', 'nsenter', 'ip']) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], {reject: false})
    assert.equal(r.exitCode, 0, `${tool} is missing (scripts/setup installs it)`)
  }
})

/** What a pod can leave on the host: interfaces, nsfs mounts, nat rules, routes. */
async function hostNet(): Promise<{links: string[]; netns: string[]; nat: string[]; routes: string[]}> {
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
    .sort()
  const netns = readMountinfo()
    .filter((m) => m.fsType === 'nsfs')
    .map((m) => m.mountPoint)
    .sort()
  // portmap's shared entry chains (CNI-HOSTPORT-DNAT/MASQ/SETMARK and their jumps) are made once per host and
  // never removed by the plugin: they hold nothing of a pod, whose rules are in its own CNI-DN-… chain.
  const shared = (r: string): boolean =>
    r.includes('CNI-HOSTPORT-') && !r.includes('CNI-DN-') && !r.includes('dnat name')
  const nat = (await execa('iptables', ['-t', 'nat', '-S'])).stdout
    .split('\n')
    .filter((r) => !shared(r))
    .sort()
  const routes = (await execa('ip', ['-4', 'route'])).stdout.split('\n').sort()
  return {links, netns, nat, routes}
}

/** The pod's networks as `rkt status --format=json` shows them. */
async function networks(ps: PodSandbox, uuid: string): Promise<{netName: string; ifName: string; ip: string}[]> {
  const r = await ps.rkt(['status', '--format=json', uuid])
  assert.equal(r.exitCode, 0, r.stderr)
  return (JSON.parse(r.stdout) as {networks?: {netName: string; ifName: string; ip: string}[]}).networks ?? []
}

/** Leases host-local holds in the sandbox (the files named by IP). */
function leases(ps: PodSandbox): string[] {
  const dir = path.join(ps.data, 'networks')
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .flatMap((n) => fs.readdirSync(path.join(dir, n)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)))
}

const gc = async (ps: PodSandbox): Promise<void> => {
  const r = await ps.rkt(['gc', '--grace-period=0s'])
  assert.equal(r.exitCode, 0, r.stderr)
}

/** A sleeping pod that says it is ready. */
const SLEEPER = sh(': > /ready; exec sleep 60')

describe('contained networks (nspawn, CNI)', () => {
  test('two pods on default reach each other by IP, and the host; list and status show the network', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const a = await ps.start(['run', NSPAWN, img.name, ...SLEEPER], {readyFile: '/ready'})
    const nets = await networks(ps, a.uuid)
    assert.equal(nets.length, 1)
    assert.equal(nets[0]!.netName, 'default')
    assert.equal(nets[0]!.ifName, 'eth0')
    assert.match(nets[0]!.ip, /^172\.16\.28\.\d+$/)
    const st = await ps.rkt(['status', a.uuid])
    assert.match(st.stdout, new RegExp(`^networks=default:ip4=${nets[0]!.ip.replace(/\./g, '\\.')}$`, 'm'))
    const list = await ps.rkt(['list', '--no-legend'])
    assert.match(list.stdout, new RegExp(`default:ip4=${nets[0]!.ip.replace(/\./g, '\\.')}`))

    // The host: the address of the pod's peer on the host side (its gateway), and a host TCP listener there.
    const b = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      ...sh(`ping -c1 -W3 ${nets[0]!.ip} >/dev/null && echo pod-ok; ip route | grep default | cut -d" " -f3`),
    ])
    assert.equal(b.exitCode, 0, b.stderr)
    const [ok, gateway] = b.stdout.split('\n')
    assert.equal(ok, 'pod-ok')
    const server = execa('busybox', ['nc', '-l', '-p', '18731', '-w', '10'], {reject: false})
    try {
      await new Promise((r) => setTimeout(r, 200))
      const c = await ps.rkt(['run', NSPAWN, img.name, ...sh(`echo hello-host | nc -w 3 ${gateway} 18731`)])
      assert.equal(c.exitCode, 0, c.stderr)
      assert.equal(String((await server).stdout).trim(), 'hello-host')
    } finally {
      server.kill()
    }
    // An IPv4 loopback inside: lo is up.
    const lo = await ps.rkt(['run', NSPAWN, img.name, ...sh('ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-ok')])
    assert.equal(lo.stdout, 'lo-ok', `exit ${lo.exitCode}: ${lo.stderr}`)
  })

  test('--net=none reaches nothing but itself', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      NSPAWN,
      '--net=none',
      img.name,
      ...sh(
        'ping -c1 -W2 127.0.0.1 >/dev/null && echo lo-ok; ping -c1 -W2 172.16.28.1 >/dev/null 2>&1 || echo no-host',
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'lo-ok\nno-host')
    assert.ok(!fs.existsSync(path.join(ps.s.data, 'networks')), 'no IPAM for --net=none')
  })

  test('default-restricted: an address in 172.31.0.0/16, and no default route', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      NSPAWN,
      '--net=default-restricted',
      img.name,
      ...sh('ip -4 addr show eth0; ip route'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.match(r.stdout, /inet 172\.31\.\d+\.\d+\/16/)
    assert.doesNotMatch(r.stdout, /^default/m)
  })

  test('a bridge network from net.d with IP= gets that address; default-restricted joins as eth1', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const bridge = `rkttb${crypto.randomBytes(3).toString('hex')}`
    t.after(() => execa('ip', ['link', 'del', bridge], {reject: false}))
    fs.mkdirSync(path.join(ps.s.localConfig, 'net.d'), {recursive: true})
    fs.writeFileSync(
      path.join(ps.s.localConfig, 'net.d', '10-testbr.conf'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'testbr',
        type: 'bridge',
        bridge,
        isGateway: true,
        ipam: {type: 'host-local', subnet: '10.213.41.0/24'},
      }),
    )
    const r = await ps.rkt([
      'run',
      NSPAWN,
      '--net=testbr:IP=10.213.41.77',
      img.name,
      ...sh('ip -4 -o addr show eth0 | grep -o "inet [^ ]*"; ip -4 -o addr show eth1 | grep -o "inet 172\\.31"'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'inet 10.213.41.77/24\ninet 172.31')
    await gc(ps)
    assert.deepEqual(leases(ps), [])
  })

  test('DNS: the first result carrying it makes resolv.conf, unless --dns says otherwise', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    fs.mkdirSync(path.join(ps.s.localConfig, 'net.d'), {recursive: true})
    fs.writeFileSync(
      path.join(ps.s.localConfig, 'net.d', '10-withdns.conf'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'withdns',
        type: 'ptp',
        ipam: {type: 'host-local', subnet: '10.213.44.0/24'},
        dns: {nameservers: ['10.213.44.53'], search: ['pods.example']},
      }),
    )
    const r = await ps.rkt(['run', NSPAWN, '--net=withdns', img.name, ...sh('cat /etc/resolv.conf')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.match(r.stdout, /^search pods\.example$/m)
    assert.match(r.stdout, /^nameserver 10\.213\.44\.53$/m)
    const flagged = await ps.rkt([
      'run',
      NSPAWN,
      '--net=withdns',
      '--dns=10.9.9.9',
      img.name,
      ...sh('cat /etc/resolv.conf'),
    ])
    assert.equal(flagged.exitCode, 0, flagged.stderr)
    assert.match(flagged.stdout, /^nameserver 10\.9\.9\.9$/m)
    assert.doesNotMatch(flagged.stdout, /10\.213\.44\.53/)
    const none = await ps.rkt([
      'run',
      NSPAWN,
      '--net=withdns',
      '--dns=none',
      img.name,
      ...sh('cat /etc/resolv.conf 2>&1; true'),
    ])
    assert.doesNotMatch(none.stdout, /10\.213\.44\.53/)
  })

  test('a plugin’s error reaches the user with its message', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    fs.mkdirSync(path.join(ps.s.localConfig, 'net.d'), {recursive: true})
    fs.writeFileSync(
      path.join(ps.s.localConfig, 'net.d', '10-small.conf'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'small',
        type: 'ptp',
        ipam: {type: 'host-local', subnet: '10.213.42.0/24'},
      }),
    )
    const r = await ps.rkt(['run', NSPAWN, '--net=small:IP=10.99.0.1', img.name, ...sh('true')])
    assert.notEqual(r.exitCode, 0)
    assert.match(r.stderr, /network "small": plugin ptp failed on ADD: .*10\.99\.0\.1/)
    const unknown = await ps.rkt(['run', NSPAWN, '--net=nosuch', img.name, ...sh('true')])
    assert.match(unknown.stderr, /network "nosuch" is not configured/)
  })
})

describe('fly and networks', () => {
  test('fly shares the host’s network and refuses a network of the pod’s own', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    for (const net of ['none', 'default-restricted', 'all']) {
      const r = await ps.rkt(['run', `--net=${net}`, img.name, ...sh('true')])
      assert.equal(r.exitCode, 254, `--net=${net}`)
      assert.match(r.stderr, /the fly stage1 has no networking of its own/)
      assert.match(r.stderr, /--net=host/)
    }
    for (const net of ['host', 'default']) {
      const r = await ps.rkt(['run', `--net=${net}`, img.name, ...sh('true')])
      assert.equal(r.exitCode, 0, r.stderr)
    }
    // --port forwards nothing under fly (the app's ports are the host's own): said, and no host service's port
    // is refused for it.
    const web = await ps.image(WEB)
    const port = 18000 + crypto.randomInt(900)
    await startHostService(t, 'tcp', '0.0.0.0', port)
    const r = await ps.rkt(['run', `--port=http:${port}`, web.name, ...sh('true')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.match(r.stderr, /--port ignored: fly pods use the host’s network/)
  })
})

/** An image serving /www on port 80 with busybox httpd, the port named `http` (and a UDP port `dns`). */
const WEB: PodImageSpec = {
  name: 'example.com/net-web',
  version: '1.0',
  files: {'/www/index.html': 'hello from the pod\n'},
  app: {
    ports: [
      {name: 'http', protocol: 'tcp', port: 80},
      {name: 'dns', protocol: 'udp', port: 53},
    ],
  },
}
const SERVE = sh(': > /ready; exec httpd -f -p 80 -h /www')

describe('--port and gc (nspawn, CNI)', () => {
  test('--port=http:PORT answers on the host’s 127.0.0.1 and from a remote host’s namespace; HOSTIP limits it', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const port = 18000 + crypto.randomInt(900)
    await ps.start(['run', NSPAWN, `--port=http:${port}`, img.name, ...SERVE], {readyFile: '/ready'})
    const local = await execa('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/`], {reject: false})
    assert.equal(local.stdout, 'hello from the pod', local.stderr)

    // A "remote host": its own namespace, joined to the host by a veth pair, so traffic comes in from outside.
    const tag = crypto.randomBytes(2).toString('hex')
    const nsFile = path.join(ps.s.work, 'remote-netns')
    const hostIf = `rktrh${tag}`
    const remoteIf = `rktrr${tag}`
    fs.writeFileSync(nsFile, '')
    t.after(async () => {
      await execa('ip', ['link', 'del', hostIf], {reject: false})
      await execa('umount', [nsFile], {reject: false})
    })
    await execa('unshare', [`--net=${nsFile}`, 'true'])
    await execa('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', remoteIf])
    await execa('ip', ['link', 'set', remoteIf, 'netns', nsFile])
    await execa('ip', ['addr', 'add', '10.213.43.1/30', 'dev', hostIf])
    await execa('ip', ['link', 'set', hostIf, 'up'])
    const inRemote = (args: string[]) => execa('nsenter', [`--net=${nsFile}`, ...args], {reject: false})
    await inRemote(['ip', 'addr', 'add', '10.213.43.2/30', 'dev', remoteIf])
    await inRemote(['ip', 'link', 'set', remoteIf, 'up'])
    await inRemote(['ip', 'link', 'set', 'lo', 'up'])
    const remote = await inRemote(['curl', '-sS', '--max-time', '5', `http://10.213.43.1:${port}/`])
    assert.equal(remote.stdout, 'hello from the pod', remote.stderr)

    // HOSTIP: forwarded on that address only.
    const port2 = port + 1000
    await ps.start(['run', NSPAWN, `--port=http:127.0.0.1:${port2}`, img.name, ...SERVE], {readyFile: '/ready'})
    const bound = await execa('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port2}/`], {reject: false})
    assert.equal(bound.stdout, 'hello from the pod', bound.stderr)
    const elsewhere = await inRemote(['curl', '-sS', '--max-time', '3', `http://10.213.43.1:${port2}/`])
    assert.notEqual(elsewhere.exitCode, 0, 'not forwarded on the host’s other addresses')
  })

  test('an exited pod’s port forward gives way to a new pod’s without gc; a running pod’s is refused', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const port = 18000 + crypto.randomInt(900)
    // A pod that forwarded the port and exited: its networks (and DNAT rule) stay until gc, as in rkt.
    const a = await ps.rkt([
      'run',
      NSPAWN,
      `--uuid-file-save=${ps.s.work}/a.uuid`,
      `--port=http:${port}`,
      img.name,
      ...sh('true'),
    ])
    assert.equal(a.exitCode, 0, a.stderr)
    const aUuid = fs.readFileSync(`${ps.s.work}/a.uuid`, 'utf8').trim()
    assert.ok(fs.existsSync(path.join(ps.podPath(aUuid), 'net-state.json')))

    const b = await ps.start(['run', NSPAWN, `--port=http:${port}`, img.name, ...SERVE], {readyFile: '/ready'})
    const got = await execa('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/`], {reject: false})
    assert.equal(got.stdout, 'hello from the pod', got.stderr)
    assert.ok(!fs.existsSync(path.join(ps.podPath(aUuid), 'net-state.json')), 'the exited pod’s networks are gone')
    assert.equal((await ps.statusJson(aUuid)).state, 'exited')

    const c = await ps.rkt(['run', NSPAWN, `--port=http:${port}`, img.name, ...sh('true')])
    assert.equal(c.exitCode, 254)
    assert.match(c.stderr, new RegExp(`host port ${port}/tcp is forwarded to pod ${b.uuid}, which is running`))
    assert.match(c.stderr, /rkt stop/)

    assert.equal((await ps.rkt(['stop', b.uuid])).exitCode, 0)
    const ended = await b.proc
    assert.match(String(ended.stderr), new RegExp(`releasing host port ${port}/tcp from exited pod ${aUuid}`))
    await gc(ps)
  })

  test('the check is stage0’s, for every engine: a fly app gets the host port an exited pod forwarded', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const port = 18000 + crypto.randomInt(900)
    const aFile = path.join(ps.s.work, 'a.uuid')
    const a = await ps.rkt(['run', NSPAWN, `--uuid-file-save=${aFile}`, `--port=http:${port}`, img.name, ...sh('true')])
    assert.equal(a.exitCode, 0, a.stderr)
    const aUuid = fs.readFileSync(aFile, 'utf8').trim()
    assert.ok(fs.existsSync(path.join(ps.podPath(aUuid), 'net-state.json')), 'the exited pod keeps its networks')

    // fly forwards nothing (its app binds the host's port itself), but the exited pod's DNAT rule would take
    // the host's traffic to that port first: stage0 has that pod's own stage1 gc release it before fly runs.
    const fly = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-fly.aci')}`
    const b = await ps.start(
      ['run', fly, `--port=http:${port}`, img.name, ...sh(`: > /ready; exec httpd -f -p ${port} -h /www`)],
      {
        readyFile: '/ready',
      },
    )
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'hello from the pod')
    assert.ok(!fs.existsSync(path.join(ps.podPath(aUuid), 'net-state.json')), 'the exited pod’s networks are gone')
    assert.ok(!fs.existsSync(path.join(ps.podPath(aUuid), 'netns')))
    assert.equal((await ps.statusJson(aUuid)).state, 'exited', 'released, not collected')
    assert.doesNotMatch((await execa('iptables', ['-t', 'nat', '-S'])).stdout, new RegExp(aUuid))
    assert.equal((await ps.rkt(['stop', b.uuid])).exitCode, 0)
    const ended = await b.proc
    assert.match(String(ended.stderr), new RegExp(`releasing host port ${port}/tcp from exited pod ${aUuid}`))
    await gc(ps)
  })

  test('after gc nothing of the pod remains on the host, even when it was SIGKILLed', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const before = await hostNet()
    const port = 18000 + crypto.randomInt(900)
    const pod = await ps.start(['run', NSPAWN, `--port=http:${port}`, img.name, ...SERVE], {readyFile: '/ready'})
    const during = await hostNet()
    assert.ok(during.links.length > before.links.length, 'a veth on the host while the pod runs')
    assert.ok(
      during.nat.some((r) => r.includes(pod.uuid)),
      'rules of the pod while it runs',
    )
    assert.equal(leases(ps).length, 1)

    process.kill(pod.pid, 'SIGKILL')
    await killPodCgroups(pod.uuid)
    await pod.proc
    await gc(ps)
    assert.deepEqual(await hostNet(), before)
    assert.deepEqual(leases(ps), [])
    assert.equal(ps.podDir(pod.uuid), undefined, 'the pod is gone')
  })
})

/** What curl gets from a URL, at once ('' when nothing answers; execa strips the last newline). */
async function fetchText(url: string): Promise<string> {
  return String((await execa('curl', ['-sS', '--max-time', '5', url], {reject: false})).stdout)
}

/** The host's first IPv4 address other than loopback: a HOSTIP the tests' listeners are not on. */
function hostAddress(): string {
  const a = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i?.family === 'IPv4' && !i.internal)?.address
  assert.ok(a, 'the host has no IPv4 address besides loopback')
  return a
}

describe('--port and the host’s own services (nspawn)', () => {
  test('a host port a host service holds is refused, naming it, before anything is set up; another HOSTIP is not', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const port = 18000 + crypto.randomInt(900)
    const cases = [
      {proto: 'tcp', addr: '0.0.0.0', port, flag: `--port=http:${port}`},
      {proto: 'tcp', addr: '127.0.0.1', port: port + 1, flag: `--port=http:${port + 1}`},
      {proto: 'tcp', addr: '::', port: port + 2, flag: `--port=http:127.0.0.1:${port + 2}`},
      {proto: 'udp', addr: '0.0.0.0', port: port + 3, flag: `--port=dns:${port + 3}`},
    ] as const
    const refused: {uuid: string; dir: string}[] = []
    for (const c of cases) {
      const svc = await startHostService(t, c.proto, c.addr, c.port)
      const uuidFile = path.join(ps.s.work, `${c.port}.uuid`)
      const r = await ps.rkt(['run', NSPAWN, `--uuid-file-save=${uuidFile}`, c.flag, img.name, ...sh('true')])
      const shown = c.addr.includes(':') ? `[${c.addr}]` : c.addr
      assert.equal(r.exitCode, 254, `${c.flag} with ${c.proto} ${shown}:${c.port} held: ${r.stderr}`)
      const said = `host port ${c.port}/${c.proto} is in use on the host: ${HOST_SERVICE} (pid ${svc.pid}) listens on ${shown}:${c.port}`
      assert.ok(r.stderr.includes(said), r.stderr)
      assert.match(r.stderr, /forward another host port: --port=NAME:OTHERPORT, or stop that service/)
      // Nothing of the pod's networks or cgroups exists: the check comes before them.
      const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
      const dir = ps.podPath(uuid)
      for (const f of ['netns', 'net-state.json', 'net-info.json', 'cgroups'])
        assert.ok(!fs.existsSync(path.join(dir, f)), `${f} of the refused pod`)
      assert.ok(!readMountinfo().some((m) => m.fsType === 'nsfs' && m.mountPoint.startsWith(dir)))
      assert.doesNotMatch((await execa('iptables', ['-t', 'nat', '-S'])).stdout, new RegExp(uuid))
      assert.deepEqual(podCgroups(uuid), [])
      refused.push({uuid, dir})
      await svc.stop()
    }

    // A forward on another of the host's addresses than the listener's: accepted, and each gets its own traffic.
    const ip = hostAddress()
    await startHostService(t, 'tcp', '127.0.0.1', port)
    const ok = await ps.start(['run', NSPAWN, `--port=http:${ip}:${port}`, img.name, ...SERVE], {readyFile: '/ready'})
    assert.equal(await fetchText(`http://${ip}:${port}/`), 'hello from the pod')
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), HOST_PAGE)

    for (const {uuid} of refused) assert.equal((await ps.statusJson(uuid)).state, 'exited')
    assert.equal((await ps.rkt(['stop', ok.uuid])).exitCode, 0)
    await gc(ps)
    for (const {uuid, dir} of refused) assert.deepEqual(podTraces(uuid, dir), {mounts: [], cgroups: [], processes: []})
  })

  test('rkt stop frees the pod’s host port at once; status and list still show its network; gc leaves nothing', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(WEB)
    const before = await hostNet()
    const port = 18000 + crypto.randomInt(900)
    const a = await ps.start(['run', NSPAWN, `--port=http:${port}`, img.name, ...SERVE], {readyFile: '/ready'})
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'hello from the pod')
    const shown = await networks(ps, a.uuid)
    const ip = shown[0]?.ip ?? ''
    assert.match(ip, /^172\.16\.28\.\d+$/)

    const stop = await ps.rkt(['stop', a.uuid])
    assert.equal(stop.exitCode, 0, stop.stderr)
    // Straight away: a host service takes the port, and the host's own traffic to it reaches that service.
    const svc = await startHostService(t, 'tcp', '0.0.0.0', port)
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), HOST_PAGE)
    assert.doesNotMatch((await execa('iptables', ['-t', 'nat', '-S'])).stdout, new RegExp(a.uuid))
    assert.equal((await a.proc).exitCode, 143)

    // The stopped pod is still shown with the network it had.
    assert.deepEqual(await networks(ps, a.uuid), shown)
    const status = await ps.rkt(['status', a.uuid])
    assert.ok(status.stdout.split('\n').includes(`networks=default:ip4=${ip}`), status.stdout)
    const row = (await ps.rkt(['list', '--full', '--no-legend'])).stdout.split('\n').find((l) => l.startsWith(a.uuid))
    assert.ok(row?.includes('exited') && row.includes(`default:ip4=${ip}`), row)

    // A new pod forwarding the port (once the host service is gone) finds nothing of the stopped pod to release.
    await svc.stop()
    const bFile = path.join(ps.s.work, 'b.uuid')
    const b = await ps.rkt(['run', NSPAWN, `--uuid-file-save=${bFile}`, `--port=http:${port}`, img.name, ...sh('true')])
    assert.equal(b.exitCode, 0, b.stderr)
    assert.doesNotMatch(b.stderr, /releasing host port/)
    // That pod exited by itself and keeps its networks, as before; rkt stop on it releases them too.
    const bDir = ps.podPath(fs.readFileSync(bFile, 'utf8').trim())
    assert.ok(fs.existsSync(path.join(bDir, 'net-state.json')))
    const again = await ps.rkt(['stop', path.basename(bDir)])
    assert.match(again.stdout, /is already stopped/)
    assert.ok(!fs.existsSync(path.join(bDir, 'net-state.json')) && !fs.existsSync(path.join(bDir, 'netns')))

    const collected = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(collected.exitCode, 0, collected.stderr)
    assert.doesNotMatch(collected.stderr, /fail|error|warning/i)
    assert.deepEqual(await hostNet(), before)
    assert.deepEqual(leases(ps), [])
    assert.equal(ps.podDir(a.uuid), undefined)
  })
})
