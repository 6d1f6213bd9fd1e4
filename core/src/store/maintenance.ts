// Store upkeep: rebuilding the index from the blobs, and `rkt image gc`.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import type {ImageRecord} from './index-file.js'
import type {ImageStore} from './image-store.js'
import type {TreeStore} from './tree-store.js'

import {AciValidator} from '../aci/index.js'
import {RktError} from '../errors.js'
import {parseImageManifest} from '../schema/index.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {shortId} from './ids.js'
import {cleanStaleStaging} from './staging.js'

/** Reads a blob through the ACI validator: its full ID, manifest and size. */
export function inspectBlob(file: string): {id: string; manifest: Buffer; size: number} {
  const hash = crypto.createHash('sha512')
  const validator = new AciValidator()
  const buf = Buffer.allocUnsafe(1 << 20)
  const fd = fs.openSync(file, 'r')
  try {
    let n: number
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
      const chunk = buf.subarray(0, n)
      hash.update(chunk)
      validator.push(chunk)
    }
  } finally {
    fs.closeSync(fd)
  }
  const {manifest, bytes} = validator.finish()
  return {id: `sha512-${hash.digest('hex')}`, manifest, size: bytes}
}

export interface RebuildReport {
  readonly images: number
  /** Blobs that could not be indexed (content does not match the name, or not a valid image); kept on disk. */
  readonly problems: readonly string[]
  /** Where the previous index file was kept, if there was one. */
  readonly previous: string | undefined
}

/**
 * Rebuilds the index from the blobs on disk (docs/security.md FI-18): each blob is re-hashed and its manifest re-read.
 * Blobs are never deleted here; the old index file is kept beside the new one.
 */
export function rebuildIndex(store: ImageStore): RebuildReport {
  const lock = FileLock.onFile(store.layout.indexLock, {exclusive: true, wait: true})
  try {
    let previous: string | undefined
    if (fs.existsSync(store.layout.indexFile)) {
      previous = `${store.layout.indexFile}.old-${Date.now()}`
      fs.copyFileSync(store.layout.indexFile, previous)
    }
    const records: ImageRecord[] = []
    const problems: string[] = []
    for (const key of store.blobKeysOnDisk()) {
      const file = store.blobPath(key)
      try {
        const {id, manifest, size} = inspectBlob(file)
        if (!id.startsWith(key)) {
          problems.push(`${file}: content does not match its name (sha512 is ${shortId(id)}); left in place`)
          continue
        }
        const m = parseImageManifest(manifest).manifest
        const mtime = fs.statSync(file).mtimeMs
        // Its directory may be gone too (or never existed, for a blob copied in by hand).
        fs.mkdirSync(path.dirname(store.layout.manifest(key)), {recursive: true, mode: 0o750})
        writeFileAtomic(store.layout.manifest(key), manifest, 0o640)
        records.push({
          id,
          key,
          name: m.name,
          labels: m.labels,
          size,
          importTime: mtime,
          lastUsed: mtime,
          treeStoreSize: 0,
        })
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}; left in place`)
      }
    }
    store.index.write(records)
    return {images: records.length, problems, previous}
  } finally {
    lock.release()
  }
}

export interface ImageGcOptions {
  /** Images not used for this long are removed. */
  readonly gracePeriodMs: number
  /**
   * The tree IDs and image keys pods still use (never removed). Asked again under each tree's lock before
   * that tree goes: a pod being prepared holds its trees' locks until it has recorded them, so a tree is
   * either locked or listed by then, never removed from under a new pod.
   */
  readonly references: () => {readonly trees: ReadonlySet<string>; readonly images: ReadonlySet<string>}
  readonly log: (line: string) => void
}

/** The given images and every image they depend on, as far as the store can resolve them. */
export function dependencyClosure(trees: TreeStore, keys: readonly string[]): Set<string> {
  const out = new Set(keys)
  for (const key of keys) {
    try {
      for (const layer of trees.plan(key).layers) out.add(layer.key)
    } catch {
      // A broken chain (a dependency missing) protects nothing more; rendering names the problem.
    }
  }
  return out
}

/** For every image, the other images that need it to render (each image's plan read once). */
export function dependentsIndex(store: ImageStore, trees: TreeStore): Map<string, ImageRecord[]> {
  const index = new Map<string, ImageRecord[]>()
  for (const r of store.list()) {
    for (const key of dependencyClosure(trees, [r.key])) {
      if (key !== r.key) index.set(key, [...(index.get(key) ?? []), r])
    }
  }
  return index
}

/** The images (other than those in `removing`) that need `key` to render: what `rkt image rm` must not break. */
export function dependentsOf(
  store: ImageStore,
  trees: TreeStore,
  key: string,
  removing: ReadonlySet<string>,
  index: ReadonlyMap<string, readonly ImageRecord[]> = dependentsIndex(store, trees),
): ImageRecord[] {
  return (index.get(key) ?? []).filter((r) => !removing.has(r.key))
}

/** Throws, naming them, when images other than those in `removing` are built on `key` (rkt image rm). */
export function checkRemovable(users: readonly ImageRecord[]): void {
  if (users.length === 0) return
  throw new RktError(`it is a dependency of ${users.map((u) => `${u.name} (${shortId(u.id)})`).join(', ')}`, {
    hint: 'remove the images built on it first (or with it, in the same rkt image rm); rkt image gc removes unused ones',
  })
}

/**
 * `rkt image gc`: removes rendered trees no pod uses, then images unused for longer than the grace
 * period (rkt's order), and sweeps staging files left by dead processes and orphan blobs and manifests
 * (ImageStore.removeOrphans).
 */
export function gcImages(store: ImageStore, trees: TreeStore, opts: ImageGcOptions): {trees: number; images: number} {
  cleanStaleStaging(store.layout.tmpDir)
  for (const key of store.removeOrphans()) opts.log(`removed orphaned files of image "${key}" (no index entry)`)
  let removedTrees = 0
  const before = opts.references()
  for (const treeId of trees.list()) {
    if (before.trees.has(treeId)) continue
    if (trees.remove(treeId, () => opts.references().trees.has(treeId))) {
      removedTrees++
      opts.log(`removed treestore "${treeId}"`)
    }
  }
  const cutoff = Date.now() - opts.gracePeriodMs
  let removedImages = 0
  const imagesInUse = opts.references().images
  const all = store.list()
  const kept = all.filter((r) => r.lastUsed > cutoff || imagesInUse.has(r.key)).map((r) => r.key)
  // An image another kept image is built on (a converted Docker layer, an appc dependency) stays with it.
  const needed = dependencyClosure(trees, kept)
  for (const rec of all) {
    if (needed.has(rec.key)) continue
    store.remove(rec.key)
    removedImages++
    opts.log(`successfully removed aci for image: "${rec.key}"`)
  }
  return {trees: removedTrees, images: removedImages}
}
