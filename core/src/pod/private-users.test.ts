// --private-users on stage0's side, against the real kernel (as root): ranges chosen disjoint from the data
// directory's pods and from live user namespaces, the run-time check, and the idmapped view of a tree.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, describe, test} from 'node:test'

import {idRangesOverlap, parseIdRange} from '../contract/id-range.js'
import {unmountTree} from '../sys/mounts.js'
import {MNT_DETACH, umount2} from '../sys/native.js'
import {checkIdRangeFree, chownShifted, mountShifted, podIdRange, reserveIdRange} from './private-users.js'
import {PodStore} from './pods.js'

const dirs: string[] = []
const procs: ChildProcess[] = []
after(() => {
  for (const p of procs) p.kill('SIGKILL')
  for (const d of dirs) {
    unmountTree(d) // the pods/ fence of each data directory
    fs.rmSync(d, {recursive: true, force: true})
  }
})

function tmp(): string {
  dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-private-users-')))
  return dirs.at(-1)!
}

describe('--private-users ranges', () => {
  test('each pod of a data directory gets its own 65536-aligned range of 65536 ids, recorded in the pod', () => {
    const pods = new PodStore(tmp())
    const ranges = Array.from({length: 40}, () => {
      const pod = pods.create()
      const r = reserveIdRange(pods, pod)
      assert.deepEqual(podIdRange(pod), r, 'recorded in private-users-prepared')
      assert.equal(r.count, 65536)
      assert.equal(r.first % 65536, 0)
      assert.ok(r.first >= 0x80000 && r.first + r.count <= 0x70000000, `in systemd's container range: ${r.first}`)
      return r
    })
    for (const [i, a] of ranges.entries())
      for (const b of ranges.slice(i + 1)) assert.ok(!idRangesOverlap(a, b), `${a.first} and ${b.first}`)
  })

  test('a range a live user namespace maps is never chosen, and a prepared pod on it is refused at start', async () => {
    const pods = new PodStore(tmp())
    const pod = pods.create()
    const r = reserveIdRange(pods, pod)
    assert.doesNotThrow(() => checkIdRangeFree(pod, r))
    // Something else (another data directory's pod, another tool) now runs on part of that range.
    const other = spawn('unshare', ['--user', '--', 'sleep', '60'], {stdio: 'ignore'})
    procs.push(other)
    const ns = (pid: number | string): string => fs.readlinkSync(`/proc/${pid}/ns/user`)
    for (let i = 0; i < 200 && ns(other.pid!) === ns('self'); i++) await sleep(10)
    fs.writeFileSync(`/proc/${other.pid}/uid_map`, `0 ${r.first + 100} 10\n`)
    assert.throws(
      () => checkIdRangeFree(pod, r),
      (err: Error & {hint?: string}) =>
        err.message.includes(`process ${other.pid}`) && /prepare the pod again/.test(err.hint ?? ''),
    )
    const taken = parseIdRange(`${r.first + 100}:10`)
    for (let i = 0; i < 30; i++) assert.ok(!idRangesOverlap(reserveIdRange(pods, pods.create()), taken))
  })

  test('a tree mounted shifted is the range’s, one mount whatever its size; an upper directory gets the shifted owner', () => {
    const dir = tmp()
    const tree = path.join(dir, 'tree')
    fs.mkdirSync(path.join(tree, 'etc'), {recursive: true})
    fs.writeFileSync(path.join(tree, 'etc', 'f'), 'x')
    fs.chownSync(path.join(tree, 'etc', 'f'), 33, 44)
    const view = path.join(dir, 'view')
    const range = {first: 0x120000, count: 65536}
    mountShifted(tree, view, range)
    try {
      const st = fs.statSync(path.join(view, 'etc', 'f'))
      assert.deepEqual([st.uid, st.gid], [range.first + 33, range.first + 44])
      assert.equal(fs.statSync(path.join(tree, 'etc', 'f')).uid, 33, 'the tree itself is unchanged')
    } finally {
      umount2(view, MNT_DETACH)
    }
    const upper = path.join(dir, 'upper')
    fs.mkdirSync(upper)
    chownShifted(upper, tree, range)
    assert.equal(fs.statSync(upper).uid, range.first)
  })
})
