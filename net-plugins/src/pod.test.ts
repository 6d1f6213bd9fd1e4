// Real root, real plugins (Debian's containernetworking-plugins), a throwaway pod directory: ADD and DEL of
// the built-in default network leave nothing behind (interface, route, iptables rule, lease, namespace).
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ENV, PodPaths, RktError} from '@rkt/core/stage1'
import {isRoot, skipUnless} from '@rkt/core/testing'

import {builtinNetFiles} from './config.js'
import {isNetnsMounted} from './netns.js'
import {cniArgs, forwardingNet, setupPodNetworks, shadows, teardownPodNetworks, withPortmap} from './pod.js'

const havePlugins = fs.existsSync('/usr/lib/cni/ptp') || fs.existsSync('/opt/cni/bin/ptp')
const skip = skipUnless(isRoot && havePlugins, 'needs root and containernetworking-plugins')

/**
 * A pod directory laid out as stage0 does, <data>/pods/run/<uuid>, its stage1 rootfs carrying the built-in
 * networks as an image build puts them there, and the leases directory stage0 names in the environment.
 */
function podDir(): {data: string; paths: PodPaths; uuid: string; localConfig: string} {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-net-pod-'))
  const uuid = crypto.randomUUID()
  const paths = new PodPaths(path.join(data, 'pods', 'run', uuid))
  for (const [file, text] of Object.entries(builtinNetFiles())) {
    fs.mkdirSync(path.dirname(path.join(paths.stage1Rootfs, file)), {recursive: true})
    fs.writeFileSync(path.join(paths.stage1Rootfs, file), text)
  }
  const localConfig = path.join(data, 'config')
  fs.mkdirSync(path.join(localConfig, 'net.d'), {recursive: true})
  process.env[ENV.networksDir] = path.join(data, 'networks')
  return {data, paths, uuid, localConfig}
}

async function host(cmd: string, args: string[]): Promise<string> {
  return (await execa(cmd, args)).stdout
}

describe('forwarded ports', () => {
  const net = (name: string, ipMasq: boolean, cniVersion = '1.0.0') => ({
    net: {name, cniVersion, file: 'f', plugins: [{type: 'ptp', ipMasq}]},
    args: '',
    ifName: 'eth0',
  })
  test('the forwarding network: the first with ipMasq, else the last', () => {
    assert.equal(forwardingNet([net('a', false), net('b', true), net('c', true)]), 1)
    assert.equal(forwardingNet([net('a', false), net('b', false)]), 1)
  })
  test('portmap is chained after it; a pre-0.3.0 network cannot chain', () => {
    const n = withPortmap(net('a', true).net)
    assert.deepEqual(n.plugins.at(-1), {type: 'portmap', capabilities: {portMappings: true}, snat: true})
    assert.throws(
      () => withPortmap(net('old', true, '0.2.0').net),
      (e) => e instanceof RktError && /cniVersion 0\.3\.0/.test(e.message) && e.hint !== undefined,
    )
  })
  test('CNI_ARGS let each plugin of a chain ignore the keys of the others', () => {
    assert.equal(cniArgs(''), '')
    assert.equal(cniArgs('IP=10.1.2.3'), 'IgnoreUnknown=1;IP=10.1.2.3')
  })
})

