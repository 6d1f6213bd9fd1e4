// `rkt gc` and `rkt rm` (rkt's pod-lifecycle.md "Garbage collection"): mark exited and failed pods by
// renaming them into exited-garbage/ or garbage/, then sweep: under the pod's exclusive lock, run the
// stage1's gc entrypoint, unmount whatever is left, and delete the directory without ever following a
// symlink or a mount out of it. A pod that cannot be unmounted or deleted is left, marked, for the next
// gc (docs/security.md SEC-19); it is reported, and gc goes on with the other pods.
import fs from 'node:fs'
import path from 'node:path'

import type {Globals} from '../config/globals.js'
import type {ImageStore} from '../store/image-store.js'
import type {Pod} from './pods.js'

import {RktError, wrap} from '../errors.js'
import {unregisterPodDir} from '../mds/client.js'
import {gcArgv} from '../stage1/contract.js'
import {removeTree, unmountTree} from '../sys/mounts.js'
import {podManifestOf} from './info.js'
import {PodStore} from './pods.js'
import {podStage1, runEntrypoint} from './stage1-image.js'

export interface GcOptions {
  /** Exited pods stay in exited-garbage/ this long after being marked (default 30 min). */
  readonly gracePeriodMs: number
  /** The grace period as the user wrote it, for messages. */
  readonly gracePeriodText: string
  /** Prepared pods older than this are collected (default 24 h). */
  readonly expirePreparedMs: number
  /** Only mark: record the exit time, delete nothing. */
  readonly markOnly: boolean
  /** Progress notes (rkt prints them on stderr). */
  readonly log: (line: string) => void
  /** The pods collected (rkt prints `Garbage collecting pod "UUID"` on stdout). */
  readonly collected: (uuid: string) => void
  /** A pod that could not be marked or deleted (the error names it); gc goes on with the others, then fails. */
  readonly failed: (err: unknown) => void
}

// Embryos normally live for microseconds: an old one is a crash between mkdir and rename.
const EMBRYO_EXPIRY_MS = 10 * 60 * 1000

function ageMs(dir: string): number {
  try {
    return Date.now() - fs.lstatSync(dir).ctimeMs
  } catch {
    return 0
  }
}

