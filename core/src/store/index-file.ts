// The image index: our own format (rkt kept a ql database), one JSON file replaced atomically under an
// exclusive lock, so readers need no lock and always see a whole version. It can be rebuilt from the
// blobs (ImageStore.rebuildIndex). A file we cannot read as an index fails closed: no command guesses,
// and nothing ever deletes blobs because the index lacks them.
import fs from 'node:fs'

import {RktError} from '../errors.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {isCanonicalId, isStoreKey} from './ids.js'

/** The format tag and the newest version this code reads and writes. */
export const INDEX_FORMAT = 'rkt-ts image index'
export const INDEX_VERSION = 1

/** What the store knows about one image. */
export interface ImageRecord {
  /** Canonical image ID: `sha512-` + 128 hex. */
  readonly id: string
  /** Store key: `sha512-` + 64 hex. */
  readonly key: string
  /** The manifest's name and labels, for lookups by name[:version][,label=value]. */
  readonly name: string
  readonly labels: readonly {readonly name: string; readonly value: string}[]
  /** Bytes of the uncompressed ACI. */
  readonly size: number
  /** Milliseconds since the epoch. */
  readonly importTime: number
  lastUsed: number
  /** Bytes of the rendered tree(s), 0 until rendered. */
  treeStoreSize: number
}

interface IndexDocument {
  format: string
  version: number
  images: ImageRecord[]
}

/** Thrown when the index exists but cannot be used; the hint says how to recover. */
export class CorruptIndexError extends RktError {
  constructor(file: string, what: string, cause?: unknown) {
    super(`the image index ${file} is unusable: ${what}`, {
      code: 'EINDEX',
      cause,
      hint:
        'no image data was touched. Rebuild the index from the stored images with: rkt image rebuild-index\n' +
        '(it keeps a copy of the unusable file beside the new one)',
    })
  }
}

function validRecord(r: unknown): r is ImageRecord {
  if (typeof r !== 'object' || r === null) return false
  const o = r as Record<string, unknown>
  return (
    typeof o['id'] === 'string' &&
    isCanonicalId(o['id']) &&
    typeof o['key'] === 'string' &&
    isStoreKey(o['key']) &&
    o['id'].startsWith(o['key']) &&
    typeof o['name'] === 'string' &&
    Array.isArray(o['labels']) &&
    typeof o['size'] === 'number' &&
    typeof o['importTime'] === 'number' &&
    typeof o['lastUsed'] === 'number' &&
    typeof o['treeStoreSize'] === 'number'
  )
}

/** Reads and writes one index file. */
export class IndexFile {
  constructor(
    readonly file: string,
    readonly lockFile: string,
  ) {}

  /** True when no index file exists yet. */
  missing(): boolean {
    return !fs.existsSync(this.file)
  }

  /** The current records (empty when the file does not exist). */
  read(): ImageRecord[] {
    let text: string
    try {
      text = fs.readFileSync(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new CorruptIndexError(this.file, 'cannot read it', err)
    }
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw new CorruptIndexError(this.file, 'it is not valid JSON', err)
    }
    const d = doc as Partial<IndexDocument> | null
    if (typeof d !== 'object' || d === null || d.format !== INDEX_FORMAT) {
      throw new CorruptIndexError(this.file, 'it is not an image index')
    }
    if (typeof d.version !== 'number' || !Number.isSafeInteger(d.version) || d.version < 1) {
      throw new CorruptIndexError(this.file, `its format version ${JSON.stringify(d.version)} is not valid`)
    }
    if (d.version > INDEX_VERSION) {
      throw new RktError(`the image index ${this.file} has format version ${String(d.version)}`, {
        code: 'EINDEX',
        hint: `this rkt understands versions up to ${INDEX_VERSION}: use the rkt that wrote it`,
      })
    }
    if (!Array.isArray(d.images)) throw new CorruptIndexError(this.file, '"images" is not a list')
    const bad = d.images.findIndex((r) => !validRecord(r))
    if (bad >= 0) throw new CorruptIndexError(this.file, `entry ${bad} is malformed`)
    return d.images
  }

  /** Replaces the whole index (caller holds the lock). */
  write(images: readonly ImageRecord[]): void {
    const doc: IndexDocument = {format: INDEX_FORMAT, version: INDEX_VERSION, images: [...images]}
    writeFileAtomic(this.file, `${JSON.stringify(doc, null, 1)}\n`, 0o640)
  }

  /**
   * Read-modify-write under the exclusive index lock: concurrent commands (five fetches of one image)
   * serialise here, so each sees the others' entries and none is lost or duplicated.
   */
  update<T>(fn: (images: ImageRecord[]) => T): T {
    const lock = FileLock.onFile(this.lockFile, {exclusive: true, wait: true})
    try {
      const images = this.read()
      const result = fn(images)
      this.write(images)
      return result
    } finally {
      lock.release()
    }
  }
}
