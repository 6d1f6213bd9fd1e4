import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {guestNetScript, parseInterfaces, prefix6, sh} from './net.js'

// What `ip -j` shows in a pod namespace after ptp + host-local (the built-in default network).
const ADDR = JSON.stringify([
  {
    ifname: 'lo',
    link_type: 'loopback',
    address: '00:00:00:00:00:00',
    addr_info: [{family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host'}],
  },
  {
    ifname: 'eth0',
    link_type: 'ether',
    mtu: 1500,
    address: '0a:58:ac:10:1c:05',
    addr_info: [
      {family: 'inet', local: '172.16.28.5', prefixlen: 24, scope: 'global'},
      {family: 'inet6', local: 'fe80::858:acff:fe10:1c05', prefixlen: 64, scope: 'link'},
      {family: 'inet6', local: 'fd00::5', prefixlen: 64, scope: 'global'},
    ],
  },
])
const ROUTES4 = JSON.stringify([
  {dst: 'default', gateway: '172.16.28.1', dev: 'eth0', flags: []},
  {dst: '172.16.28.0/24', gateway: '172.16.28.1', dev: 'eth0', flags: []},
  {dst: '172.16.28.1', dev: 'eth0', scope: 'link', flags: []},
])
// ptp with an IPv6 range: a host route to the gateway and the subnet via it, no prefix route.
const ROUTES6 = JSON.stringify([
  {dst: 'fd00::1', dev: 'eth0', metric: 1024, flags: []},
  {dst: 'fd00::/64', gateway: 'fd00::1', dev: 'eth0', metric: 1024, flags: []},
  {dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: []},
  {dst: 'default', gateway: 'fd00::1', dev: 'eth0', metric: 1024, flags: []},
  {type: 'multicast', dst: 'ff00::/8', dev: 'eth0', metric: 256, flags: []},
])

describe('pod interfaces into the guest', () => {
  test('parse: ethernet ethN only, global addresses of both families, every IPv4 route, the IPv6 routes but the kernel’s', () => {
    assert.deepEqual(parseInterfaces(ADDR, ROUTES4, ROUTES6), [
      {
        name: 'eth0',
        mac: '0a:58:ac:10:1c:05',
        mtu: 1500,
        addrs: ['172.16.28.5/24', 'fd00::5/64'],
        routes: [
          {family: 4, dst: 'default', gateway: '172.16.28.1'},
          {family: 4, dst: '172.16.28.0/24', gateway: '172.16.28.1'},
          {family: 4, dst: '172.16.28.1', scope: 'link'},
          {family: 6, dst: 'fd00::1', metric: 1024},
          {family: 6, dst: 'fd00::/64', gateway: 'fd00::1', metric: 1024},
          {family: 6, dst: 'default', gateway: 'fd00::1', metric: 1024},
        ],
        // the guest's kernel makes fd00::/64 dev eth0 for the address; the namespace has it only via the gateway
        dropRoutes6: ['fd00:0:0:0:0:0:0:0/64'],
      },
    ])
  })
  test('parse: a prefix route the namespace has too (the bridge plugin) is left to the guest’s kernel', () => {
    const bridge = JSON.stringify([
      {dst: 'fd00::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: []},
      {dst: 'default', gateway: 'fd00::1', dev: 'eth0', metric: 1024, flags: []},
    ])
    const [eth0] = parseInterfaces(ADDR, '[]', bridge)
    assert.deepEqual(eth0?.dropRoutes6, [])
    assert.deepEqual(eth0?.routes, [{family: 6, dst: 'default', gateway: 'fd00::1', metric: 1024}])
  })
  test('prefix6 masks any spelling', () => {
    assert.equal(prefix6('fd00:ab:cd::1234/48'), 'fd00:ab:cd:0:0:0:0:0/48')
    assert.equal(prefix6('2001:db8::ffff:1/126'), '2001:db8:0:0:0:0:ffff:0/126')
    assert.equal(prefix6('::1/128'), '0:0:0:0:0:0:0:1/128')
  })
  test('the guest script names NICs by MAC, turns DAD off before the link is up, flushes IPv4 kernel routes, adds link routes before gateways', () => {
    const lines = guestNetScript(parseInterfaces(ADDR, ROUTES4, ROUTES6))
    const at = (needle: string): number => lines.findIndex((l) => l.includes(needle))
    assert.ok(at("'0a:58:ac:10:1c:05') n0=${d##*/} ;;") > 0)
    assert.ok(
      at(
        `if [ "\${n0}" != 'eth0' ]; then ip link set dev "\${n0}" name rkt-nic0; ip link set dev rkt-nic0 name eth0; fi`,
      ) > 0,
    )
    assert.ok(at('echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad') < at('dev eth0 mtu 1500 up'))
    assert.ok(at("addr add '172.16.28.5/24' dev eth0") < at('route flush dev eth0'))
    assert.ok(at("route add '172.16.28.1' dev eth0 scope 'link'") < at("route add 'default' via '172.16.28.1'"))
    assert.ok(at('route flush dev eth0') < at("route add '172.16.28.1'"))
    assert.ok(at("addr add 'fd00::5/64' dev eth0") < at("ip -6 route del 'fd00:0:0:0:0:0:0:0/64' dev eth0 metric 256"))
    assert.ok(at("ip -6 route add 'fd00::1' dev eth0 metric 1024") < at("ip -6 route add 'default' via 'fd00::1'"))
    assert.equal(at('ip -6 route flush'), -1, 'an IPv6 flush takes the multicast route, and neighbour discovery')
  })
  test('the script finds NICs by MAC and swaps misnamed ones through temporary names (busybox sh, fake sysfs)', () => {
    const eth = (n: number, mac: string) => ({name: `eth${n}`, mac, mtu: 1500, addrs: [], routes: [], dropRoutes6: []})
    const lines = guestNetScript([eth(0, '0A:00:00:00:00:01'), eth(1, '0a:00:00:00:00:02')]).slice(1, 5)
    const sys = fs.mkdtempSync(path.join(os.tmpdir(), 'kvm-net-'))
    const devices: [string, string][] = [
      ['eth0', '0a:00:00:00:00:02'],
      ['eth1', '0a:00:00:00:00:01'],
      ['lo', '00:00:00:00:00:00'],
    ]
    for (const [dev, mac] of devices) {
      fs.mkdirSync(path.join(sys, dev))
      fs.writeFileSync(path.join(sys, dev, 'address'), `${mac}\n`)
    }
    // `ip` records what it is asked; the script's /sys/class/net is the fake tree
    const script = ['set -e', 'ip() { echo "ip $*"; }', ...lines.map((l) => l.replaceAll('/sys/class/net', sys))]
    const r = spawnSync('busybox', ['sh', '-c', script.join('\n')], {encoding: 'utf8'})
    fs.rmSync(sys, {recursive: true})
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'ip link set dev eth1 name rkt-nic0',
      'ip link set dev eth0 name rkt-nic1',
      'ip link set dev rkt-nic0 name eth0',
      'ip link set dev rkt-nic1 name eth1',
    ])
    const missing = spawnSync('busybox', [
      'sh',
      '-c',
      script.join('\n').replaceAll('0a:00:00:00:00:02', '0a:00:00:00:00:09'),
    ])
    assert.equal(missing.status, 254)
  })
  test('no network: only the loopback', () => {
    assert.deepEqual(guestNetScript([]), ['ip link set lo up'])
  })
  test('sh quotes single quotes', () => {
    assert.equal(sh("a'b"), `'a'\\''b'`)
  })
})
