import assert from 'node:assert/strict'
import fs from 'node:fs'
import {test} from 'node:test'

import {listenFds, refuseListenFds, socketActivatedApps, supportsNotify} from './systemd.js'
import type {App} from '../schema/index.js'

test('listenFds: only the variables meant for this process count (sd_listen_fds), and their descriptors must be open', () => {
  const pid = process.pid
  assert.equal(listenFds({}, pid), undefined)
  assert.equal(listenFds({LISTEN_FDS: '1', LISTEN_PID: String(pid + 1)}, pid), undefined, 'another process’s')
  assert.equal(listenFds({LISTEN_FDS: '0', LISTEN_PID: String(pid)}, pid), undefined)
  // Descriptor 3 is open in any Node process here only by chance: open one to make sure.
  const isOpen = (fd: number): boolean => {
    try {
      return fs.fstatSync(fd) !== undefined
    } catch {
      return false
    }
  }
  const opened: number[] = []
  while (!isOpen(3)) opened.push(fs.openSync('/dev/null', 'r'))
  try {
    assert.deepEqual(listenFds({LISTEN_FDS: '1', LISTEN_PID: String(pid), LISTEN_FDNAMES: 'web'}, pid), {
      count: 1,
      names: 'web',
    })
    assert.throws(() => listenFds({LISTEN_FDS: '1000', LISTEN_PID: String(pid)}, pid), /descriptor \d+ is not open/)
    assert.throws(() => listenFds({LISTEN_FDS: 'x', LISTEN_PID: String(pid)}, pid), /not a number of descriptors/)
    assert.throws(
      () => refuseListenFds('kvm', {LISTEN_FDS: '1', LISTEN_PID: String(pid)}, pid),
      /socket activation is not supported by the kvm stage1/,
    )
  } finally {
    for (const fd of opened) fs.closeSync(fd)
  }
})

test('socketActivatedApps: the only app, else those with a socketActivated port', () => {
  const app = (name: string, activated: boolean) => ({
    name,
    app: {ports: [{name: 'p', protocol: 'tcp', port: 80, count: 1, socketActivated: activated}]} as unknown as App,
  })
  assert.deepEqual([...socketActivatedApps([app('one', false)])], ['one'])
  assert.deepEqual([...socketActivatedApps([app('a', false), app('b', true)])], ['b'])
})

test('supportsNotify reads appc’s annotation', () => {
  const name = 'appc.io/executor/supports-systemd-notify'
  assert.equal(supportsNotify({annotations: [{name, value: 'true'}]}), true)
  assert.equal(supportsNotify({annotations: [{name, value: 'false'}]}), false)
  assert.equal(supportsNotify({annotations: []}), false)
})
