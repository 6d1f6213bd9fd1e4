import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RktError, UsageError} from '@rkt/core/stage1'

import {
  BUILTIN_NET_DIR,
  builtinNetFiles,
  findPlugin,
  loadNetConfs,
  packageNetDir,
  parseNetConfFile,
  isPlainDefault,
  parseNetList,
  pluginSearchPath,
  selectNetworks,
  type NetConfList,
} from './config.js'

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-net-'))
}

const contained = (v: string) => {
  const m = parseNetList(v)
  assert.equal(m.kind, 'contained')
  return m
}

describe('parseNetList', () => {
  test('default, bare and named networks with CNI_ARGS', () => {
    assert.deepEqual(contained('default').nets, [{name: 'default', args: ''}])
    assert.deepEqual(contained('').nets, [{name: 'default', args: ''}])
    assert.deepEqual(contained('a:IP=10.1.2.3;K=V,b').nets, [
      {name: 'a', args: 'IP=10.1.2.3;K=V'},
      {name: 'b', args: ''},
    ])
    assert.equal(contained('all').all, true)
  })
  test('host and none', () => {
    assert.deepEqual(parseNetList('host'), {kind: 'host'})
    assert.deepEqual(parseNetList('none'), {kind: 'none'})
  })
  test('refuses repeats, empty names, specials mixed or with arguments', () => {
    for (const v of ['a,a', ',a', 'host,a', 'all:K=V', 'host:K=V', 'none,default']) {
      assert.throws(
        () => parseNetList(v),
        (e) => e instanceof UsageError && e.hint !== undefined,
        v,
      )
    }
  })
})

describe('network configurations', () => {
  test('a .conf is a chain of one; a .conflist keeps its plugins; the file is remembered', () => {
    const one = parseNetConfFile(
      '/x/10-a.conf',
      JSON.stringify({cniVersion: '0.4.0', name: 'a', type: 'bridge', isGateway: true}),
    )
    assert.deepEqual(one, {
      name: 'a',
      cniVersion: '0.4.0',
      file: '/x/10-a.conf',
      plugins: [{type: 'bridge', isGateway: true}],
    })
    const list = parseNetConfFile(
      '/x/20-b.conflist',
      JSON.stringify({cniVersion: '1.0.0', name: 'b', plugins: [{type: 'ptp'}, {type: 'tuning'}]}),
    )
    assert.deepEqual(list.plugins, [{type: 'ptp'}, {type: 'tuning'}])
    assert.equal(parseNetConfFile('/x/c.conf', '{"name":"c","type":"ptp"}').cniVersion, '0.1.0')
  })
  test('bad files are named with a hint', () => {
    for (const [f, text] of [
      ['a.conf', 'nope'],
      ['a.conf', '[]'],
      ['a.conf', '{"type":"ptp"}'],
      ['a.conf', '{"name":"a"}'],
      ['a.conflist', '{"name":"a","plugins":[]}'],
      ['a.conflist', '{"name":"a","plugins":[{}]}'],
    ] as const) {
      assert.throws(
        () => parseNetConfFile(f, text),
        (e) => e instanceof RktError && e.message.includes(f) && e.hint !== undefined,
        text,
      )
    }
  })
  test('net.d in filename order, .conf and .conflist only, first of a name wins', () => {
    const d = tmpdir()
    try {
      fs.writeFileSync(path.join(d, '20-b.conflist'), '{"name":"b","cniVersion":"1.0.0","plugins":[{"type":"ptp"}]}')
      fs.writeFileSync(path.join(d, '10-a.conf'), '{"name":"a","type":"bridge"}')
      fs.writeFileSync(path.join(d, '30-a.conf'), '{"name":"a","type":"macvlan"}')
      fs.writeFileSync(path.join(d, 'README'), 'not a network')
      const nets = loadNetConfs(d)
      assert.deepEqual(
        nets.map((n) => [n.name, n.plugins[0]?.type]),
        [
          ['a', 'bridge'],
          ['b', 'ptp'],
        ],
      )
      assert.deepEqual(loadNetConfs(path.join(d, 'missing')), [])
    } finally {
      fs.rmSync(d, {recursive: true})
    }
  })
})

