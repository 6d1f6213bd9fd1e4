// Isolator translation: appc's default capability set and the retain/remove sets as masks, what the host
// and nspawn can grant, no_new_privs, oom_score_adj, cgroup limits, and a warning for everything ignored
// or modified (appc: an executor MUST say so).
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import type {AnyIsolator} from '@rkt/core/stage1'

import {parseQuantity} from '@rkt/core/schema/index'

import {capMask, capNames, hostBoundingSet, NSPAWN_DEFAULT_CAPS} from './capabilities.js'
import {appIsolation, type IsolationContext, nspawnCapabilities} from './isolators.js'
import {DEFAULT_FILTER} from './seccomp.js'

/** The test machines' bounding set: every capability but CAP_SYS_RESOURCE (CapEff 1fffeffffff). */
const HOST = 0x1fffeffffffn
const ROOT: IsolationContext = {uid: 0, hostBounding: HOST, disableCapabilities: false, disableSeccomp: false}

function translate(isolators: AnyIsolator[], ctx: Partial<IsolationContext> = {}) {
  const warnings: string[] = []
  const result = appIsolation(isolators, {...ROOT, ...ctx}, (m) => warnings.push(m))
  return {...result, warnings}
}

const caps = (name: 'os/linux/capabilities-retain-set' | 'os/linux/capabilities-remove-set', set: string[]) =>
  ({name, value: {set}}) as AnyIsolator
const q = (text: string) => parseQuantity(text)

describe('capabilities', () => {
  test('appc’s default set is 0xa80425fb, the 14 capabilities of spec/ace.md', () => {
    const r = translate([])
    assert.equal(r.caps, 0xa80425fbn)
    assert.equal(capNames(r.caps).length, 14)
    assert.deepEqual(r.warnings, [])
  })

  test('a retain set is exactly itself, beyond the defaults too', () => {
    assert.equal(translate([caps('os/linux/capabilities-retain-set', ['CAP_NET_ADMIN'])]).caps, 1n << 12n)
    const some = translate([caps('os/linux/capabilities-retain-set', ['CAP_CHOWN', 'CAP_FOWNER', 'CAP_SYS_ADMIN'])])
    assert.equal(some.caps, (1n << 0n) | (1n << 3n) | (1n << 21n))
  })

  test('a remove set takes from the defaults; removing one they lack changes nothing', () => {
    assert.equal(translate([caps('os/linux/capabilities-remove-set', ['CAP_CHOWN'])]).caps, 0xa80425fan)
    assert.equal(translate([caps('os/linux/capabilities-remove-set', ['CAP_SYS_ADMIN'])]).caps, 0xa80425fbn)
    const all = capNames(0xa80425fbn)
    assert.equal(translate([caps('os/linux/capabilities-remove-set', all)]).caps, 0n)
  })

  test('both sets at once are refused', () => {
    assert.throws(
      () =>
        translate([
          caps('os/linux/capabilities-retain-set', ['CAP_CHOWN']),
          caps('os/linux/capabilities-remove-set', ['CAP_KILL']),
        ]),
      {code: 'ECAPS'},
    )
  })

  test('unknown names and capabilities this host lacks are dropped, with a warning each', () => {
    const r = translate([caps('os/linux/capabilities-retain-set', ['NOT_A_CAP', 'CAP_SYS_RESOURCE', 'CAP_KILL'])])
    assert.equal(r.caps, 1n << 5n)
    assert.equal(r.warnings.length, 2)
    assert.match(r.warnings[0]!, /retain-set: unknown capabilities ignored: NOT_A_CAP/)
    assert.match(r.warnings[1]!, /not available to this pod, dropped: CAP_SYS_RESOURCE/)
  })

  test('a non-root app gets no capabilities by default, but those its isolator names', () => {
    assert.equal(translate([], {uid: 1000}).caps, 0n)
    const bind = translate([caps('os/linux/capabilities-retain-set', ['CAP_NET_BIND_SERVICE'])], {uid: 1000})
    assert.equal(bind.caps, 1n << 10n)
  })

  test('--insecure-options=capabilities: all the host has, and the isolators say they were ignored', () => {
    const r = translate([caps('os/linux/capabilities-retain-set', ['CAP_KILL'])], {disableCapabilities: true})
    assert.equal(r.caps, HOST)
    assert.match(r.warnings[0]!, /capabilities-retain-set ignored: --insecure-options=capabilities/)
  })

  test('nspawn is asked only for what apps keep beyond its own default set, or all when insecure', () => {
    const app = (mask: bigint) => ({...translate([]), caps: mask})
    assert.equal(nspawnCapabilities([app(0xa80425fbn)], false), '')
    assert.equal(NSPAWN_DEFAULT_CAPS & 0xa80425fbn, 0xa80425fbn, 'appc’s defaults are within nspawn’s')
    assert.equal(nspawnCapabilities([app(1n << 12n), app(1n << 17n)], false), 'CAP_NET_ADMIN,CAP_SYS_RAWIO')
    assert.equal(nspawnCapabilities([app(0n)], true), 'all')
  })

  test('capMask takes names with or without CAP_, any case; hostBoundingSet reads CapBnd', () => {
    assert.deepEqual(capMask(['cap_chown', 'kill', 'CAP_BPF', 'nope']), {
      mask: 1n | (1n << 5n) | (1n << 39n),
      unknown: ['nope'],
    })
    assert.equal(hostBoundingSet('Name:\tx\nCapBnd:\t000001fffeffffff\n'), HOST)
  })
})

