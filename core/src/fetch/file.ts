// Fetch of a local image file (a path or file:// URL) into the store (docs/architecture.md "What `rkt run` does").
//
// One pass over the file decompresses it, hashes the uncompressed tar (the image ID), validates every
// tar entry and writes the tar to a locked staging file; at the same time a second read of the file
// checks the detached signature against every trusted key. Only when both succeed, and the signer is
// trusted for the name the manifest gives, does the image become visible (ImageStore.commit). Any
// failure, SIGKILL included, leaves nothing visible: the staging file is deleted or, after a crash,
// swept by the next fetch.
import fs from 'node:fs'
import {performance} from 'node:perf_hooks'

import type {Globals} from '../config/globals.js'
import type {ImageManifest, SchemaWarning} from '../schema/index.js'
import type {ImageRecord} from '../store/index-file.js'
import type {Signer} from '../trust/index.js'

import {decompressAci, limitsFromEnv} from '../aci/index.js'
import {RktError, wrap} from '../errors.js'
import {parseImageManifest} from '../schema/index.js'
import type {ImageStore} from '../store/image-store.js'
import {StagingWriter} from '../store/staging.js'
import {onInterrupt} from '../sys/interrupt.js'
import {assertTrustedFor, Keystore, verifyDetached} from '../trust/index.js'
import {defaultSignaturePath} from './source.js'

/** Per-phase durations in ms, filled in when a caller passes an object (the benchmark does). */
export type FetchTimings = Record<string, number>

export interface FileFetchOptions {
  readonly globals: Globals
  /** A signature file given with --signature; default `<image>.aci.asc` beside the image. */
  readonly signature?: string | undefined
  /**
   * The image comes from a place trusted by location (the stage1 images beside the CLI, as rkt trusts its
   * default stage1): no signature is checked and no warning printed.
   */
  readonly trusted?: boolean | undefined
  /** Progress of reading the file: bytes read, file size. */
  readonly onProgress?: ((done: number, total: number) => void) | undefined
  /** Warnings for the user (signature checks disabled, manifest deviations). */
  readonly onWarning?: ((message: string) => void) | undefined
  /** Informational lines for the user (who signed the image). */
  readonly onInfo?: ((message: string) => void) | undefined
  readonly timings?: FetchTimings | undefined
  /** The name the image must have (it was fetched by that name): any other is refused before it is stored. */
  readonly expectName?: string | undefined
}

export interface FetchResult {
  readonly record: ImageRecord
  readonly manifest: ImageManifest
  /** The signer, or undefined when verification was disabled with --insecure-options=image. */
  readonly signer: Signer | undefined
}

async function* counted(stream: fs.ReadStream, total: number, onProgress?: (d: number, t: number) => void) {
  let done = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    done += chunk.length
    onProgress?.(done, total)
    yield chunk
  }
}

function readSignature(file: string, image: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // Opens with rkt's words, which scripts match.
      throw new RktError(`error opening signature file ${file}: it does not exist (no signature for ${image})`, {
        code: 'ENOSIG',
        hint:
          'give the signature with --signature FILE.asc, or, if you trust this image without one, ' +
          'skip the check with --insecure-options=image',
      })
    }
    throw wrap(`error opening signature file ${file}`, err)
  }
}

/** Fetches one local image file into the store; throws with nothing left behind on any failure. */
export async function fetchFile(store: ImageStore, file: string, opts: FileFetchOptions): Promise<FetchResult> {
  const t = opts.timings
  const t0 = performance.now()
  let size: number
  try {
    const st = fs.statSync(file)
    if (!st.isFile()) throw new RktError(`${file} is not a regular file`, {code: 'EBADACI'})
    size = st.size
  } catch (err) {
    throw wrap(`cannot open image ${file}`, err, {code: 'ENOENT'})
  }
  const insecure = opts.globals.insecure.has('image') || opts.trusted === true
  const keystore = new Keystore({systemDir: opts.globals.systemConfig, localDir: opts.globals.localConfig})

  // Started first so that it runs while the image is staged.
  let verification: Promise<Signer> | undefined
  if (insecure) {
    if (opts.trusted !== true) opts.onWarning?.('image signature verification has been disabled')
  } else {
    const sigFile = opts.signature ?? defaultSignaturePath(file)
    const signature = readSignature(sigFile, file)
    verification = (async () => {
      const v0 = performance.now()
      const keys = await keystore.allKeys((err) =>
        opts.onWarning?.(`${err.message}; skipped (images under its prefix cannot be verified until it is fixed)`),
      )
      const signer = await verifyDetached({
        data: () => fs.createReadStream(file, {highWaterMark: 1 << 20}),
        signature,
        keys,
      })
      if (t) t['verify'] = performance.now() - v0
      return signer
    })()
    verification.catch(() => {}) // awaited below; avoid an unhandled rejection while staging runs
  }

  const limits = limitsFromEnv()
  const staging = store.stage()
  const interrupted = onInterrupt(() => staging.discard())
  let committed = false
  try {
    const s0 = performance.now()
    const input = counted(fs.createReadStream(file, {highWaterMark: 1 << 20}), size, opts.onProgress)
    const {stream} = await decompressAci(input, {limits})
    const writer = new StagingWriter(staging, limits)
    for await (const chunk of stream as AsyncIterable<Buffer>) writer.write(chunk)
    const {id, checked} = writer.finish()
    if (t) t['decompress+hash+validate+stage'] = performance.now() - s0

    if (checked.manifest.length === 0) {
      throw new RktError(`${file} has no manifest`, {
        code: 'EBADACI',
        hint: 'an ACI holds a manifest file and a rootfs directory',
      })
    }
    let manifest: ImageManifest
    let warnings: readonly SchemaWarning[]
    try {
      ;({manifest, warnings} = parseImageManifest(checked.manifest))
    } catch (err) {
      throw wrap(`the image manifest of ${file} is invalid`, err)
    }
    for (const w of warnings) opts.onWarning?.(`image manifest: ${w.message}`)
    if (opts.expectName !== undefined && manifest.name !== opts.expectName) {
      throw new RktError(`asked for image ${opts.expectName}, but the image found is named ${manifest.name}`, {
        code: 'EBADACI',
        hint: 'the discovery page of this name points at another image; tell its publisher',
      })
    }

    let signer: Signer | undefined
    if (verification) {
      try {
        signer = await verification
        await assertTrustedFor(signer, manifest.name, keystore)
      } catch (err) {
        throw wrap(`image "${manifest.name}" verification failed`, err)
      }
      opts.onInfo?.(['signature verified:', ...signer.userIds.map((u) => `  ${u}`)].join('\n'))
    }

    const c0 = performance.now()
    const record = store.commit({
      staging,
      id,
      size: checked.bytes,
      manifest: checked.manifest,
      name: manifest.name,
      labels: manifest.labels,
    })
    committed = true
    if (t) {
      t['commit'] = performance.now() - c0
      t['total'] = performance.now() - t0
    }
    return {record, manifest, signer}
  } finally {
    interrupted()
    if (!committed) staging.discard()
    await verification?.catch(() => undefined) // never leave the signature check's file open behind us
  }
}
