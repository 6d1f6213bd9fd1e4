import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {pluginErrorText, pluginStdin} from './cni.js'
import {prefixToMask, resultDns, resultIp} from './result.js'

describe('CNI results', () => {
  test('masks', () => {
    assert.equal(prefixToMask(24), '255.255.255.0')
    assert.equal(prefixToMask(16), '255.255.0.0')
    assert.equal(prefixToMask(0), '0.0.0.0')
    assert.equal(prefixToMask(32), '255.255.255.255')
    assert.equal(prefixToMask(20), '255.255.240.0')
  })
  test('spec 1.0.0: the address on the sandbox interface, not the host side', () => {
    const r = {
      cniVersion: '1.0.0',
      interfaces: [
        {name: 'veth1', mac: 'aa'},
        {name: 'eth0', mac: 'bb', sandbox: '/p/netns'},
      ],
      ips: [
        {address: '10.9.0.1/24', interface: 0},
        {address: '172.16.28.5/24', gateway: '172.16.28.1', interface: 1},
      ],
    }
    assert.deepEqual(resultIp(r), {ip: '172.16.28.5', mask: '255.255.255.0', gateway: '172.16.28.1'})
  })
  test('spec 0.2.0: ip4', () => {
    assert.deepEqual(resultIp({ip4: {ip: '10.1.2.3/16'}}), {ip: '10.1.2.3', mask: '255.255.0.0'})
    assert.equal(resultIp(undefined), undefined)
    assert.equal(resultIp({ips: [{address: 'fe80::1/64'}]}), undefined)
  })
  test('DNS only when a nameserver is given', () => {
    assert.equal(resultDns({dns: {}}), undefined)
    assert.equal(resultDns({}), undefined)
    assert.deepEqual(resultDns({dns: {nameservers: ['10.0.0.2'], search: ['a.example'], domain: 'example'}}), {
      nameservers: ['10.0.0.2'],
      search: ['a.example'],
      options: [],
      domain: 'example',
    })
  })
})

describe('CNI calls', () => {
  test('a plugin error shows msg and details', () => {
    assert.equal(
      pluginErrorText('{"code":11,"msg":"failed to allocate","details":"range full"}'),
      'failed to allocate: range full',
    )
    assert.equal(pluginErrorText('{"code":7,"msg":"bad"}'), 'bad')
    assert.equal(pluginErrorText('garbage'), undefined)
  })
  test('stdin: list name and version, runtimeConfig only for declared capabilities, prevResult', () => {
    const net = {name: 'n', cniVersion: '1.0.0', file: 'f', plugins: []}
    const rc = {portMappings: [{hostPort: 8080, containerPort: 80, protocol: 'tcp'}]}
    assert.deepEqual(pluginStdin(net, {type: 'ptp'}, rc, undefined), {type: 'ptp', name: 'n', cniVersion: '1.0.0'})
    assert.deepEqual(pluginStdin(net, {type: 'portmap', capabilities: {portMappings: true}}, rc, {ips: []}), {
      type: 'portmap',
      capabilities: {portMappings: true},
      name: 'n',
      cniVersion: '1.0.0',
      runtimeConfig: rc,
      prevResult: {ips: []},
    })
  })
})
