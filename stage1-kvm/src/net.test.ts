import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {guestNetScript, parseInterfaces, sh} from './net.js'

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

describe('pod interfaces into the guest', () => {
  test('parse: ethernet ethN only, global IPv4 addresses, every IPv4 route; global IPv6 apart', () => {
    const {interfaces, ipv6} = parseInterfaces(ADDR, ROUTES4)
    assert.deepEqual(ipv6, ['fd00::5/64 on eth0'])
    assert.deepEqual(interfaces, [
      {
        name: 'eth0',
        mac: '0a:58:ac:10:1c:05',
        mtu: 1500,
        addrs: ['172.16.28.5/24'],
        routes: [
          {dst: 'default', gateway: '172.16.28.1'},
          {dst: '172.16.28.0/24', gateway: '172.16.28.1'},
          {dst: '172.16.28.1', scope: 'link'},
        ],
      },
    ])
  })
  test('the guest script names NICs by MAC, flushes the kernel routes, adds link routes before gateways', () => {
    const lines = guestNetScript(parseInterfaces(ADDR, ROUTES4).interfaces)
    const at = (needle: string): number => lines.findIndex((l) => l.includes(needle))
    assert.ok(at("grep -l -x -i '0a:58:ac:10:1c:05'") > 0)
    assert.ok(at('name rkt-nic0') < at('rkt-nic0 name eth0'))
    assert.ok(at("addr add '172.16.28.5/24' dev eth0") < at('route flush dev eth0'))
    assert.ok(at("route add '172.16.28.1' dev eth0 scope 'link'") < at("route add 'default' via '172.16.28.1'"))
    assert.ok(at('route flush dev eth0') < at("route add '172.16.28.1'"))
  })
  test('no network: only the loopback', () => {
    assert.deepEqual(guestNetScript([]), ['ip link set lo up'])
  })
  test('sh quotes single quotes', () => {
    assert.equal(sh("a'b"), `'a'\\''b'`)
  })
})
