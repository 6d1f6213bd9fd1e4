// Writing images out of the store: `image export` (the ACI file), `image extract` (its raw contents) and
// `image render` (the rootfs as a pod would see it). Outputs appear whole or not at all: everything is
// written beside the target under a temporary name and renamed into place at the end.
import fs from 'node:fs'
import path from 'node:path'

import type {ImageStore} from './image-store.js'
import type {TreeStore} from './tree-store.js'

import {extractAci} from '../aci/index.js'
import {RktError, wrap} from '../errors.js'
import {tempPathFor} from '../sys/atomic.js'
import {onInterrupt, processAlive} from '../sys/interrupt.js'
import {removeTree} from '../sys/mounts.js'

function refuseExisting(target: string, overwrite: boolean, what: string): void {
  if (!fs.existsSync(target)) return
  if (!overwrite) throw new RktError(`${what} ${target} exists`, {code: 'EEXIST', hint: 'try --overwrite'})
}

/**
 * Replaces `target` (a directory) with `tmp`, refusing to delete `/`. An existing target is first renamed
 * aside and deleted only once `tmp` has taken its place, so a crash at any moment leaves the old output
 * whole, the new one whole, or (between the two renames) none, never a half-deleted tree.
 */
function installDir(tmp: string, target: string): void {
  if (path.resolve(target) === '/')
    throw new RktError('this would delete your root filesystem. Refusing.', {code: 'EREFUSED'})
  let old: string | undefined
  if (fs.lstatSync(target, {throwIfNoEntry: false}) !== undefined) {
    old = tempPathFor(target)
    fs.renameSync(target, old)
  }
  try {
    fs.renameSync(tmp, target)
  } catch (err) {
    if (old !== undefined) fs.renameSync(old, target)
    throw err
  }
  if (old !== undefined) removeTree(old)
}

/**
 * Removes temporary siblings of `target` left by killed rkt processes (tempPathFor names them
 * `.<name>.tmp-<pid>-<random>`; a dead PID means nobody is writing there any more).
 */
function sweepStaleTemps(target: string): void {
  const prefix = `.${path.basename(target)}.tmp-`
  let names: string[]
  try {
    names = fs.readdirSync(path.dirname(target))
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1])
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
      removeTree(path.join(path.dirname(target), name))
    }
  }
}

/** Runs `fill` on a fresh temporary directory beside `target`, then moves it into place. */
function writeDir(target: string, overwrite: boolean, fill: (dir: string) => void): void {
  const abs = path.resolve(target)
  if (abs === '/') throw new RktError('this would delete your root filesystem. Refusing.', {code: 'EREFUSED'})
  refuseExisting(abs, overwrite, 'output directory')
  // rkt creates missing parents of the output directory (os.MkdirAll).
  try {
    fs.mkdirSync(path.dirname(abs), {recursive: true, mode: 0o755})
  } catch (err) {
    throw wrap(`cannot create the output directory ${abs}`, err)
  }
  sweepStaleTemps(abs)
  const tmp = tempPathFor(abs)
  fs.mkdirSync(tmp, {mode: 0o755})
  const done = onInterrupt(() => removeTree(tmp))
  try {
    fill(tmp)
    installDir(tmp, abs)
  } catch (err) {
    removeTree(tmp)
    throw err
  } finally {
    done()
  }
}

/** `rkt image export`: the stored (uncompressed) ACI, copied to a file. */
export function exportImage(store: ImageStore, key: string, outFile: string, overwrite: boolean): void {
  refuseExisting(outFile, overwrite, 'output ACI file')
  const tmp = tempPathFor(path.resolve(outFile))
  const lock = store.lockImage(key, false)
  try {
    fs.copyFileSync(store.blobPath(key), tmp)
    fs.renameSync(tmp, outFile)
  } catch (err) {
    fs.rmSync(tmp, {force: true})
    throw wrap(`cannot write the output ACI file ${outFile}`, err)
  } finally {
    lock.release()
  }
}

/** `rkt image extract`: the image's manifest and rootfs (or only the rootfs) in a directory. */
export function extractImage(
  store: ImageStore,
  key: string,
  outDir: string,
  opts: {rootfsOnly: boolean; overwrite: boolean},
): void {
  writeDir(outDir, opts.overwrite, (dir) => {
    const lock = store.lockImage(key, false)
    try {
      extractAci(store.blobPath(key), dir, {rootfsOnly: opts.rootfsOnly})
    } finally {
      lock.release()
    }
  })
}

/** `rkt image render`: the rootfs with dependencies applied (and the manifest unless rootfsOnly). */
export function renderImage(
  trees: TreeStore,
  key: string,
  outDir: string,
  opts: {rootfsOnly: boolean; overwrite: boolean; onProgress?: (done: number, total: number) => void},
): void {
  const plan = trees.plan(key)
  writeDir(outDir, opts.overwrite, (dir) => {
    const rootfs = opts.rootfsOnly ? dir : path.join(dir, 'rootfs')
    if (!opts.rootfsOnly) {
      fs.mkdirSync(rootfs)
      fs.writeFileSync(path.join(dir, 'manifest'), trees.store.manifestBytes(key), {mode: 0o644})
    }
    trees.extractLayers(plan, rootfs, opts.onProgress)
  })
}