describe('selectNetworks', () => {
  const user = (name: string): NetConfList => ({
    name,
    cniVersion: '1.0.0',
    file: `/n/${name}.conf`,
    plugins: [{type: 'bridge'}],
  })
  const builtins = loadNetConfs(packageNetDir())
  const pick = (v: string, configured: NetConfList[]) =>
    selectNetworks(contained(v), configured, builtins).map((a) => [a.net.name, a.ifName, a.args])

  test('default is the built-in ptp network 172.16.28.0/24 with masquerade and a default route', () => {
    assert.deepEqual(pick('default', []), [['default', 'eth0', '']])
    const def = builtins[0]!
    const restricted = builtins[1]!
    assert.equal(def.name, 'default')
    const ptp = def.plugins[0]!
    assert.equal(ptp.type, 'ptp')
    assert.equal(ptp['ipMasq'], true)
    assert.deepEqual(ptp['ipam'], {type: 'host-local', subnet: '172.16.28.0/24', routes: [{dst: '0.0.0.0/0'}]})
    assert.equal(restricted.name, 'default-restricted')
    const r = restricted.plugins[0]!
    assert.equal(r['ipMasq'], false)
    assert.deepEqual(r['ipam'], {type: 'host-local', subnet: '172.31.0.0/16'})
  })
  test('the built-ins are net.d files an image carries under etc/rkt/net.d, default first', () => {
    const files = builtinNetFiles()
    assert.deepEqual(Object.keys(files), [
      `${BUILTIN_NET_DIR}/90-default.conflist`,
      `${BUILTIN_NET_DIR}/91-default-restricted.conflist`,
    ])
    assert.deepEqual(pick('default,default-restricted', []), [
      ['default', 'eth0', ''],
      ['default-restricted', 'eth1', ''],
    ])
  })
  test('an image without the built-in files: default-restricted is said missing, with the fix', () => {
    assert.throws(
      () => selectNetworks(contained('a'), [user('a')], []),
      (e) =>
        e instanceof RktError &&
        /built-in network "default-restricted" is missing/.test(e.message) &&
        /etc\/rkt\/net\.d/.test(e.hint ?? ''),
    )
  })
  test('default-restricted is added when default is not asked for; interfaces follow filename order', () => {
    assert.deepEqual(pick('b:IP=10.0.0.9,a', [user('a'), user('b')]), [
      ['a', 'eth0', ''],
      ['b', 'eth1', 'IP=10.0.0.9'],
      ['default-restricted', 'eth2', ''],
    ])
    assert.deepEqual(pick('default,a', [user('a')]), [
      ['a', 'eth0', ''],
      ['default', 'eth1', ''],
    ])
  })
  test('a user network named default replaces the built-in', () => {
    const mine = user('default')
    const nets = selectNetworks(contained('default'), [mine], builtins)
    assert.equal(nets.length, 1)
    assert.equal(nets[0]!.net, mine)
  })
  test('all: every configured network, plus default-restricted', () => {
    assert.deepEqual(pick('all', [user('a'), user('b')]), [
      ['a', 'eth0', ''],
      ['b', 'eth1', ''],
      ['default-restricted', 'eth2', ''],
    ])
  })
  test('an unknown network is an error listing the configured ones', () => {
    assert.throws(
      () => selectNetworks(contained('nope'), [user('a')], builtins),
      (e) =>
        e instanceof RktError &&
        /"nope" is not configured/.test(e.message) &&
        /a, and the built-in default and default-restricted/.test(e.hint ?? ''),
    )
  })
})

describe('plugins', () => {
  test('search path: net.d, the system directory, Debian’s', () => {
    assert.deepEqual(pluginSearchPath('/etc/rkt/net.d'), ['/etc/rkt/net.d', '/usr/lib/cni', '/opt/cni/bin'])
  })
  test('the first executable of the type wins; a missing one names the package', () => {
    const a = tmpdir()
    const b = tmpdir()
    try {
      fs.writeFileSync(path.join(a, 'ptp'), '', {mode: 0o644})
      fs.writeFileSync(path.join(b, 'ptp'), '#!/bin/sh\n', {mode: 0o755})
      assert.equal(findPlugin('ptp', [a, b]), path.join(b, 'ptp'))
      assert.throws(
        () => findPlugin('nope', [a, b]),
        (e) => e instanceof RktError && /containernetworking-plugins/.test(e.hint ?? ''),
      )
      assert.throws(() => findPlugin('../ptp', [a]), RktError)
    } finally {
      fs.rmSync(a, {recursive: true})
      fs.rmSync(b, {recursive: true})
    }
  })
})

describe('isPlainDefault', () => {
  test('only the default network stage0 sends without --net, with no CNI_ARGS', () => {
    assert.equal(isPlainDefault(parseNetList('')), true)
    assert.equal(isPlainDefault(parseNetList('default')), true)
    for (const v of ['default:IP=10.1.2.3', 'default,mynet', 'mynet', 'all', 'host', 'none'])
      assert.equal(isPlainDefault(parseNetList(v)), false, v)
  })
})