describe('a forward and the host’s own sockets', () => {
  const sock = (address: string, protocol: 'tcp' | 'udp' = 'tcp') => ({protocol, address, port: 5000, inode: 1})
  const fwd = (hostIP?: string, protocol = 'tcp') => ({
    hostPort: 5000,
    containerPort: 80,
    protocol,
    ...(hostIP === undefined ? {} : {hostIP}),
  })
  test('a forward for every address takes every listener’s traffic, the host’s loopback included', () => {
    for (const a of ['0.0.0.0', '127.0.0.1', '192.0.2.2', '::', '::1']) assert.ok(shadows(fwd(), sock(a)), a)
  })
  test('a wildcard listener gets every address’s traffic: any forward takes it', () => {
    for (const ip of [undefined, '192.0.2.2', '127.0.0.1']) {
      assert.ok(shadows(fwd(ip), sock('0.0.0.0')), ip)
      assert.ok(shadows(fwd(ip), sock('::')), ip)
    }
  })
  test('a forward on one address takes only a listener on that address', () => {
    assert.ok(shadows(fwd('192.0.2.2'), sock('192.0.2.2')))
    assert.ok(!shadows(fwd('192.0.2.2'), sock('127.0.0.1')))
    assert.ok(!shadows(fwd('192.0.2.2'), sock('::1')))
    assert.ok(shadows(fwd('0:0:0:0:0:0:0:1'), sock('::1')), 'IPv6 compared in one spelling')
  })
  test('another port or protocol is no overlap', () => {
    assert.ok(!shadows(fwd(), {...sock('0.0.0.0'), port: 5001}))
    assert.ok(!shadows(fwd(undefined, 'udp'), sock('0.0.0.0', 'tcp')))
    assert.ok(shadows(fwd(undefined, 'udp'), sock('0.0.0.0', 'udp')))
  })
})

