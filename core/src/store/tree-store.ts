// The tree store: each image rendered once (with its dependencies and path whitelists, appc R1–R3)
// into cas/tree/<id>/rootfs, for pods to use as an overlayfs lower directory.
//
// A tree is usable only once its `rendered` marker exists; the marker is written after the tree's
// content hash and a syncfs, and removed first when a tree is deleted. A crash mid-render therefore
// costs a re-render, never a pod started on half a tree (docs/security.md FI-05).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import type {ImageRecord} from './index-file.js'
import type {ImageStore} from './image-store.js'

import {DEFAULT_XATTRS, extractAci} from '../aci/index.js'
import {RktError, wrap} from '../errors.js'
import {parseImageManifest, type ImageManifest} from '../schema/index.js'
import {fsyncDir, writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {removeTree} from '../sys/mounts.js'
import {getXattr, listXattrs, syncfs} from '../sys/native.js'
import {isCanonicalId, shortId, storeKey} from './ids.js'

/** One image to extract, with the non-empty path whitelists that apply to it (its own and its ancestors'). */
export interface RenderLayer {
  readonly key: string
  readonly whitelists: readonly ReadonlySet<string>[]
}

/** The layers of an image in extraction order, and the ID of the tree they make. */
export interface RenderPlan {
  readonly treeId: string
  readonly layers: readonly RenderLayer[]
}

// Docker allows about 127 layers, each one ACI (docker/import.ts) under the image's own.
const MAX_DEPENDENCY_DEPTH = 160

/** A rendered tree. */
export interface RenderedTree {
  readonly treeId: string
  readonly rootfs: string
  /** True when this call rendered it; false when it was already in the store. */
  readonly fresh: boolean
}

/** Renders images into the tree store and checks rendered trees. */
export class TreeStore {
  constructor(readonly store: ImageStore) {}

  private manifestOf(key: string): ImageManifest {
    return parseImageManifest(this.store.manifestBytes(key)).manifest
  }

  private resolveDependency(dep: ImageManifest['dependencies'][number], parent: ImageRecord): ImageRecord {
    if (dep.imageID !== undefined) {
      if (!isCanonicalId(dep.imageID)) {
        throw new RktError(
          `image ${parent.name} names dependency ${dep.imageName} by an invalid image ID ${dep.imageID}`,
          {
            code: 'EDEPENDENCY',
          },
        )
      }
      const rec = this.store.get(storeKey(dep.imageID))
      if (rec && rec.id === dep.imageID) return rec
    } else {
      const labels = Object.fromEntries(dep.labels.map((l) => [l.name, l.value]))
      const rec = this.store.findByName({name: dep.imageName, labels})[0]
      if (rec) return rec
    }
    const what = dep.imageID ? `${dep.imageName} (${shortId(dep.imageID)})` : dep.imageName
    throw new RktError(`dependency ${what} of image ${parent.name} is not in the store`, {
      code: 'EDEPENDENCY',
      hint: `fetch it first: rkt fetch <the ${dep.imageName} image>`,
    })
  }

  /** The render plan of an image (appc R1: dependencies depth-first in list order, then the image). */
  plan(key: string): RenderPlan {
    const layers: RenderLayer[] = []
    const visit = (rec: ImageRecord, inherited: readonly ReadonlySet<string>[], stack: readonly string[]): void => {
      if (stack.includes(rec.key)) {
        throw new RktError(
          `image dependencies form a cycle: ${[...stack, rec.key].map((k) => shortId(k)).join(' -> ')}`,
          {
            code: 'EDEPENDENCY',
          },
        )
      }
      if (stack.length >= MAX_DEPENDENCY_DEPTH) {
        throw new RktError(`image dependencies are nested more than ${MAX_DEPENDENCY_DEPTH} deep`, {
          code: 'EDEPENDENCY',
        })
      }
      const m = this.manifestOf(rec.key)
      // Sets: a converted Docker layer lists every file of the image so far, and each path is checked.
      const whitelists = m.pathWhitelist.length > 0 ? [...inherited, new Set(m.pathWhitelist)] : inherited
      for (const dep of m.dependencies) visit(this.resolveDependency(dep, rec), whitelists, [...stack, rec.key])
      layers.push({key: rec.key, whitelists})
    }
    visit(this.store.mustGet(key), [], [])
    const digest = crypto
      .createHash('sha512')
      .update(layers.map((l) => l.key).join('\n'))
      .digest('hex')
    return {treeId: `deps-sha512-${digest.slice(0, 64)}`, layers}
  }

  /** The rootfs path of a tree. */
  rootfs(treeId: string): string {
    return path.join(this.store.layout.tree(treeId), 'rootfs')
  }

  /** True when a tree is complete (its `rendered` marker exists). */
  isRendered(treeId: string): boolean {
    return fs.existsSync(path.join(this.store.layout.tree(treeId), 'rendered'))
  }

  /**
   * Extracts a plan's layers into an empty directory, in order, each under a shared lock on its image
   * (so `image rm` cannot delete a blob while it is read).
   */
  extractLayers(plan: RenderPlan, rootfs: string, onProgress?: (done: number, total: number) => void): void {
    const total = plan.layers.reduce((n, l) => n + this.store.mustGet(l.key).size, 0)
    let before = 0
    plan.layers.forEach((layer, i) => {
      const imageLock = this.store.lockImage(layer.key, false)
      try {
        const filter =
          layer.whitelists.length === 0 ? undefined : (p: string) => layer.whitelists.every((w) => w.has(p))
        const r = extractAci(this.store.blobPath(layer.key), rootfs, {
          rootfsOnly: true,
          layered: i > 0,
          ...(filter ? {filter} : {}),
          ...(onProgress ? {onProgress: (d: number) => onProgress(before + d, total)} : {}),
        })
        before += r.bytes
      } catch (err) {
        throw wrap(`cannot render image ${shortId(layer.key)}`, err)
      } finally {
        imageLock.release()
      }
    })
  }

  /** Renders an image (once): returns at once when its tree is already rendered. */
  render(key: string, opts: {onProgress?: (done: number, total: number) => void} = {}): RenderedTree {
    const plan = this.plan(key)
    const dir = this.store.layout.tree(plan.treeId)
    const rootfs = path.join(dir, 'rootfs')
    const lock = FileLock.onFile(this.store.layout.treeLock(plan.treeId), {exclusive: true, wait: true})
    try {
      if (this.isRendered(plan.treeId)) return {treeId: plan.treeId, rootfs, fresh: false}
      removeTree(dir) // a partial tree from a crashed render
      fs.mkdirSync(rootfs, {recursive: true, mode: 0o755})
      fs.chmodSync(dir, 0o700)
      this.extractLayers(plan, rootfs, opts.onProgress)
      const {hash, bytes} = hashTree(rootfs)
      writeFileAtomic(path.join(dir, 'hash'), `${hash}\n`)
      writeFileAtomic(path.join(dir, 'image'), `${key}\n`)
      const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
      try {
        syncfs(fd) // one flush for the thousands of files just written, before the marker
      } finally {
        fs.closeSync(fd)
      }
      fs.writeFileSync(path.join(dir, 'rendered'), '')
      fsyncDir(dir)
      this.store.setTreeStoreSize(key, bytes)
      return {treeId: plan.treeId, rootfs, fresh: true}
    } catch (err) {
      removeTree(dir)
      throw err
    } finally {
      lock.release()
    }
  }

  /**
   * Renders an image and holds its tree against removal (a shared lock) until the caller, having recorded
   * that a pod uses it, releases the lock. A gc that removed the tree between the render and the lock is
   * answered by rendering again.
   */
  renderHeld(
    key: string,
    opts: {onProgress?: (done: number, total: number) => void} = {},
  ): RenderedTree & {lock: FileLock} {
    // The common case, a tree already rendered, takes only the shared lock: pods being prepared from one
    // image do not wait for each other.
    const {treeId} = this.plan(key)
    const first = FileLock.onFile(this.store.layout.treeLock(treeId), {exclusive: false, wait: true})
    if (this.isRendered(treeId)) return {treeId, rootfs: this.rootfs(treeId), fresh: false, lock: first}
    first.release()
    for (let attempt = 1; ; attempt++) {
      const tree = this.render(key, opts)
      const lock = FileLock.onFile(this.store.layout.treeLock(tree.treeId), {exclusive: false, wait: true})
      if (this.isRendered(tree.treeId)) return {...tree, lock}
      lock.release()
      if (attempt === 3)
        throw new RktError(`the tree of image ${key} keeps being removed while it is rendered`, {
          hint: 'is `rkt image gc` running in a loop?',
        })
    }
  }

  /**
   * Re-hashes a rendered tree and compares it with the hash recorded at render time.
   * Returns undefined when the image has no rendered tree.
   */
  verify(key: string): {treeId: string; ok: boolean; expected: string; actual: string} | undefined {
    const {treeId} = this.plan(key)
    if (!this.isRendered(treeId)) return undefined
    const lock = FileLock.onFile(this.store.layout.treeLock(treeId), {exclusive: false, wait: true})
    try {
      const expected = fs.readFileSync(path.join(this.store.layout.tree(treeId), 'hash'), 'utf8').trim()
      const {hash} = hashTree(this.rootfs(treeId))
      return {treeId, ok: hash === expected, expected, actual: hash}
    } finally {
      lock.release()
    }
  }

  /** Tree IDs present on disk. */
  list(): string[] {
    try {
      return fs.readdirSync(this.store.layout.treeRoot).filter((n) => /^deps-sha512-[0-9a-f]{64}$/.test(n))
    } catch {
      return []
    }
  }

  /** The image key a tree was rendered for, if recorded. */
  imageOf(treeId: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.store.layout.tree(treeId), 'image'), 'utf8').trim()
    } catch {
      return undefined
    }
  }

  /**
   * Removes a tree unless somebody holds its lock (a render, or a pod being prepared on it) or, asked
   * under the lock, `inUse` says a pod uses it. The marker goes first, so a crash half-way leaves a tree
   * that is re-rendered, never used.
   */
  remove(treeId: string, inUse: () => boolean = () => false): boolean {
    let lock: FileLock
    try {
      lock = FileLock.onFile(this.store.layout.treeLock(treeId), {exclusive: true, wait: false})
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false
      throw err
    }
    try {
      if (inUse()) return false
      const dir = this.store.layout.tree(treeId)
      fs.rmSync(path.join(dir, 'rendered'), {force: true})
      if (fs.existsSync(dir)) fsyncDir(dir)
      removeTree(dir)
      return true
    } finally {
      lock.release()
    }
  }
}

