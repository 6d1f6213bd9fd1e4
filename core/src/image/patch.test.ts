import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {UsageError} from '../errors.js'
import {applyPatch} from './patch.js'

const base = {
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/app',
  app: {
    exec: ['/bin/app'],
    user: '0',
    group: '0',
    isolators: [{name: 'os/linux/capabilities-remove-set', value: {set: ['CAP_MKNOD']}}],
  },
}

describe('applyPatch (actool patch-manifest edits)', () => {
  test('name, exec (split on spaces), user, group, supplementary groups', () => {
    const m = applyPatch(base, {
      name: 'example.com/other',
      exec: '/bin/app --debug',
      user: '1000',
      group: '100',
      supplementaryGroups: '10,20',
    })
    assert.equal(m['name'], 'example.com/other')
    assert.deepEqual(m['app'], {
      ...base.app,
      exec: ['/bin/app', '--debug'],
      user: '1000',
      group: '100',
      supplementaryGIDs: [10, 20],
    })
    assert.deepEqual(base.app.exec, ['/bin/app'], 'the input is not modified')
  })

  test('a capability set replaces both capability isolators; retain and remove together are refused', () => {
    const m = applyPatch(base, {capability: 'CAP_NET_BIND_SERVICE,CAP_CHOWN'})
    assert.deepEqual((m['app'] as {isolators: unknown[]}).isolators, [
      {name: 'os/linux/capabilities-retain-set', value: {set: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN']}},
    ])
    assert.throws(() => applyPatch(base, {capability: 'CAP_A', revokeCapability: 'CAP_B'}), UsageError)
  })

  test('mounts and ports are added in actool syntax', () => {
    const m = applyPatch(base, {
      mounts: 'work,path=/opt,readOnly=true:cache,path=/var/cache',
      ports: 'www,protocol=tcp,port=8080:dns,protocol=udp,port=53,count=2',
    })
    const app = m['app'] as Record<string, unknown>
    assert.deepEqual(app['mountPoints'], [
      {name: 'work', path: '/opt', readOnly: true},
      {name: 'cache', path: '/var/cache'},
    ])
    assert.deepEqual(app['ports'], [
      {name: 'www', protocol: 'tcp', port: 8080},
      {name: 'dns', protocol: 'udp', port: 53, count: 2},
    ])
    assert.throws(() => applyPatch(base, {ports: 'www,protocol=tcp'}), /no port=/)
    assert.throws(() => applyPatch(base, {mounts: 'work,readOnly=maybe'}), /not true or false/)
  })

  test('isolators: resource values as objects, scalar isolators as JSON values; seccomp only through its flags', () => {
    const m = applyPatch(base, {
      isolators: 'resource/cpu,request=50m,limit=100m:os/linux/no-new-privileges,true:os/linux/oom-score-adj,-100',
    })
    assert.deepEqual((m['app'] as {isolators: unknown[]}).isolators.slice(1), [
      {name: 'resource/cpu', value: {request: '50m', limit: '100m'}},
      {name: 'os/linux/no-new-privileges', value: true},
      {name: 'os/linux/oom-score-adj', value: -100},
    ])
    assert.throws(
      () => applyPatch(base, {isolators: 'os/linux/seccomp-remove-set,set=reboot'}),
      /not supported for patching/,
    )
  })

  test('seccomp mode and set make one seccomp isolator, replacing any other', () => {
    const m = applyPatch(base, {seccompMode: 'remove,errno=EPERM', seccompSet: 'reboot,@rkt/default-blacklist'})
    assert.deepEqual((m['app'] as {isolators: unknown[]}).isolators.at(-1), {
      name: 'os/linux/seccomp-remove-set',
      value: {set: ['reboot', '@rkt/default-blacklist'], errno: 'EPERM'},
    })
    assert.throws(() => applyPatch(base, {seccompSet: 'reboot'}), /without --seccomp-mode/)
    assert.throws(() => applyPatch(base, {seccompMode: 'deny'}), /not remove or retain/)
  })

  test('app edits need an app (or --exec to create one)', () => {
    const noApp = {acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/lib'}
    assert.throws(() => applyPatch(noApp, {user: '0'}), /no app in the supplied manifest/)
    assert.deepEqual(applyPatch(noApp, {exec: '/bin/sh', user: '0', group: '0'})['app'], {
      exec: ['/bin/sh'],
      user: '0',
      group: '0',
    })
  })
})
