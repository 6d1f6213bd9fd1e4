// `rkt fetch`: each image argument, in order, into the store, by the kind of argument (source.ts): an
// image ID or a local file as they are; an image URL, an appc name (through discovery) or a Docker/OCI
// image from the network under the pull policy. Images fetched by URL or name also get their
// dependencies, found by discovery.
import type {Globals} from '../config/globals.js'
import type {AppReference} from '../schema/index.js'
import type {ImageRecord} from '../store/index-file.js'
import type {FetchTimings} from './file.js'
import type {PullPolicy} from './remote.js'

import {RktError, wrap} from '../errors.js'
import {appcArch, parseImageManifest} from '../schema/index.js'
import {storeKey} from '../store/ids.js'
import {ImageStore, imageQuery} from '../store/image-store.js'
import {discoverEndpoints} from './discovery.js'
import {fetchFile} from './file.js'
import {httpClientFor, type HttpClient} from '../http/client.js'
import {fetchRemoteAci, notInStore} from './remote.js'
import {classifyImage} from './source.js'

export {fetchFile} from './file.js'
export type {FetchResult, FetchTimings, FileFetchOptions} from './file.js'
export {classifyImage, defaultSignaturePath} from './source.js'
export type {ImageSource} from './source.js'
export type {PullPolicy} from './remote.js'
export {trustKeys} from './trust-keys.js'
export type {TrustKeysOptions} from './trust-keys.js'

export interface FetchRequest {
  readonly image: string
  readonly signature?: string | undefined
}

export interface FetchImagesOptions {
  readonly globals: Globals
  readonly pullPolicy: PullPolicy
  readonly onProgress?: ((image: string, done: number, total: number) => void) | undefined
  readonly onWarning?: ((message: string) => void) | undefined
  readonly onInfo?: ((message: string) => void) | undefined
  readonly timings?: FetchTimings | undefined
}

/** Dependencies deeper than this are refused (a cycle through discovery would never end). */
const MAX_DEPENDENCY_DEPTH = 32

/** What one invocation's fetches share: the store, one HTTP client (made on first use), the options. */
class Fetcher {
  readonly store: ImageStore
  private client: HttpClient | undefined

  constructor(readonly opts: FetchImagesOptions) {
    this.store = ImageStore.open(opts.globals.dir)
  }

  get http(): HttpClient {
    return (this.client ??= httpClientFor(this.opts.globals, {onWarning: this.opts.onWarning}))
  }

  close(): void {
    this.client?.close()
  }

  private progress(image: string): ((d: number, t: number) => void) | undefined {
    const p = this.opts.onProgress
    return p && ((d, t) => p(image, d, t))
  }

  async fetch(req: FetchRequest): Promise<ImageRecord> {
    const {opts, store} = this
    const src = classifyImage(req.image)
    switch (src.kind) {
      case 'id':
        // An ID can only name an image already in the store, whatever the pull policy.
        return store.resolve(src.arg)
      case 'file': {
        if (src.guessed) opts.onInfo?.(`using ${src.path} as a local image file (it exists in the current directory)`)
        const r = await fetchFile(store, src.path, {
          ...opts,
          signature: req.signature,
          onProgress: this.progress(src.arg),
        })
        return r.record
      }
      case 'url': {
        const rec = await fetchRemoteAci(store, src.url.href, {
          ...opts,
          http: this.http,
          signature: req.signature,
          onProgress: this.progress(src.arg),
        })
        await this.dependencies(rec, 0)
        return rec
      }
      case 'name': {
        const rec = await this.byName(imageQuery(src.arg), opts.pullPolicy)
        await this.dependencies(rec, 0)
        return rec
      }
      case 'docker': {
        const docker = await import('../docker/index.js')
        const ref = docker.parseDockerSource(src.arg)
        // A registry image is looked up under the name its conversion gives; archives and layouts are local
        // files, always read (as an .aci file is).
        if (ref.kind === 'registry' && opts.pullPolicy !== 'update') {
          const {name, version} = docker.registryImageName(ref)
          const found = store.findByName({name, labels: {version}})[0]
          if (found) return found
          if (opts.pullPolicy === 'never') throw notInStore(src.arg)
        }
        return docker.fetchDockerImage(store, src.arg, {
          globals: opts.globals,
          http: this.http,
          onProgress:
            opts.onProgress &&
            ((label: string, d: number, t: number) => opts.onProgress?.(`${src.arg} ${label}`, d, t)),
          onInfo: opts.onInfo,
          onWarning: opts.onWarning,
          timings: opts.timings,
        })
      }
    }
  }