/** Moves a pod; losing the race to another gc (ENOENT) is normal. */
function tryMove(pod: Pod, to: Parameters<Pod['move']>[0]): boolean {
  try {
    pod.move(to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Runs the stage1's gc entrypoint for a pod that ran, from the stage1's tree in the store (podStage1: never
 * from the pod's own copy, which the pod could have rewritten). An entrypoint that fails throws: what it had
 * to undo outside the pod directory (networks, cgroups) is recorded in there, so the pod is kept for the next
 * gc to try again rather than deleted with those records. A stage1 that cannot be found any more (its tree
 * gone from the store, a pod half deleted by an earlier gc) is only said: nothing could run it.
 */
async function stage1Gc(pod: Pod, globals: Globals, log: (line: string) => void): Promise<void> {
  if (!fs.existsSync(pod.paths.stage1Manifest)) return
  let stage1: ReturnType<typeof podStage1>
  try {
    stage1 = podStage1(pod)
  } catch (err) {
    log(`skipping the stage1 gc of pod "${pod.uuid}": ${(err as Error).message}`)
    return
  }
  const entry = stage1.entrypoint('gc')
  if (entry === undefined) return
  const args = gcArgv({uuid: pod.uuid, debug: globals.debug, localConfig: globals.localConfig}, stage1.interfaceVersion)
  const status = await runEntrypoint(entry, args, pod.path)
  if (status !== 0) {
    throw new RktError(`the stage1 gc of pod "${pod.uuid}" failed (exit status ${status}): the pod is kept`, {
      code: 'ESTAGE1GC',
      hint: 'its cause is above; the next rkt gc tries again',
    })
  }
}

/**
 * Deletes a marked pod: returns false when another process holds it (it is skipped, as rkt does). Throws
 * when something under it could not be unmounted (nothing is deleted then) or deleted; the pod stays
 * marked, for a later gc.
 */
export async function deletePod(pod: Pod, globals: Globals, log: (line: string) => void): Promise<boolean> {
  let locked: boolean
  try {
    locked = pod.tryLock() !== undefined
  } catch (err) {
    // Another gc (or rm) deleted it since we listed it: nothing left to do (rkt PR #3515, FI-14).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  if (!locked) return false
  try {
    // rkt's gc unregisters first: the pod's token must stop working before its files go.
    await unregisterPodDir(pod.uuid, pod.paths).catch((err: unknown) =>
      log(`cannot unregister pod "${pod.uuid}" from the metadata service: ${(err as Error).message}`),
    )
    if (pod.dirState === 'exited-garbage') await stage1Gc(pod, globals, log)
    const left = unmountTree(pod.path)
    if (left.length > 0) {
      throw new RktError(
        `cannot remove pod "${pod.uuid}": ${left.map((m) => m.mountPoint).join(', ')} cannot be unmounted; the pod is kept for a later gc`,
        {code: 'EBUSY'},
      )
    }
    try {
      removeTree(pod.path)
    } catch (err) {
      throw wrap(`cannot remove pod "${pod.uuid}"`, err)
    }
    return true
  } finally {
    pod.unlock()
  }
}

/** `rkt gc`: mark, then (unless markOnly) sweep; a pod that fails is reported and the others still go. */
export async function gcPods(globals: Globals, opts: GcOptions): Promise<void> {
  const pods = new PodStore(globals.dir)
  let failed = 0
  const fail = (err: unknown): void => {
    failed++
    opts.failed(err)
  }
  for (const pod of pods.list()) {
    try {
      mark(pod, opts)
    } catch (err) {
      fail(wrap(`cannot mark pod "${pod.uuid}" as garbage`, err))
    }
  }
  if (!opts.markOnly) {
    for (const pod of pods.list()) {
      if (pod.dirState === 'exited-garbage' && ageMs(pod.path) < opts.gracePeriodMs) {
        opts.log(`pod "${pod.uuid}" not removed: still within grace period (${opts.gracePeriodText})`)
        continue
      }
      if (pod.dirState !== 'exited-garbage' && pod.dirState !== 'garbage') continue
      opts.collected(pod.uuid)
      try {
        await deletePod(pod, globals, opts.log)
      } catch (err) {
        fail(err)
      }
    }
  }
  if (failed > 0) {
    throw new RktError(`${failed} pod(s) could not be collected`, {
      code: 'EGC',
      hint: 'each is named above with its cause; the next rkt gc tries again',
    })
  }
}

/** gc's first pass over one pod: exited and failed pods are marked as garbage (moved). */
function mark(pod: Pod, opts: GcOptions): void {
  switch (pod.dirState) {
    case 'run':
      if (!pod.isLockedElsewhere() && tryMove(pod, 'exited-garbage')) opts.log(`moving pod "${pod.uuid}" to garbage`)
      break
    case 'prepare':
      if (!pod.isLockedElsewhere() && tryMove(pod, 'garbage'))
        opts.log(`moving failed prepare "${pod.uuid}" to garbage`)
      break
    case 'prepared':
      if (ageMs(pod.path) > opts.expirePreparedMs && tryMove(pod, 'garbage')) {
        opts.log(`moving expired prepared pod "${pod.uuid}" to garbage`)
      }
      break
    case 'embryo':
      if (ageMs(pod.path) > EMBRYO_EXPIRY_MS && tryMove(pod, 'garbage'))
        opts.log(`moving stale embryo "${pod.uuid}" to garbage`)
      break
    default:
  }
}

/** `rkt rm`: deletes a pod that is not running, at once; returns its UUID. */
export async function removePod(globals: Globals, arg: string, log: (line: string) => void): Promise<string> {
  const pod = new PodStore(globals.dir).find(arg)
  const state = pod.state()
  if (state === 'running' || state === 'preparing' || state === 'embryo') {
    throw new RktError(`pod ${pod.uuid} is ${state}: it cannot be removed`, {
      code: 'EBUSY',
      hint: state === 'running' ? `stop it first: rkt stop ${pod.uuid}` : 'wait for it to finish',
    })
  }
  if (pod.dirState === 'run') tryMove(pod, 'exited-garbage')
  else if (pod.dirState === 'prepare' || pod.dirState === 'prepared') tryMove(pod, 'garbage')
  if (!(await deletePod(pod, globals, log))) {
    throw new RktError(`pod ${pod.uuid} could not be removed now`, {hint: 'another rkt is using it; try again'})
  }
  return pod.uuid
}

/** Tree IDs and image keys the pods of a data directory still use: `rkt image gc` keeps them. */
export function podReferences(dataDir: string, store: ImageStore): {trees: Set<string>; images: Set<string>} {
  const trees = new Set<string>()
  const images = new Set<string>()
  const read = (file: string): string | undefined => {
    try {
      return fs.readFileSync(file, 'utf8').trim()
    } catch {
      return undefined
    }
  }
  for (const pod of new PodStore(dataDir).list()) {
    const p = pod.paths
    const stage1Tree = read(p.stage1TreeStoreId)
    if (stage1Tree) trees.add(stage1Tree)
    let apps: string[] = []
    try {
      apps = fs.readdirSync(path.join(pod.path, 'appsinfo'))
    } catch {
      // a pod that is not prepared yet, or gone meanwhile
    }
    for (const app of apps) {
      const t = read(p.appTreeStoreId(app))
      if (t) trees.add(t)
    }
    for (const ra of podManifestOf(pod)?.apps ?? []) {
      if (ra.image.id === undefined) continue
      try {
        images.add(store.resolve(ra.image.id).key)
      } catch {
        // removed from the store already: the tree is what the pod needs
      }
    }
  }
  return {trees, images}
}