describe('no_new_privs, seccomp and oom_score_adj', () => {
  test('off for root by default (rkt); on when an isolator says true', () => {
    assert.equal(translate([]).noNewPrivs, false)
    const r = translate([
      {name: 'os/linux/no-new-privileges', value: false},
      {name: 'os/linux/no-new-privileges', value: true},
    ])
    assert.equal(r.noNewPrivs, true)
  })

  test('always on for a non-root app under a seccomp filter; an explicit false is overridden, with a warning', () => {
    assert.equal(translate([], {uid: 1000}).noNewPrivs, true)
    const r = translate([{name: 'os/linux/no-new-privileges', value: false}], {uid: 1000})
    assert.equal(r.noNewPrivs, true)
    assert.match(r.warnings[0]!, /no-new-privileges: false overridden/)
    const open = translate(
      [
        {name: 'os/linux/no-new-privileges', value: false},
        {name: 'os/linux/seccomp-retain-set', value: {set: ['@appc.io/all']}},
      ],
      {uid: 1000},
    )
    assert.equal(open.noNewPrivs, false, 'no filter, no need')
  })

  test('the default seccomp filter, an isolator’s, or none when insecure (and the isolator said ignored)', () => {
    assert.equal(translate([]).seccomp, DEFAULT_FILTER)
    const r = translate([{name: 'os/linux/seccomp-remove-set', value: {set: ['reboot']}}], {disableSeccomp: true})
    assert.equal(r.seccomp.mode, 'none')
    assert.match(r.warnings[0]!, /seccomp-remove-set ignored: --insecure-options=seccomp/)
  })

  test('oom-score-adj passes through; absent stays absent', () => {
    assert.equal(translate([{name: 'os/linux/oom-score-adj', value: -900}]).oomScoreAdj, -900)
    assert.equal('oomScoreAdj' in translate([]), false)
  })
})

describe('unsupported isolators', () => {
  test('unknown and unsupported isolators are ignored with a warning naming each; AppArmor is refused', () => {
    const r = translate([
      {name: 'example.com/custom', value: {x: 1}, opaque: true},
      {name: 'resource/block-iops', value: {default: true, limit: q('1000')}},
      {name: 'resource/network-bandwidth', value: {default: true, limit: q('1G')}},
      {name: 'os/linux/selinux-context', value: {user: 'u', role: 'r', type: 't', level: 's0'}},
    ])
    assert.deepEqual(r.warnings, [
      'isolator example.com/custom ignored: unknown to this stage1',
      'resource/block-iops ignored: block I/O limits are not implemented',
      'resource/network-bandwidth ignored: network limits are not implemented',
      'os/linux/selinux-context ignored: SELinux is not supported by this stage1',
    ])
    assert.throws(() => translate([{name: 'os/linux/apparmor-profile', value: {profile: 'x'}}]), {code: 'EAPPARMOR'})
  })
})
