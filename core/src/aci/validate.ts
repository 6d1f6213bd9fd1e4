// Validation of an image archive as it streams in at fetch time: the tar is parsed once, by the same reader
// and layout rules the extractor uses, while the caller hashes and stores the same bytes.
import {deviceNodeError} from './device-nodes.js'
import {TarReader} from './tar-reader.js'
import type {TarEntry} from './tar-reader.js'
import {LayoutChecker} from './layout.js'
import type {AciLimits} from './limits.js'

/** What a valid archive yielded. */
export interface AciValidation {
  /** The bytes of the `manifest` entry, exactly as archived (parse them with the schema module). */
  manifest: Buffer
  /** Archive entries, metadata headers excluded. */
  entries: number
  /** Uncompressed bytes, trailing data included. */
  bytes: number
}

/**
 * Checks an uncompressed ACI tar pushed in chunks: tar structure, layout rules and limits. Every problem
 * throws from push() or finish(); once one has thrown, the validator stays failed.
 */
export class AciValidator {
  private readonly reader: TarReader
  private readonly layout: LayoutChecker
  private manifestParts: Buffer[] | undefined
  private manifest: Buffer | undefined

  /**
   * `allowDevices` admits character and block devices. By default they are refused here, at fetch, because
   * rendering refuses them too (SEC-28: the runtime provides /dev): an image that can never be rendered
   * must not get into the store.
   */
  constructor(options: {limits?: Partial<AciLimits>; allowDevices?: boolean} = {}) {
    const limits = options.limits ?? {}
    this.layout = new LayoutChecker(limits)
    this.reader = new TarReader(
      {
        onEntry: (e: TarEntry) => {
          const checked = this.layout.check(e)
          if ((e.type === 'char' || e.type === 'block') && options.allowDevices !== true) {
            throw deviceNodeError(checked.path, e.type, e.devmajor, e.devminor)
          }
          this.manifestParts = checked.kind === 'manifest' ? [] : undefined
        },
        // Chunks are views of the caller's buffers: copy the (bounded) manifest, ignore everything else.
        onData: (chunk: Buffer) => this.manifestParts?.push(Buffer.from(chunk)),
        onEntryEnd: () => {
          if (this.manifestParts) this.manifest = Buffer.concat(this.manifestParts)
          this.manifestParts = undefined
        },
      },
      limits,
    )
  }

  /** Feeds the next chunk of the uncompressed tar, in order. */
  push(chunk: Buffer): void {
    this.reader.push(chunk)
  }

  /** Declares the end of the archive; returns the manifest bytes and counts when everything was valid. */
  finish(): AciValidation {
    this.reader.end()
    this.layout.finish()
    return {manifest: this.manifest ?? Buffer.alloc(0), entries: this.reader.entries, bytes: this.reader.bytes}
  }
}
