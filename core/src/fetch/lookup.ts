// The one image lookup: every image rkt takes (rkt fetch's arguments, the apps of rkt run and prepare, the pod's
// stage1) goes through here. The reference is classified (source.ts); an image ID, or a name (appc or Docker
// registry) when the pull policy allows, comes from the store; a local file is read with its signature checked,
// unless it lies in a directory trusted by location; anything else comes from the network (network.ts). The file
// and network code (OpenPGP, the HTTP client) are loaded only when the store does not answer.
import fs from 'node:fs'

import type {Globals} from '../config/globals.js'
import type {ImageRecord} from '../store/index-file.js'
import type {FetchTimings} from './file.js'
import type {NetworkFetcher} from './network.js'
import type {PullPolicy} from './remote.js'

import {registryImageName} from '../docker/convert.js'
import {parseDockerSource} from '../docker/reference.js'
import {RktError, wrap} from '../errors.js'
import {ImageStore, imageQuery} from '../store/image-store.js'
import {classifyImage, type ImageKind, type ImageSource} from './source.js'

export interface ImageRequest {
  readonly image: string
  /** A local signature file (--signature); default: beside a file, from the server for a URL. */
  readonly signature?: string | undefined
  /** Take `image` as this kind, whatever it looks like. */
  readonly as?: ImageKind | undefined
}

export interface LookupOptions {
  readonly globals: Globals
  readonly pullPolicy: PullPolicy
  /**
   * Image files inside these directories are trusted by location: no signature is checked and no warning
   * printed (the stage1 images beside the CLI and in the stage1-images directory, as rkt trusts its stage1).
   */
  readonly trustedDirs?: readonly string[] | undefined
  /** Progress of reading or downloading an image: the image, bytes done, total (0 when unknown), its kind. */
  readonly onProgress?: ((image: string, done: number, total: number, kind: ImageSource['kind']) => void) | undefined
  readonly onWarning?: ((message: string) => void) | undefined
  readonly onInfo?: ((message: string) => void) | undefined
  /** Under --debug: where each image came from, in rkt's words (`using image from file …`), which scripts match. */
  readonly onDebug?: ((message: string) => void) | undefined
  readonly timings?: FetchTimings | undefined
}

/** The error of --pull-policy=never when the store does not have the image. */
export function notInStore(image: string): RktError {
  return new RktError(`image ${image} is not in the store and --pull-policy=never forbids fetching it`, {
    code: 'ENOIMAGE',
    hint: 'fetch it first (rkt fetch), or allow fetching with --pull-policy=new',
  })
}

function isInside(dir: string, file: string): boolean {
  try {
    return fs.realpathSync(file).startsWith(`${fs.realpathSync(dir)}/`)
  } catch {
    return false
  }
}

/** The lookups of one command: they share the store and, once one needs it, the network fetcher. */
export class ImageLookup {
  private network: NetworkFetcher | undefined

  /**
   * A failure to fetch from the network names the image asked for (the cause names what discovery found);
   * `nameEveryFailure` names it in the failures of IDs and local files too (rkt fetch takes many images).
   */
  constructor(
    readonly store: ImageStore,
    readonly opts: LookupOptions,
    private readonly nameEveryFailure = false,
  ) {}

  /** The record of one image, from the store or fetched into it. */
  async find(req: ImageRequest): Promise<ImageRecord> {
    const src = classifyImage(req.image, undefined, req.as)
    const named = (err: unknown) => wrap(`cannot fetch image ${req.image}`, err)
    if (src.kind === 'id' || src.kind === 'file') {
      try {
        return await this.local(src, req.signature)
      } catch (err) {
        throw this.nameEveryFailure ? named(err) : err
      }
    }
    try {
      return this.stored(src) ?? (await (await this.fetcher()).fetch(src, req.signature))
    } catch (err) {
      throw named(err)
    }
  }

  /**
   * A named image already in the store, when the pull policy lets it serve (found without loading the network
   * code). A Docker registry image is found under the name its conversion gives; Docker archives and OCI
   * layouts are local files, always read (as an .aci file is).
   */
  private stored(src: ImageSource & {kind: 'name' | 'url' | 'docker'}): ImageRecord | undefined {
    if (this.opts.pullPolicy === 'update') return undefined
    const found = this.storedRecord(src)
    if (found) this.opts.onDebug?.(`using image from local store for image name ${src.arg}`)
    return found
  }

  private storedRecord(src: ImageSource & {kind: 'name' | 'url' | 'docker'}): ImageRecord | undefined {
    const {store, opts} = this
    if (src.kind === 'name') return store.findByName(imageQuery(src.arg))[0]
    const ref = src.kind === 'docker' ? parseDockerSource(src.arg) : undefined
    if (ref?.kind !== 'registry') return undefined
    const {name, version} = registryImageName(ref)
    const found = store.findByName({name, labels: {version}})[0]
    if (!found && opts.pullPolicy === 'never') throw notInStore(src.arg)
    return found
  }

  private async fetcher(): Promise<NetworkFetcher> {
    if (!this.network) {
      const {NetworkFetcher} = await import('./network.js')
      this.network = new NetworkFetcher(this.store, this.opts)
    }
    return this.network
  }

  private async local(src: ImageSource & {kind: 'id' | 'file'}, signature: string | undefined): Promise<ImageRecord> {
    const {store, opts} = this
    // An ID can only name an image already in the store, whatever the pull policy.
    if (src.kind === 'id') return store.resolve(src.arg)
    if (src.guessed) opts.onInfo?.(`using ${src.path} as a local image file (it exists in the current directory)`)
    opts.onDebug?.(`using image from file ${src.path}`)
    const {fetchFile} = await import('./file.js')
    const r = await fetchFile(store, src.path, {
      ...opts,
      signature,
      trusted: opts.trustedDirs?.some((d) => isInside(d, src.path)),
      onProgress: opts.onProgress && ((d, t) => opts.onProgress?.(src.arg, d, t, 'file')),
    })
    return r.record
  }

  close(): void {
    this.network?.close()
  }
}

/** `rkt fetch`: images one after the other (over one HTTP client), their records in order; failures name the image. */
export async function fetchImages(requests: readonly ImageRequest[], opts: LookupOptions): Promise<ImageRecord[]> {
  const lookup = new ImageLookup(ImageStore.open(opts.globals.dir), opts, true)
  const out: ImageRecord[] = []
  try {
    for (const req of requests) out.push(await lookup.find(req))
  } finally {
    lookup.close()
  }
  return out
}
