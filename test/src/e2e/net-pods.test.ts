// Contained networking under the nspawn stage1 (reference/rkt.md §4), with real plugins (Debian's
// containernetworking-plugins), real network namespaces and iptables: pods on the built-in default network
// reach each other and the host, --net=none reaches nothing, default-restricted has no default route, a
// bridge network from net.d honours IP=, --port answers on the host's loopback and from a "remote host"
// namespace joined by a veth pair, and gc leaves no veth, namespace, iptables rule or lease, even after
// SIGKILL. Every sandbox has its own data dir, hence its own IPAM leases (<data>/networks).
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {before, describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {BASE, killPodCgroups, NSPAWN, PodSandbox, sh, type PodImageSpec} from '../util/pods.js'

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
  })
})

/** An image serving /www on port 80 with busybox httpd, the port named `http`. */
const WEB: PodImageSpec = {
  name: 'example.com/net-web',
  version: '1.0',
  files: {'/www/index.html': 'hello from the pod\n'},
  app: {ports: [{name: 'http', protocol: 'tcp', port: 80}]},
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
