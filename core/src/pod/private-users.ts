// `--private-users` on stage0's side: the pod's uid range, chosen at prepare time and recorded in the pod
// (PodPaths.privateUsersPrepared), checked again before the pod starts, and the pod's trees mounted so that
// the stage1 sees them owned by that range (idmapped mounts: nothing is chowned, the store's trees stay
// shared). The stage1 gets the range as `--private-users=FIRST:COUNT` and makes the user namespace.
import crypto from 'node:crypto'
import fs from 'node:fs'

import type {Pod, PodStore} from './pods.js'

import {RktError} from '../errors.js'
import {formatIdRange, ID_RANGE_SIZE, idRangesOverlap, parseIdRange, type IdRange} from '../contract/id-range.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {idmapBind} from '../sys/native.js'

/**
 * Where ranges are taken from: systemd's range for container ids (0x00080000–0x6fffffff), in 65536-aligned
 * slots (28664 of them), far from the host's own users and the 32-bit ids' sign bit.
 */
const FIRST_SLOT = 0x0008
const END_SLOT = 0x7000

/** A live process's user namespace ranges on the host (uid_map and gid_map lines), the host's own excepted. */
function liveRanges(): {pid: number; range: IdRange}[] {
  const out: {pid: number; range: IdRange}[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    for (const map of ['uid_map', 'gid_map']) {
      let text: string
      try {
        text = fs.readFileSync(`/proc/${name}/${map}`, 'utf8')
      } catch {
        continue // gone
      }
      for (const line of text.split('\n')) {
        const [inside, outside, count] = line.trim().split(/\s+/).map(Number)
        if (inside === undefined || outside === undefined || count === undefined || Number.isNaN(count)) continue
        if (inside === 0 && outside === 0 && count === 2 ** 32 - 1) continue // the host's own namespace
        out.push({pid: Number(name), range: {first: outside, count}})
      }
    }
  }
  return out
}

/** The range a pod recorded at prepare time, or undefined when it was prepared without --private-users. */
export function podIdRange(pod: Pod): IdRange | undefined {
  let text: string
  try {
    text = fs.readFileSync(pod.paths.privateUsersPrepared, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return parseIdRange(text)
}

/**
 * Chooses the range of a pod being prepared and records it in the pod: a random slot that no other pod of the
 * data directory (preparing, prepared or in run/) has and no live user namespace on the host maps. Under the
 * data directory's range lock, so that two prepares cannot pick the same slot.
 */
export function reserveIdRange(pods: PodStore, pod: Pod): IdRange {
  const lock = FileLock.onFile(pods.idRangeLock, {exclusive: true, wait: true})
  try {
    const taken = liveRanges().map((l) => l.range)
    for (const other of pods.list()) {
      if (other.uuid === pod.uuid || !['prepare', 'prepared', 'run'].includes(other.dirState)) continue
      try {
        const r = podIdRange(other)
        if (r) taken.push(r)
      } catch {
        // moved on (deleted, renamed) while we looked, or unreadable: it holds no range we could avoid
      }
    }
    for (let attempt = 0; attempt < 1000; attempt++) {
      const range = {first: crypto.randomInt(FIRST_SLOT, END_SLOT) * ID_RANGE_SIZE, count: ID_RANGE_SIZE}
      if (taken.some((t) => idRangesOverlap(t, range))) continue
      writeFileAtomic(pod.paths.privateUsersPrepared, formatIdRange(range))
      return range
    }
    throw new RktError('no free uid range for --private-users', {
      code: 'ENORANGE',
      hint: 'remove exited pods (rkt gc) and prepared pods you no longer need, or run without --private-users',
    })
  } finally {
    lock.release()
  }
}

/**
 * Refuses to start a pod whose range a live user namespace now maps (a pod of another data directory, a
 * container of another tool, started since the pod was prepared): the two would share ids on the host.
 */
export function checkIdRangeFree(pod: Pod, range: IdRange): void {
  const user = liveRanges().find((l) => idRangesOverlap(l.range, range))
  if (user === undefined) return
  throw new RktError(
    `the uid range ${formatIdRange(range)} of pod ${pod.uuid} is in use: process ${user.pid} runs in a user namespace mapping ${formatIdRange(user.range)}`,
    {
      code: 'ERANGEINUSE',
      hint: 'prepare the pod again (rkt prepare --private-users chooses a free range), or stop what uses the range',
    },
  )
}

/**
 * Mounts `tree` (a store tree, or the pod's own copy) at `target` as the pod's root sees it: ids shifted into
 * the range. One mount, whatever the tree's size.
 */
export function mountShifted(tree: string, target: string, range: IdRange): void {
  fs.mkdirSync(target, {recursive: true})
  idmapBind(tree, target, range.first, range.count)
}

/** The owner an overlay's upper directory needs so the overlay's root is the lower tree's root, shifted. */
export function chownShifted(dir: string, tree: string, range: IdRange): void {
  const st = fs.statSync(tree)
  fs.chownSync(dir, st.uid + range.first, st.gid + range.first)
}
