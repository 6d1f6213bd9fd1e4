// The data directory layout (rkt's directory and file names under /var/lib/rkt). Only this module builds store paths.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {isStoreKey} from './ids.js'

/** Paths of the content-addressed store under one data directory. */
export class StoreLayout {
  readonly cas: string
  constructor(readonly dir: string) {
    this.cas = path.join(dir, 'cas')
  }

  get blobRoot(): string {
    return path.join(this.cas, 'blob', 'sha512')
  }
  get manifestRoot(): string {
    return path.join(this.cas, 'imageManifest', 'sha512')
  }
  get dbDir(): string {
    return path.join(this.cas, 'db')
  }
  get indexFile(): string {
    return path.join(this.dbDir, 'index.json')
  }
  get indexLock(): string {
    return path.join(this.dbDir, 'index.lock')
  }
  /** What remote fetches know of their URLs (ETag, max-age, the image they gave): see remotes.ts. */
  get remotesFile(): string {
    return path.join(this.dbDir, 'remotes.json')
  }
  /** Partial downloads, kept across runs so a retry can resume them. */
  get downloadDir(): string {
    return path.join(this.cas, 'downloads')
  }
  get treeRoot(): string {
    return path.join(this.cas, 'tree')
  }
  get tmpDir(): string {
    return path.join(this.cas, 'tmp')
  }
  get imageLockDir(): string {
    return path.join(this.cas, 'imagelocks')
  }
  get treeLockDir(): string {
    return path.join(this.cas, 'treestorelocks')
  }
  get downloadLockDir(): string {
    return path.join(this.cas, 'downloadlocks')
  }

  private checkKey(key: string): string {
    // Keys come from our own index or from hashing; checking again keeps any bug from becoming a path escape.
    if (!isStoreKey(key)) throw new Error(`internal error: not a store key: ${JSON.stringify(key)}`)
    return key
  }

  /** cas/blob/sha512/<2 hex>/<key>: the uncompressed ACI. */
  blob(key: string): string {
    return path.join(this.blobRoot, this.checkKey(key).slice(7, 9), key)
  }
  /** cas/imageManifest/sha512/<2 hex>/<key>: the image manifest as it was in the image. */
  manifest(key: string): string {
    return path.join(this.manifestRoot, this.checkKey(key).slice(7, 9), key)
  }
  imageLock(key: string): string {
    return path.join(this.imageLockDir, this.checkKey(key))
  }
  /** cas/downloads/<sha256 of the URL>: its partial download (named by hash: no URL text becomes a path). */
  download(url: string): string {
    return path.join(this.downloadDir, urlHash(url))
  }
  /** cas/downloadlocks/<sha256 of the URL>: held while the URL downloads (never deleted, as every lock file). */
  downloadLock(url: string): string {
    return path.join(this.downloadLockDir, urlHash(url))
  }
  get engineCacheRoot(): string {
    return path.join(this.cas, 'enginecache')
  }
  /** cas/enginecache/<key>: what stage1 engines make from the image and keep (docs/stage1.md "Engine cache"). */
  engineCache(key: string): string {
    return path.join(this.engineCacheRoot, this.checkKey(key))
  }
  tree(treeId: string): string {
    return path.join(this.treeRoot, checkTreeId(treeId))
  }
  treeLock(treeId: string): string {
    return path.join(this.treeLockDir, checkTreeId(treeId))
  }

  /**
   * Creates the directories. The store holds image rootfs trees with setuid binaries: keep them out of
   * reach of unprivileged host users (docs/security.md SEC-20; rkt used 0755 here).
   */
  ensure(): void {
    fs.mkdirSync(this.dir, {recursive: true, mode: 0o750})
    for (const d of [
      this.cas,
      this.blobRoot,
      this.manifestRoot,
      this.dbDir,
      this.tmpDir,
      this.imageLockDir,
      this.treeLockDir,
      this.downloadDir,
      this.downloadLockDir,
    ]) {
      fs.mkdirSync(d, {recursive: true, mode: 0o750})
    }
    fs.mkdirSync(this.treeRoot, {recursive: true, mode: 0o700})
  }
}

function urlHash(url: string): string {
  return crypto.createHash('sha256').update(url).digest('hex')
}

const TREE_ID = /^deps-sha512-[0-9a-f]{64}$/

/** Validates a tree store ID before it becomes a path component. */
export function checkTreeId(id: string): string {
  if (!TREE_ID.test(id)) throw new Error(`internal error: not a tree store ID: ${JSON.stringify(id)}`)
  return id
}
