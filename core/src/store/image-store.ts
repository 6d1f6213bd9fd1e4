// The content-addressed image store (docs/architecture.md): blobs are uncompressed ACIs named by their store
// key, the index says which images exist. Order of commits: blob (fsynced, renamed into place) →
// manifest copy → index entry. A crash, or a full disk, before the index entry leaves an invisible orphan
// blob (and maybe its manifest), which the next import, or `rkt image gc`, deletes under the image's lock
// (removeOrphans): the orphan holds the very space a new copy of its image needs. Nothing is ever listed
// whose blob is missing or incomplete.
import fs from 'node:fs'
import path from 'node:path'

import {RktError, wrap} from '../errors.js'
import {parseAppString} from '../schema/index.js'
import {fsyncDir, writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {removeTree} from '../sys/mounts.js'
import {isStoreKey, looksLikeId, parseIdPrefix, shortId, storeKey} from './ids.js'
import {withOwnStage1Name} from './stage1-flavours.js'
import {CorruptIndexError, type ImageRecord, IndexFile} from './index-file.js'
import {StoreLayout} from './layout.js'
import {cleanStaleStaging, StagingFile} from './staging.js'

/** A lookup by name and labels (`name[:version][,label=value…]`, version being the `version` label). */
export interface ImageQuery {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

/** Parses `name[:version][,label=value…]` into a store query. */
export function imageQuery(ref: string): ImageQuery {
  const {app} = parseAppString(ref)
  return {name: app.name, labels: app.labels}
}

/** What an import needs to know about a checked, staged image. */
export interface StagedImage {
  readonly staging: StagingFile
  /** Canonical ID: sha512 of the uncompressed tar, computed while staging. */
  readonly id: string
  readonly size: number
  /** The manifest bytes exactly as found in the image, and its already-validated name and labels. */
  readonly manifest: Buffer
  readonly name: string
  readonly labels: readonly {readonly name: string; readonly value: string}[]
}

/** The image store of one data directory. */
export class ImageStore {
  readonly layout: StoreLayout
  readonly index: IndexFile

  private constructor(dir: string) {
    this.layout = new StoreLayout(dir)
    this.index = new IndexFile(this.layout.indexFile, this.layout.indexLock)
  }

  /** Opens (creating if needed) the store under a data directory. */
  static open(dir: string): ImageStore {
    const store = new ImageStore(dir)
    try {
      store.layout.ensure()
      // A new store gets its (empty) index at once: from then on a blob the index does not name is an
      // orphan, and a missing index means a lost one (removeOrphans and commit tell the two apart by this).
      if (store.index.missing() && store.blobKeysOnDisk().length === 0) store.index.update(() => undefined)
    } catch (err) {
      throw wrap(`cannot open the image store in ${dir}`, err, {
        hint:
          err instanceof Error && (err as NodeJS.ErrnoException).code === 'EACCES'
            ? 'run as root, or pick a --dir you can write'
            : undefined,
      })
    }
    return store
  }

  /** Every image, in index order. */
  list(): ImageRecord[] {
    return this.index.read()
  }

  /** The record of a store key, if the image is in the store. */
  get(key: string): ImageRecord | undefined {
    return this.list().find((r) => r.key === key)
  }

  /** The record for a key that must exist. */
  mustGet(key: string): ImageRecord {
    const r = this.get(key)
    if (!r) throw new RktError(`image ${shortId(key)} is not in the store`, {code: 'ENOIMAGE'})
    return r
  }

  /** Images whose ID starts with a prefix (`sha512-…`), validated first. */
  findByIdPrefix(prefix: string): ImageRecord[] {
    const p = parseIdPrefix(prefix)
    return this.list().filter((r) => r.id.startsWith(p))
  }

  /** Images matching a name and labels (rkt's stage1 flavour names too); the most recently imported first. */
  findByName(query: ImageQuery): ImageRecord[] {
    const q = withOwnStage1Name(query)
    return this.list()
      .filter(
        (r) =>
          r.name === q.name &&
          Object.entries(q.labels).every(([k, v]) => r.labels.some((l) => l.name === k && l.value === v)),
      )
      .sort((a, b) => b.importTime - a.importTime)
  }

  /**
   * Resolves what a user typed: an ID prefix must match exactly one image (SEC-43: ambiguous prefixes are
   * an error, never the first match); a name picks the latest import among the matches, as rkt does. The ID
   * errors open with rkt's words (`no image IDs found`, `ambiguous image ID`), which scripts match.
   */
  resolve(ref: string): ImageRecord {
    if (looksLikeId(ref)) {
      const found = this.findByIdPrefix(ref)
      if (found.length === 1) return found[0]!
      if (found.length === 0) {
        throw new RktError(`no image IDs found for ${JSON.stringify(ref)} in the store`, {
          code: 'ENOIMAGE',
          hint: 'see the stored images with: rkt image list',
        })
      }
      throw new RktError(`ambiguous image ID: ${JSON.stringify(ref)} (${found.map((r) => shortId(r.id)).join(', ')})`, {
        code: 'EAMBIGUOUS',
        hint: 'give more digits of the ID',
      })
    }
    const q = imageQuery(ref)
    const found = this.findByName(q)
    if (found.length === 0) {
      throw new RktError(`no image named ${ref} in the store`, {
        code: 'ENOIMAGE',
        hint: 'fetch it first (rkt fetch IMAGE), or see the stored images with: rkt image list',
      })
    }
    return found[0]!
  }

  /** Path of an image's uncompressed ACI. */
  blobPath(key: string): string {
    return this.layout.blob(key)
  }

  /** The image manifest bytes as they were in the image. */
  manifestBytes(key: string): Buffer {
    try {
      return fs.readFileSync(this.layout.manifest(key))
    } catch (err) {
      throw wrap(`cannot read the manifest of image ${shortId(key)}`, err)
    }
  }

  /**
   * A new staging file for an import; first sweeps staging files of dead processes and orphan blobs, so
   * that on a nearly full disk the space they hold is there for the new copy.
   */
  stage(): StagingFile {
    cleanStaleStaging(this.layout.tmpDir)
    this.removeOrphans()
    return StagingFile.create(this.layout.tmpDir)
  }

  /**
   * Deletes the blobs, manifests and engine caches no index entry names (left by a commit that failed
   * half-way: a crash, a full disk; or a cache made for an image removed meanwhile) and returns their keys. Each is taken under its image's lock without waiting: a locked
   * one is being committed right now and is left alone; under the lock, an entry found in the index by
   * then is kept. Nothing is deleted while the index is missing (lost: rkt image rebuild-index recovers
   * the images from the blobs) or unusable (it throws).
   */
  removeOrphans(): string[] {
    if (this.index.missing()) return []
    const indexed = new Set(this.list().map((r) => r.key))
    const removed: string[] = []
    const engineCaches = safeReaddir(this.layout.engineCacheRoot).filter(isStoreKey)
    for (const key of new Set([...this.blobKeysOnDisk(), ...keysOnDisk(this.layout.manifestRoot), ...engineCaches])) {
      if (indexed.has(key)) continue
      let lock: FileLock
      try {
        lock = FileLock.onFile(this.layout.imageLock(key), {exclusive: true, wait: false})
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue
        throw err
      }
      try {
        if (this.get(key) !== undefined) continue
        fs.rmSync(this.layout.blob(key), {force: true})
        fs.rmSync(this.layout.manifest(key), {force: true})
        this.removeEngineCache(key)
        removed.push(key)
      } finally {
        lock.release()
      }
    }
    return removed
  }

  /** Takes the per-image lock (exclusive for import and removal, shared for readers of the blob). */
  lockImage(key: string, exclusive: boolean): FileLock {
    return FileLock.onFile(this.layout.imageLock(key), {exclusive, wait: true})
  }

  /**
   * Makes a staged, verified image visible. Idempotent and safe under concurrency: five imports of one
   * image leave one blob and one index entry. Consumes the staging file.
   */
  commit(s: StagedImage): ImageRecord {
    const key = storeKey(s.id)
    const lock = this.lockImage(key, true)
    try {
      // Writing a fresh index beside stored images would leave them unlisted, as orphans for gc to delete.
      if (this.index.missing() && this.blobKeysOnDisk().some((k) => k !== key))
        throw new CorruptIndexError(this.index.file, 'it is missing, yet images are stored')
      s.staging.sync()
      const blob = this.layout.blob(key)
      fs.mkdirSync(path.dirname(blob), {recursive: true, mode: 0o750})
      if (fs.existsSync(blob) && this.get(key) !== undefined) {
        s.staging.discard() // same key = same content (256 bits of sha512); keep the one already there
      } else {
        // No blob, or an orphan no index entry vouches for (a crash before the index commit, or a damaged
        // copy): the verified staging file replaces it atomically. Nothing reads an unlisted blob.
        fs.renameSync(s.staging.path, blob)
        s.staging.close()
        fsyncDir(path.dirname(blob))
      }
      const manifestFile = this.layout.manifest(key)
      fs.mkdirSync(path.dirname(manifestFile), {recursive: true, mode: 0o750})
      writeFileAtomic(manifestFile, s.manifest, 0o640)
      const now = Date.now()
      return this.index.update((images) => {
        const existing = images.find((r) => r.key === key)
        if (existing) return existing
        const rec: ImageRecord = {
          id: s.id,
          key,
          name: s.name,
          labels: s.labels.map((l) => ({name: l.name, value: l.value})),
          size: s.size,
          importTime: now,
          lastUsed: now,
          treeStoreSize: 0,
        }
        images.push(rec)
        return rec
      })
    } catch (err) {
      s.staging.discard()
      throw err
    } finally {
      lock.release()
    }
  }

  /** Removes an image: index entry first (so nothing is ever listed without its blob), then the files. */
  remove(key: string): void {
    const lock = this.lockImage(key, true)
    try {
      const removed = this.index.update((images) => {
        const i = images.findIndex((r) => r.key === key)
        if (i >= 0) images.splice(i, 1)
        return i >= 0
      })
      if (!removed) throw new RktError(`image ${shortId(key)} is not in the store`, {code: 'ENOIMAGE'})
      fs.rmSync(this.layout.blob(key), {force: true})
      fs.rmSync(this.layout.manifest(key), {force: true})
      this.removeEngineCache(key)
    } finally {
      lock.release()
    }
  }

  /**
   * Deletes what engines made from an image (docs/stage1.md "Engine cache"). Engines write there as root from
   * images' content, so the walk never follows a symlink nor leaves the directory (removeTree). A pod still
   * running keeps what it has open; an exited pod that names a removed file can no longer be exported.
   */
  private removeEngineCache(key: string): void {
    if (fs.existsSync(this.layout.engineCache(key))) removeTree(this.layout.engineCache(key))
  }

  /** The bytes engines keep for an image (its engine cache directory), counted in its `rkt image list` size. */
  engineCacheBytes(key: string): number {
    return allocatedBytes(this.layout.engineCache(key))
  }

  /** Records that images were used now (prepare, run): one index write for all of them. */
  touch(keys: readonly string[], when = Date.now()): void {
    this.index.update((images) => {
      for (const r of images) if (keys.includes(r.key)) r.lastUsed = when
    })
  }

  /** Records the size of an image's rendered tree. */
  setTreeStoreSize(key: string, bytes: number): void {
    this.index.update((images) => {
      const r = images.find((x) => x.key === key)
      if (r) r.treeStoreSize = bytes
    })
  }

  /** Every blob file present on disk, by store key (whether indexed or not). */
  blobKeysOnDisk(): string[] {
    return keysOnDisk(this.layout.blobRoot)
  }
}

/** The store keys of the files under a `<root>/<2 hex>/<key>` tree. */
function keysOnDisk(root: string): string[] {
  const keys: string[] = []
  for (const sub of safeReaddir(root)) {
    for (const name of safeReaddir(path.join(root, sub)))
      if (isStoreKey(name) && name.slice(7, 9) === sub) keys.push(name)
  }
  return keys
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The disk space a tree takes (allocated blocks, so a sparse disk image counts what it holds), by lstat: a
 * symlink is counted, never followed. Zero when the tree is missing.
 */
function allocatedBytes(root: string): number {
  let st: fs.Stats
  try {
    st = fs.lstatSync(root)
  } catch {
    return 0
  }
  let bytes = st.blocks * 512
  if (st.isDirectory()) for (const name of safeReaddir(root)) bytes += allocatedBytes(path.join(root, name))
  return bytes
}
