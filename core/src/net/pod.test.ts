// Real root, real plugins (Debian's containernetworking-plugins), a throwaway pod directory: ADD and DEL of
// the built-in default network leave nothing behind (interface, route, iptables rule, lease, namespace).
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RktError} from '../errors.js'
import {PodPaths} from '../stage1/paths.js'
import {isRoot, skipUnless} from '../testing.js'
import {isNetnsMounted} from './netns.js'
import {cniArgs, forwardingNet, portMappings, setupPodNetworks, teardownPodNetworks, withPortmap} from './pod.js'

const havePlugins = fs.existsSync('/usr/lib/cni/ptp') || fs.existsSync('/opt/cni/bin/ptp')
const skip = skipUnless(isRoot && havePlugins, 'needs root and containernetworking-plugins')

/** A pod directory laid out as stage0 does: <data>/pods/run/<uuid>. */
function podDir(): {data: string; paths: PodPaths; uuid: string; localConfig: string} {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-net-pod-'))
  const uuid = crypto.randomUUID()
  const root = path.join(data, 'pods', 'run', uuid)
  fs.mkdirSync(root, {recursive: true})
  const localConfig = path.join(data, 'config')
  fs.mkdirSync(path.join(localConfig, 'net.d'), {recursive: true})
  return {data, paths: new PodPaths(root), uuid, localConfig}
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
  test('mappings from the manifest: the app port of that name, or the exposed port’s own', () => {
    const app = {ports: [{name: 'http', protocol: 'tcp', port: 80, count: 1, socketActivated: false}]}
    const apps = [app] as unknown as Parameters<typeof portMappings>[1]
    assert.deepEqual(portMappings([{name: 'http', hostPort: 8080}], apps), [
      {hostPort: 8080, containerPort: 80, protocol: 'tcp'},
    ])
    assert.deepEqual(
      portMappings(
        [
          {
            name: 'dns',
            hostPort: 53,
            hostIP: '127.0.0.1',
            podPort: {name: 'dns', protocol: 'udp', port: 5353, count: 1, socketActivated: false},
          },
        ],
        apps,
      ),
      [{hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1'}],
    )
    assert.throws(() => portMappings([{name: 'nope', hostPort: 1}], apps), RktError)
  })
  test('CNI_ARGS let each plugin of a chain ignore the keys of the others', () => {
    assert.equal(cniArgs(''), '')
    assert.equal(cniArgs('IP=10.1.2.3'), 'IgnoreUnknown=1;IP=10.1.2.3')
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
