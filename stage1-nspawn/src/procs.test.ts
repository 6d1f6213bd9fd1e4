// Finding an app's host PID from the PID the supervisor recorded in the pod's namespace, in a fake /proc.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {findHostPid, isAlive} from './procs.js'

const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-proc-'))
after(() => fs.rmSync(proc, {recursive: true, force: true}))

/** A process of the fake /proc: its NSpid chain, its state, and its children (one thread). */
function add(pid: number, nspid: number[], children: number[], state = 'S (sleeping)'): void {
  const dir = path.join(proc, String(pid), 'task', String(pid))
  fs.mkdirSync(dir, {recursive: true})
  fs.writeFileSync(path.join(dir, 'children'), children.map((c) => `${c} `).join(''))
  fs.writeFileSync(path.join(proc, String(pid), 'status'), `Name:\tx\nState:\t${state}\nNSpid:\t${nspid.join('\t')}\n`)
}

// The supervisor (host 500, pod 1) with app a (pod 7), app b (pod 9, a zombie), and a grandchild (pod 12).
add(500, [500, 1], [501, 502])
add(501, [501, 7], [503])
add(502, [502, 9], [], 'Z (zombie)')
add(503, [503, 12], [])

describe('findHostPid', () => {
  test('a child or a deeper descendant, by its PID inside the pod', () => {
    assert.equal(findHostPid(500, 7, proc), 501)
    assert.equal(findHostPid(500, 12, proc), 503)
  })
  test('nothing for a zombie, an unknown PID, or a supervisor that is gone', () => {
    assert.equal(findHostPid(500, 9, proc), undefined)
    assert.equal(findHostPid(500, 42, proc), undefined)
    assert.equal(findHostPid(999, 7, proc), undefined)
  })
  test('isAlive: present and not a zombie', () => {
    assert.equal(isAlive(500, proc), true)
    assert.equal(isAlive(502, proc), false)
    assert.equal(isAlive(999, proc), false)
  })
})
