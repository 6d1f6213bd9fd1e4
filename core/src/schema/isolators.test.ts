import assert from 'node:assert/strict'
import {test} from 'node:test'

import {Decoder} from './decode.js'
import {
  DEFAULT_CAPABILITIES,
  ISOLATOR_RULES,
  decodeIsolators,
  effectiveCapabilities,
  getIsolator,
  isolatorValueToJson,
} from './isolators.js'
import type {AnyIsolator} from './isolators.js'
import {SchemaError} from './schema-error.js'

function decode(raw: unknown, scope: 'app' | 'pod' = 'app', strict = false) {
  const d = new Decoder(strict)
  return {isolators: decodeIsolators(d, raw, 'isolators', scope), warnings: d.warnings}
}

const VALID: [string, unknown][] = [
  ['resource/cpu', {request: '250m', limit: '500m'}],
  ['resource/memory', {request: '1G', limit: 2147483648}],
  ['resource/block-bandwidth', {default: true, limit: '2M'}],
  ['resource/block-iops', {default: true, limit: '1000'}],
  ['resource/network-bandwidth', {default: true, limit: '1G'}],
  ['os/linux/capabilities-retain-set', {set: ['CAP_NET_BIND_SERVICE']}],
  ['os/linux/no-new-privileges', true],
  ['os/linux/seccomp-retain-set', {set: ['@appc.io/all'], errno: 'ENOTSUP'}],
  ['os/linux/selinux-context', {user: 'system_u', role: 'system_r', type: 'dhcpc_t', level: 's0:c1,c2'}],
  ['os/linux/apparmor-profile', {profile: 'rkt-default'}],
  ['os/linux/oom-score-adj', -1000],
  ['os/linux/cpu-shares', 262144],
  ['os/unix/sysctl', {'net.ipv4.tcp_mtu_probing': '1'}],
]

test('every known isolator type parses with its typed value and serializes back', () => {
  const raw = VALID.map(([name, value]) => ({name, value}))
  const {isolators, warnings} = decode(raw, 'app', true)
  assert.deepEqual(warnings, [])
  assert.equal(isolators.length, VALID.length)
  const cpu = getIsolator(isolators, 'resource/cpu')
  assert.equal(cpu?.value.request?.milli, 250n)
  assert.equal(cpu?.value.limit?.milli, 500n)
  assert.equal(getIsolator(isolators, 'resource/memory')?.value.limit?.value, 2147483648n)
  assert.equal(getIsolator(isolators, 'os/linux/oom-score-adj')?.value, -1000)
  const json = isolators.map((i) => ({name: i.name, value: isolatorValueToJson(i)}))
  assert.deepEqual(decode(json, 'app', true).isolators, isolators)
  assert.deepEqual(json[1], {name: 'resource/memory', value: {request: '1G', limit: '2147483648'}})
})

test('the remove set and seccomp remove set parse too', () => {
  const {isolators} = decode([
    {name: 'os/linux/capabilities-remove-set', value: {set: ['CAP_MKNOD']}},
    {name: 'os/linux/seccomp-remove-set', value: {set: ['reboot']}},
  ])
  assert.deepEqual(isolatorValueToJson(isolators[1]!), {set: ['reboot']})
})

test('an isolator without a value is a clean error, not a crash (actool panics)', () => {
  assert.throws(() => decode([{name: 'resource/memory'}]), {
    message: 'isolators[0].value: must be set (every isolator needs a value)',
  })
  assert.throws(() => decode([{name: 'vendor.com/thing', value: null}], 'pod'), /isolators\[0\]\.value: must be set/)
})

test('pod lists check values but neither repeats nor unknown names; app lists apply Go rules', () => {
  const sysctl = {name: 'os/unix/sysctl', value: {'net.ipv4.ip_forward': '1'}}
  const pod = decode([sysctl, sysctl, {name: 'vendor.com/quota', value: {x: [1, {y: null}]}}], 'pod', true)
  assert.equal(pod.isolators.length, 3)
  assert.deepEqual(pod.isolators[2], {name: 'vendor.com/quota', value: {x: [1, {y: null}]}, opaque: true})
  assert.deepEqual(isolatorValueToJson(pod.isolators[2] as AnyIsolator), {x: [1, {y: null}]})
  assert.throws(() => decode([sysctl, sysctl]), {
    message: 'isolators[1].name: only one os/unix/sysctl isolator is allowed per app',
  })
  assert.throws(() => decode([{name: 'os/linux/oom-score-adj', value: 1001}], 'pod'), SchemaError)
  const memory = {name: 'resource/memory', value: {limit: '1G'}}
  assert.equal(decode([memory, memory]).isolators.length, 2)
})

test('the rules table matches the isolators appc defines', () => {
  const single = Object.entries(ISOLATOR_RULES)
    .filter(([, r]) => !r.multipleAllowed)
    .map(([n]) => n)
    .sort()
  assert.deepEqual(single, [
    'os/linux/apparmor-profile',
    'os/linux/cpu-shares',
    'os/linux/oom-score-adj',
    'os/linux/seccomp-remove-set',
    'os/linux/seccomp-retain-set',
    'os/linux/selinux-context',
    'os/unix/sysctl',
  ])
  assert.equal(Object.keys(ISOLATOR_RULES).length, 15)
})

function caps(...list: [string, string[]][]): AnyIsolator[] {
  return decode(list.map(([kind, set]) => ({name: `os/linux/capabilities-${kind}-set`, value: {set}}))).isolators
}

test('effective capabilities: defaults, retain exactly, remove from defaults, last isolator wins', () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14)
  assert.deepEqual(effectiveCapabilities([]), [...DEFAULT_CAPABILITIES])
  assert.deepEqual(effectiveCapabilities(caps(['retain', ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE']])), [
    'CAP_NET_ADMIN',
    'CAP_NET_BIND_SERVICE',
  ])
  const removed = effectiveCapabilities(caps(['remove', ['CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_SYS_ADMIN']]))
  assert.equal(removed.length, 12)
  assert.ok(!removed.includes('CAP_MKNOD'))
  assert.deepEqual(effectiveCapabilities(caps(['retain', ['CAP_KILL']], ['retain', ['CAP_CHOWN']])), ['CAP_CHOWN'])
  assert.throws(() => effectiveCapabilities(caps(['retain', ['CAP_KILL']], ['remove', ['CAP_KILL']])), {
    message: 'isolators: cannot have both os/linux/capabilities-retain-set and os/linux/capabilities-remove-set',
  })
})
