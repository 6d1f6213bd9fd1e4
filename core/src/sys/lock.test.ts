// FileLock against locks held by other processes (children that load the built addon and flock).
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {getDistDir} from './dist.js'
import {FileLock} from './lock.js'
import {LOCK_EX, LOCK_NB, LOCK_SH} from './native.js'

let tmp: string
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-lock-test-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) c.kill('SIGKILL')
})

const HOLDER = `
const m = {exports: {}}
process.dlopen(m, process.env.RKT_ADDON)
const fs = require('fs')
const [file, op, kind, holdMs] = process.argv.slice(1)
const flags = kind === 'dir' ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : fs.constants.O_RDONLY | fs.constants.O_CREAT
const r = m.exports.flock(fs.openSync(file, flags), Number(op))
process.stdout.write('flock ' + r + '\\n')
if (r === 0) setTimeout(() => process.exit(0), Number(holdMs) || 1 << 30)
`

/**
 * Runs flock(op) on `file` in another process; resolves with its result (0 or -errno) once it has it.
 * On success the child keeps the lock for holdMs (or until killed).
 */
function otherProcess(
  file: string,
  op: number,
  kind: 'file' | 'dir' = 'file',
  holdMs = 0,
): Promise<{child: ChildProcess; result: number}> {
  const child = spawn(process.execPath, ['-e', HOLDER, file, String(op), kind, String(holdMs)], {
    env: {...process.env, RKT_ADDON: path.join(getDistDir(), 'native', 'rktsys.node')},
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      const m = /^flock (-?\d+)\n/.exec(buf)
      if (m) resolve({child, result: Number(m[1])})
    })
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) early: ${buf}`)))
  })
}

const EAGAIN = -os.constants.errno.EAGAIN

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length
}

describe('FileLock', () => {
  test('onFile creates the lock file and holds the lock', async () => {
    const file = path.join(tmp, 'created.lock')
    assert.equal(fs.existsSync(file), false)
    const lock = FileLock.onFile(file, {exclusive: true, wait: false})
    try {
      const st = fs.statSync(file)
      assert.ok(st.isFile())
      assert.equal(st.size, 0)
      assert.equal(st.mode & 0o777, 0o600)
      assert.equal(lock.path, file)
      assert.equal((await otherProcess(file, LOCK_SH | LOCK_NB)).result, EAGAIN)
    } finally {
      lock.release()
    }
    assert.equal((await otherProcess(file, LOCK_EX | LOCK_NB)).result, 0)
  })

  test('shared locks coexist; an exclusive one fails at once with EAGAIN without leaking a descriptor', async () => {
    const file = path.join(tmp, 'shared.lock')
    const {child} = await otherProcess(file, LOCK_SH)
    const mine = FileLock.onFile(file, {exclusive: false, wait: false})
    mine.release()
    const fds = openFds()
    assert.throws(() => FileLock.onFile(file, {exclusive: true, wait: false}), {code: 'EAGAIN'})
    assert.equal(openFds(), fds, 'the descriptor of the failed attempt is closed')
    child.kill('SIGKILL')
  })

  test('wait: true calls onWait once, blocks until the holder lets go, then holds the lock', async () => {
    const file = path.join(tmp, 'wait.lock')
    await otherProcess(file, LOCK_EX, 'file', 400)
    let waits = 0
    const t0 = performance.now()
    const lock = FileLock.onFile(file, {exclusive: true, wait: true, onWait: () => waits++})
    try {
      assert.equal(waits, 1)
      assert.ok(performance.now() - t0 > 200, 'it waited for the holder to exit')
    } finally {
      lock.release()
    }
  })

  test('tryOnDir returns undefined while another process holds the directory, a lock once free', async () => {
    const dir = path.join(tmp, 'pod')
    fs.mkdirSync(dir)
    const {child} = await otherProcess(dir, LOCK_EX, 'dir')
    assert.equal(FileLock.tryOnDir(dir, true), undefined)
    assert.equal(FileLock.tryOnDir(dir, false), undefined)
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    const lock = FileLock.tryOnDir(dir, true)
    assert.ok(lock)
    try {
      assert.equal((await otherProcess(dir, LOCK_SH | LOCK_NB, 'dir')).result, EAGAIN)
    } finally {
      lock.release()
    }
    const shared = await otherProcess(dir, LOCK_SH, 'dir')
    const reader = FileLock.tryOnDir(dir, false)
    assert.ok(reader, 'readers share')
    reader.release()
    shared.child.kill('SIGKILL')
  })

  test('tryOnDir still throws what is not contention', () => {
    assert.throws(() => FileLock.tryOnDir(path.join(tmp, 'missing'), true), {code: 'ENOENT'})
  })

  test('release is idempotent and frees the lock', async () => {
    const file = path.join(tmp, 'release.lock')
    const lock = FileLock.onFile(file, {exclusive: true, wait: false})
    const fds = openFds()
    lock.release()
    assert.equal(lock.fd, -1)
    assert.equal(openFds(), fds - 1, 'the descriptor is closed')
    lock.release()
    assert.equal(openFds(), fds - 1, 'a second release closes nothing else')
    assert.equal((await otherProcess(file, LOCK_EX | LOCK_NB)).result, 0)
  })

  test('change converts between shared and exclusive', async () => {
    const file = path.join(tmp, 'change.lock')
    const lock = FileLock.onFile(file, {exclusive: false, wait: false})
    try {
      const {child} = await otherProcess(file, LOCK_SH)
      assert.throws(() => lock.change(true, false), {code: 'EAGAIN'})
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
      lock.change(true, false)
      assert.equal((await otherProcess(file, LOCK_SH | LOCK_NB)).result, EAGAIN)
    } finally {
      lock.release()
    }
  })
})
