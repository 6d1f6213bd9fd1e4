// Seccomp sets resolved to syscall names: groups, appc's special sets, errno names, and the default filter.
import assert from 'node:assert/strict'
import os from 'node:os'
import {describe, test} from 'node:test'

import {DEFAULT_FILTER, errnoNumber, resolveSeccompSet, SECCOMP_GROUPS, seccompFilter} from './seccomp.js'

const remove = (set: string[], errno?: string) => ({
  name: 'os/linux/seccomp-remove-set',
  value: errno === undefined ? {set} : {set, errno},
})
const retain = (set: string[], errno?: string) => ({
  name: 'os/linux/seccomp-retain-set',
  value: errno === undefined ? {set} : {set, errno},
})

describe('seccomp sets', () => {
  test('groups expand to their syscalls, plain names pass through, duplicates once', () => {
    const {syscalls, special} = resolveSeccompSet(['@rkt/default-blacklist', 'socket', 'mount'])
    assert.equal(special, undefined)
    assert.equal(syscalls.filter((s) => s === 'mount').length, 1)
    assert.ok(syscalls.includes('socket'))
    for (const s of ['kexec_load', 'init_module', 'reboot', 'swapon', 'umount2', 'unshare', 'setns', 'keyctl', 'bpf']) {
      assert.ok(syscalls.includes(s), s)
    }
  })

  test('rkt’s groups are Docker’s lists; @systemd groups are systemd 252’s, nested groups expanded', () => {
    assert.deepEqual(SECCOMP_GROUPS['@rkt/default-blacklist'], SECCOMP_GROUPS['@docker/default-blacklist'])
    assert.deepEqual(SECCOMP_GROUPS['@rkt/default-whitelist'], SECCOMP_GROUPS['@docker/default-whitelist'])
    assert.equal(SECCOMP_GROUPS['@docker/default-blacklist']!.length, 50)
    assert.equal(SECCOMP_GROUPS['@docker/default-whitelist']!.length, 309)
    // @privileged includes @chown, @clock, @module, @raw-io, @reboot and @swap in systemd.
    for (const s of ['fchownat', 'clock_settime', 'init_module', 'iopl', 'reboot', 'swapon']) {
      assert.ok(SECCOMP_GROUPS['@systemd/privileged']!.includes(s), s)
    }
    assert.ok(SECCOMP_GROUPS['@systemd/mount']!.includes('move_mount'))
  })

  test('appc’s special sets: @appc.io/all and @appc.io/empty', () => {
    assert.deepEqual(resolveSeccompSet(['read', '@appc.io/all']), {syscalls: [], special: 'all'})
    assert.deepEqual(resolveSeccompSet(['@appc.io/empty']), {syscalls: [], special: 'empty'})
  })

  test('an unknown group is refused, naming the known ones', () => {
    assert.throws(
      () => resolveSeccompSet(['@systemd/io-event']),
      (err: Error & {hint?: string}) => {
        assert.match(err.message, /unknown seccomp group @systemd\/io-event/)
        assert.match(err.hint ?? '', /@rkt\/default-blacklist/)
        return true
      },
    )
  })

  test('errno names are this system’s numbers; a misspelt one is refused', () => {
    assert.equal(errnoNumber('EPERM'), 1)
    assert.equal(errnoNumber('ENOTSUP'), os.constants.errno.ENOTSUP)
    // Linux's names beyond Node's POSIX subset (rkt's functional tests use EXFULL).
    assert.equal(errnoNumber('EXFULL'), 54)
    assert.equal(errnoNumber('EHWPOISON'), 133)
    for (const [name, n] of Object.entries(os.constants.errno)) assert.equal(errnoNumber(name), n, name)
    assert.throws(() => errnoNumber('EACCESS'), /EACCESS is not an error name/)
  })
})

describe('seccompFilter', () => {
  test('without an isolator: @rkt/default-blacklist removed, failing with EPERM', () => {
    const f = seccompFilter(undefined, false)
    assert.equal(f, DEFAULT_FILTER)
    assert.equal(f.mode, 'remove')
    assert.equal(f.errno, os.constants.errno.EPERM)
    assert.deepEqual(f.syscalls, SECCOMP_GROUPS['@rkt/default-blacklist'])
  })

  test('a remove set with an errno; without one the process is killed (no errno)', () => {
    assert.deepEqual(seccompFilter(remove(['reboot'], 'ENOSYS'), false), {
      mode: 'remove',
      errno: os.constants.errno.ENOSYS,
      syscalls: ['reboot'],
    })
    const kill = seccompFilter(remove(['reboot']), false)
    assert.equal(kill.errno, undefined)
    assert.ok(!('errno' in kill))
  })

  test('a retain set keeps exactly its syscalls; @appc.io/all in it turns filtering off', () => {
    assert.deepEqual(seccompFilter(retain(['@systemd/clock', 'read'], 'EPERM'), false), {
      mode: 'retain',
      errno: 1,
      syscalls: [...SECCOMP_GROUPS['@systemd/clock']!, 'read'],
    })
    assert.deepEqual(seccompFilter(retain(['@appc.io/all']), false), {mode: 'none', syscalls: []})
  })

  test('remove @appc.io/empty asks for the default filter; remove @appc.io/all removes every syscall', () => {
    assert.equal(seccompFilter(remove(['@appc.io/empty']), false), DEFAULT_FILTER)
    assert.deepEqual(seccompFilter(remove(['@appc.io/all'], 'EPERM'), false), {mode: 'retain', errno: 1, syscalls: []})
  })

  test('--insecure-options=seccomp: none, whatever the image asks', () => {
    assert.deepEqual(seccompFilter(undefined, true), {mode: 'none', syscalls: []})
    assert.deepEqual(seccompFilter(retain(['read']), true), {mode: 'none', syscalls: []})
  })
})