const XATTR_ALLOWED = (name: string): boolean =>
  DEFAULT_XATTRS.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p))

/**
 * A content hash of a tree: every entry's path, type, permission bits, owner, link target or device
 * number, allowed xattrs, and file content, in sorted order. Timestamps are left out (they do not
 * change what runs). Returns the hash and the bytes of file content.
 */
export function hashTree(root: string): {hash: string; bytes: number} {
  const h = crypto.createHash('sha512')
  const buf = Buffer.allocUnsafe(1 << 20)
  let bytes = 0
  const walk = (dir: string, rel: string): void => {
    const names = fs.readdirSync(dir).sort()
    for (const name of names) {
      const abs = path.join(dir, name)
      const r = `${rel}/${name}`
      const st = fs.lstatSync(abs)
      let type: string
      let extra = ''
      if (st.isDirectory()) type = 'd'
      else if (st.isFile()) {
        type = 'f'
        extra = String(st.size)
      } else if (st.isSymbolicLink()) {
        type = 'l'
        extra = fs.readlinkSync(abs)
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        type = st.isCharacterDevice() ? 'c' : 'b'
        extra = String(st.rdev)
      } else if (st.isFIFO()) type = 'p'
      else type = 's'
      const xattrs = listXattrs(abs)
        .filter(XATTR_ALLOWED)
        .sort()
        .map((x) => `${x}=${getXattr(abs, x).toString('hex')}`)
        .join(',')
      h.update(`${r}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}\0${st.gid}\0${extra}\0${xattrs}\n`)
      if (type === 'f') {
        const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
        try {
          let n: number
          while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n))
        } finally {
          fs.closeSync(fd)
        }
        bytes += st.size
      } else if (type === 'd') walk(abs, r)
    }
  }
  walk(root, '')
  return {hash: `sha512-${h.digest('hex')}`, bytes}
}
