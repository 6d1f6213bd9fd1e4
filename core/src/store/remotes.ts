// What the store knows about remote URLs it fetched (rkt's `remote` table): for each image URL, the image
// it gave, its ETag and Cache-Control max-age, and when it was last checked. It is a cache: losing it, or
// a record whose image has since been removed, costs a download, never a wrong image, so a file that
// cannot be read counts as empty (and is replaced at the next write).
import fs from 'node:fs'

import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {isStoreKey} from './ids.js'
import type {StoreLayout} from './layout.js'

export interface RemoteRecord {
  /** The image URL (the key). */
  readonly url: string
  /** Store key of the image it gave. */
  readonly key: string
  readonly etag?: string | undefined
  /** Seconds the answer stays fresh (Cache-Control: max-age), counted from `checked`. */
  readonly maxAge?: number | undefined
  /** When the server last confirmed it (download or 304), ms since the epoch. */
  readonly checked: number
}

const FORMAT = 'rkt-ts remotes'

export class Remotes {
  constructor(private readonly layout: StoreLayout) {}

  private read(): RemoteRecord[] {
    try {
      const doc = JSON.parse(fs.readFileSync(this.layout.remotesFile, 'utf8')) as {format?: string; remotes?: unknown}
      if (doc.format !== FORMAT || !Array.isArray(doc.remotes)) return []
      return (doc.remotes as RemoteRecord[]).filter(
        (r) =>
          typeof r?.url === 'string' && typeof r.key === 'string' && isStoreKey(r.key) && Number.isFinite(r.checked),
      )
    } catch {
      return []
    }
  }

  get(url: string): RemoteRecord | undefined {
    return this.read().find((r) => r.url === url)
  }

  /** True when the record is within its max-age at `now`. */
  static fresh(r: RemoteRecord, now = Date.now()): boolean {
    return r.maxAge !== undefined && now < r.checked + r.maxAge * 1000
  }

  put(rec: RemoteRecord): void {
    const lock = FileLock.onFile(`${this.layout.remotesFile}.lock`, {exclusive: true, wait: true})
    try {
      const all = this.read().filter((r) => r.url !== rec.url)
      all.push(rec)
      writeFileAtomic(this.layout.remotesFile, `${JSON.stringify({format: FORMAT, remotes: all}, null, 1)}\n`, 0o640)
    } finally {
      lock.release()
    }
  }
}

/** `Cache-Control: max-age=N` in seconds, unless no-store/no-cache says not to reuse without asking. */
export function parseMaxAge(header: string | undefined): number | undefined {
  if (!header) return undefined
  const parts = header
    .toLowerCase()
    .split(',')
    .map((p) => p.trim())
  if (parts.includes('no-store') || parts.includes('no-cache')) return undefined
  const m = parts.map((p) => /^max-age=(\d+)$/.exec(p)).find(Boolean)
  return m ? Number(m[1]) : undefined
}
