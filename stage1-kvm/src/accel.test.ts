import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {bootTimeoutMs, chooseAccel, probeAccelHost, tscKhz} from './accel.js'

describe('accelerator choice', () => {
  test('auto: KVM when /dev/kvm opens and the module is a real KVM', () => {
    const c = chooseAccel(undefined, {kvmUsable: true, pvm: false})
    assert.equal(c.accel, 'kvm')
    assert.equal(c.notice, undefined)
  })
  test('auto: TCG with a one-line notice under kvm_pvm, naming the override', () => {
    const c = chooseAccel('', {kvmUsable: true, pvm: true})
    assert.equal(c.accel, 'tcg')
    assert.match(c.notice!, /kvm_pvm/)
    assert.match(c.notice!, /RKT_KVM_ACCEL=kvm/)
    assert.ok(!c.notice!.includes('\n'))
  })
  test('auto: TCG with a notice when /dev/kvm is not usable', () => {
    const c = chooseAccel('auto', {kvmUsable: false, pvm: false})
    assert.equal(c.accel, 'tcg')
    assert.match(c.notice!, /not usable/)
  })
  test('RKT_KVM_ACCEL=tcg forces TCG silently, even where KVM works', () => {
    const c = chooseAccel('tcg', {kvmUsable: true, pvm: false})
    assert.equal(c.accel, 'tcg')
    assert.equal(c.notice, undefined)
  })
  test('RKT_KVM_ACCEL=kvm forces KVM under kvm_pvm, with a hint for the hang that follows', () => {
    const c = chooseAccel('KVM', {kvmUsable: true, pvm: true})
    assert.equal(c.accel, 'kvm')
    assert.match(c.hint, /kvm_pvm/)
    assert.match(c.hint, /RKT_KVM_ACCEL=tcg/)
  })
  test('RKT_KVM_ACCEL=kvm without a usable /dev/kvm is refused', () => {
    assert.throws(() => chooseAccel('kvm', {kvmUsable: false, pvm: false}), /cannot be opened/)
    assert.throws(
      () => chooseAccel('kvm', {kvmUsable: false, pvm: false}),
      (e: Error & {hint?: string}) => /RKT_KVM_ACCEL=tcg/.test(e.hint ?? ''),
    )
  })
  test('an unknown RKT_KVM_ACCEL is refused, naming the values', () => {
    assert.throws(() => chooseAccel('xen', {kvmUsable: true, pvm: false}), /not one of auto, kvm, tcg/)
  })
  test('probeAccelHost reads /sys/module/kvm_pvm and /dev/kvm', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'accel-'))
    try {
      fs.mkdirSync(path.join(dir, 'sys/module/kvm_pvm'), {recursive: true})
      fs.mkdirSync(path.join(dir, 'dev'))
      assert.deepEqual(probeAccelHost(path.join(dir, 'sys'), path.join(dir, 'dev')), {kvmUsable: false, pvm: true})
      fs.writeFileSync(path.join(dir, 'dev/kvm'), '')
      fs.rmSync(path.join(dir, 'sys/module/kvm_pvm'), {recursive: true})
      assert.deepEqual(probeAccelHost(path.join(dir, 'sys'), path.join(dir, 'dev')), {kvmUsable: true, pvm: false})
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('boot bound and TSC', () => {
  test('defaults: 60 s under TCG, 15 s under KVM; RKT_KVM_BOOT_TIMEOUT in seconds', () => {
    assert.equal(bootTimeoutMs('tcg', undefined), 60_000)
    assert.equal(bootTimeoutMs('kvm', ''), 15_000)
    assert.equal(bootTimeoutMs('kvm', '2.5'), 2500)
    assert.throws(() => bootTimeoutMs('tcg', '-1'), /positive number of seconds/)
    assert.throws(() => bootTimeoutMs('tcg', 'soon'), /positive number of seconds/)
  })
  test('tsc_early_khz comes from the first "cpu MHz" line', () => {
    assert.equal(tscKhz('processor\t: 0\ncpu MHz\t\t: 2999.998\ncpu MHz\t\t: 1.0\n'), 2999998)
    assert.equal(tscKhz('processor\t: 0\n'), undefined)
  })
})
