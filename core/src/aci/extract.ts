// The safe extractor used to render images into the tree store and for `image extract`: the strict tar
// reader, the layout rules and the tree writer chained together, fed synchronously.
import fs from 'node:fs'

import {RktError, wrap} from '../errors.js'
import {resolveLimits} from './limits.js'
import type {AciLimits} from './limits.js'
import {TarReader} from './tar-reader.js'
import {TreeWriter} from './tree-writer.js'
import type {WriteOptions} from './tree-writer.js'

/** How to extract an image. */
export interface ExtractOptions extends WriteOptions {
  /** Progress in archive bytes, called at most every ~100 ms and once at the end (extractAci only). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void
  limits?: Partial<AciLimits>
}

/** What an extraction did. */
export interface ExtractResult {
  /** Entries in the archive. */
  entries: number
  /** Entries not written: `manifest` under rootfsOnly, and paths the filter refused. */
  skipped: number
  /** Archive bytes read. */
  bytes: number
}

const CHUNK = 1 << 20

/**
 * Extracts an uncompressed ACI tar pushed in chunks (e.g. straight from decompressAci) into the existing
 * directory destDir. push() writes synchronously, so the caller may reuse its buffer afterwards. Any invalid
 * or unsafe entry throws, leaving a partial tree that the caller removes.
 */
export class AciExtractor {
  private readonly writer: TreeWriter
  private readonly reader: TarReader

  constructor(destDir: string, options: Omit<ExtractOptions, 'onProgress'> = {}) {
    const limits = resolveLimits(options.limits)
    let dest: string
    try {
      dest = fs.realpathSync(destDir)
      if (!fs.statSync(dest).isDirectory()) throw new RktError(`${destDir} is not a directory`, {code: 'ENOTDIR'})
    } catch (err) {
      throw wrap(`cannot extract into ${destDir}`, err)
    }
    this.writer = new TreeWriter(dest, options, limits)
    this.reader = new TarReader(this.writer, limits)
  }

  /** Extracts the next chunk of the archive. */
  push(chunk: Buffer): void {
    try {
      this.reader.push(chunk)
    } catch (err) {
      throw this.fail(err)
    }
  }

  /** Checks the archive ended cleanly and applies directory metadata; the tree is complete on return. */
  finish(): ExtractResult {
    try {
      this.reader.end()
      this.writer.layout.finish()
      this.writer.finishDirs()
    } catch (err) {
      throw this.fail(err)
    }
    return {entries: this.reader.entries, skipped: this.writer.skipped, bytes: this.reader.bytes}
  }

  private fail(err: unknown): unknown {
    this.writer.abort()
    if (err instanceof RktError) return err
    return wrap(`cannot extract ${this.writer.where || 'the image'}`, err)
  }
}

/**
 * Extracts an uncompressed ACI tar file into the existing directory destDir, synchronously, reading it in
 * 1 MiB chunks. Throws on any invalid or unsafe entry, leaving a partial tree that the caller removes (the
 * result is all-or-nothing only together with that cleanup).
 */
export function extractAci(tarFile: string, destDir: string, options: ExtractOptions = {}): ExtractResult {
  const x = new AciExtractor(destDir, options)
  const fd = fs.openSync(tarFile, 'r')
  try {
    const total = fs.fstatSync(fd).size
    const buf = Buffer.allocUnsafe(CHUNK)
    let done = 0
    let last = Date.now()
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null)
      if (n === 0) break
      x.push(n === CHUNK ? buf : buf.subarray(0, n))
      done += n
      if (options.onProgress) {
        const now = Date.now()
        if (now - last >= 100) {
          last = now
          options.onProgress(done, total)
        }
      }
    }
    const result = x.finish()
    options.onProgress?.(done, total)
    return result
  } finally {
    fs.closeSync(fd)
  }
}