describe('pod networks (root)', {skip}, () => {
  test('default: ADD gives eth0 an address and the host a veth, rule and lease; DEL removes them', async () => {
    const {data, paths, uuid, localConfig} = podDir()
    try {
      const nets = await setupPodNetworks(paths, {uuid, netList: 'default', localConfig, ports: []})
      assert.ok(nets !== undefined)
      assert.ok(isNetnsMounted(paths.netns))
      const info = JSON.parse(fs.readFileSync(paths.netInfo, 'utf8')) as {
        netName: string
        ip: string
        ifName: string
        mask: string
      }[]
      assert.equal(info.length, 1)
      assert.equal(info[0]!.netName, 'default')
      assert.equal(info[0]!.ifName, 'eth0')
      assert.equal(info[0]!.mask, '255.255.255.0')
      assert.match(info[0]!.ip, /^172\.16\.28\.\d+$/)
      const inside = await host('nsenter', [`--net=${paths.netns}`, 'ip', '-4', '-o', 'addr', 'show', 'eth0'])
      assert.match(inside, new RegExp(`${info[0]!.ip.replace(/\./g, '\\.')}/24`))
      const route = await host('nsenter', [`--net=${paths.netns}`, 'ip', 'route'])
      assert.match(route, /^default via 172\.16\.28\.\d+ dev eth0/m)
      const leases = path.join(data, 'networks', 'default')
      assert.ok(fs.readdirSync(leases).includes(info[0]!.ip))
      assert.match(await host('iptables-save', ['-t', 'nat']), new RegExp(uuid))
      assert.match(await host('ip', ['-4', 'route']), new RegExp(`^${info[0]!.ip.replace(/\./g, '\\.')} dev veth`, 'm'))

      await teardownPodNetworks(paths)
      assert.ok(!fs.existsSync(paths.netns))
      assert.ok(!fs.existsSync(paths.netState))
      assert.ok(!fs.readdirSync(leases).includes(info[0]!.ip))
      assert.doesNotMatch(await host('iptables-save', ['-t', 'nat']), new RegExp(uuid))
      assert.doesNotMatch(await host('ip', ['-4', 'route']), new RegExp(`^${info[0]!.ip.replace(/\./g, '\\.')} `, 'm'))
      // idempotent
      await teardownPodNetworks(paths)
    } finally {
      await teardownPodNetworks(paths).catch(() => {})
      fs.rmSync(data, {recursive: true, force: true})
    }
  })

  test('a host port a host service listens on is refused, naming it, before anything is made', async () => {
    const {data, paths, uuid, localConfig} = podDir()
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as net.AddressInfo).port
      const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim()
      await assert.rejects(
        setupPodNetworks(paths, {
          uuid,
          netList: 'default',
          localConfig,
          ports: [{hostPort: port, containerPort: 80, protocol: 'tcp'}],
        }),
        (e) =>
          e instanceof RktError &&
          e.code === 'EPORTINUSE' &&
          e.message ===
            `host port ${port}/tcp is in use on the host: ${comm} (pid ${process.pid}) listens on 127.0.0.1:${port}` &&
          /--port=NAME:OTHERPORT/.test(e.hint ?? ''),
      )
      assert.deepEqual(fs.readdirSync(paths.root), ['stage1'], 'no namespace, no state')
      assert.ok(!fs.existsSync(path.join(data, 'networks')), 'no lease directory')
      // The same port on another of the host's addresses is no conflict.
      const nets = await setupPodNetworks(paths, {
        uuid,
        netList: 'default',
        localConfig,
        ports: [{hostPort: port, containerPort: 80, protocol: 'tcp', hostIP: '192.0.2.77'}],
      })
      assert.ok(nets !== undefined)
    } finally {
      server.close()
      await teardownPodNetworks(paths).catch(() => {})
      fs.rmSync(data, {recursive: true, force: true})
    }
  })

  test('a net.d network named default replaces the built-in: its file, its subnet', async () => {
    const {data, paths, uuid, localConfig} = podDir()
    try {
      const mine = path.join(localConfig, 'net.d', '50-mine.conf')
      fs.writeFileSync(
        mine,
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'default',
          type: 'ptp',
          ipam: {type: 'host-local', subnet: '10.213.60.0/24'},
        }),
      )
      await setupPodNetworks(paths, {uuid, netList: 'default', localConfig, ports: []})
      const info = JSON.parse(fs.readFileSync(paths.netInfo, 'utf8')) as {
        netName: string
        netConf: string
        ip: string
      }[]
      assert.deepEqual(
        info.map((n) => n.netName),
        ['default'],
      )
      assert.equal(info[0]!.netConf, mine)
      assert.match(info[0]!.ip, /^10\.213\.60\.\d+$/)
      // Without it, the built-in from the pod's stage1 rootfs.
      await teardownPodNetworks(paths)
      fs.rmSync(mine)
      await setupPodNetworks(paths, {uuid, netList: 'default', localConfig, ports: []})
      const builtin = JSON.parse(fs.readFileSync(paths.netInfo, 'utf8')) as {netConf: string; ip: string}[]
      assert.equal(builtin[0]!.netConf, path.join(paths.stage1Rootfs, 'etc/rkt/net.d/90-default.conflist'))
      assert.match(builtin[0]!.ip, /^172\.16\.28\.\d+$/)
    } finally {
      await teardownPodNetworks(paths).catch(() => {})
      fs.rmSync(data, {recursive: true, force: true})
    }
  })

  test('a plugin failure shows the plugin’s message and leaves nothing behind', async () => {
    const {data, paths, uuid, localConfig} = podDir()
    try {
      fs.writeFileSync(
        path.join(localConfig, 'net.d', '10-tiny.conf'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'tiny',
          type: 'ptp',
          ipam: {type: 'host-local', subnet: '10.213.77.0/30'},
        }),
      )
      await assert.rejects(
        setupPodNetworks(paths, {uuid, netList: 'tiny:IP=10.213.99.9', localConfig, ports: []}),
        (e) => e instanceof RktError && /network "tiny": plugin ptp failed on ADD: .*10\.213\.99\.9/.test(e.message),
      )
      assert.ok(!fs.existsSync(paths.netns))
      assert.ok(!fs.existsSync(paths.netState))
      assert.doesNotMatch(await host('iptables-save', ['-t', 'nat']), new RegExp(uuid))
    } finally {
      await teardownPodNetworks(paths).catch(() => {})
      fs.rmSync(data, {recursive: true, force: true})
    }
  })
})