  /** An image by appc name: from the store when the policy allows, else from the URLs discovery gives. */
  private async byName(app: AppReference, policy: PullPolicy): Promise<ImageRecord> {
    const {store, opts} = this
    const shown = [app.name, ...Object.entries(app.labels).map(([k, v]) => `${k}=${v}`)].join(',')
    if (policy !== 'update') {
      const found = store.findByName(app)
      if (found[0]) return found[0]
      if (policy === 'never') throw notInStore(shown)
    }
    const labels = {os: 'linux', arch: appcArch(), ...app.labels}
    if (opts.globals.trustKeysFromHttps && !opts.globals.insecure.has('image')) {
      const {trustDiscoveredKeys} = await import('./trust-keys.js')
      await trustDiscoveredKeys(app.name, opts.globals, this.http, (m) => opts.onWarning?.(m))
    }
    const found = await discoverEndpoints(
      {name: app.name, labels},
      {http: this.http, insecure: opts.globals.insecure.has('http')},
    )
    if (found.endpoints.length === 0) {
      throw new RktError(
        policy === 'update'
          ? `discovery finds nowhere to fetch ${shown} from`
          : `image ${shown} is not in the store, and discovery finds nowhere to fetch it from`,
        {
          code: 'ENOIMAGE',
          hint: [
            ...found.attempts.map((a) => `${a.prefix}: ${a.error}`),
            'check the name, or fetch the image from its file or URL first (rkt fetch)',
          ].join('\n'),
        },
      )
    }
    const errors: unknown[] = []
    for (const ep of found.endpoints) {
      try {
        return await fetchRemoteAci(store, ep.aci, {
          ...opts,
          http: this.http,
          pullPolicy: policy === 'update' ? 'update' : 'new',
          signatureUrl: ep.asc,
          expectName: app.name,
          onProgress: this.progress(shown),
        })
      } catch (err) {
        errors.push(err)
      }
    }
    // Every endpoint failed: the first one's reason is the one to show (the others are usually mirrors).
    throw wrap(`none of the ${found.endpoints.length} discovered URLs of ${shown} gave the image`, errors[0])
  }

  /** Makes sure every dependency of an image is in the store, fetching the missing ones by name. */
  private async dependencies(rec: ImageRecord, depth: number): Promise<void> {
    const {manifest} = parseImageManifest(this.store.manifestBytes(rec.key))
    for (const dep of manifest.dependencies) {
      if (depth >= MAX_DEPENDENCY_DEPTH) {
        throw new RktError(`image dependencies are nested more than ${MAX_DEPENDENCY_DEPTH} deep (a cycle?)`, {
          code: 'EDEPENDENCY',
        })
      }
      if (dep.imageID && this.store.get(storeKey(dep.imageID))) continue
      const app = {name: dep.imageName, labels: Object.fromEntries(dep.labels.map((l) => [l.name, l.value]))}
      let got: ImageRecord
      try {
        got = await this.byName(app, 'new')
      } catch (err) {
        throw wrap(`cannot fetch ${dep.imageName}, a dependency of ${rec.name}`, err)
      }
      if (dep.imageID && got.id !== dep.imageID) {
        throw new RktError(`the dependency ${dep.imageName} of ${rec.name} has ID ${got.id}, not ${dep.imageID}`, {
          code: 'EDEPENDENCY',
        })
      }
      await this.dependencies(got, depth + 1)
    }
  }
}

/** Fetches images one after the other, returning their records in the same order. */
export async function fetchImages(requests: readonly FetchRequest[], opts: FetchImagesOptions): Promise<ImageRecord[]> {
  const fetcher = new Fetcher(opts)
  const out: ImageRecord[] = []
  try {
    for (const req of requests) {
      try {
        out.push(await fetcher.fetch(req))
      } catch (err) {
        throw wrap(`cannot fetch image ${req.image}`, err)
      }
    }
  } finally {
    fetcher.close()
  }
  return out
}
