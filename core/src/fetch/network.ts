// Images from the network, for the image lookup (lookup.ts) when the store does not answer: an image URL,
// an appc name through discovery, a Docker/OCI image; images fetched by URL or name also get their
// dependencies, found by discovery. Loaded only then: it brings OpenPGP and the HTTP client.
import type {AppReference} from '../schema/index.js'
import type {ImageRecord} from '../store/index-file.js'
import type {ImageStore} from '../store/image-store.js'
import type {LookupOptions} from './lookup.js'
import type {PullPolicy} from './remote.js'
import type {ImageSource} from './source.js'

import {RktError, wrap} from '../errors.js'
import {appcArch, parseImageManifest} from '../schema/index.js'
import {storeKey} from '../store/ids.js'
import {imageQuery} from '../store/image-store.js'
import {discoverEndpoints} from './discovery.js'
import {httpClientFor, type HttpClient} from '../http/client.js'
import {notInStore} from './lookup.js'
import {fetchRemoteAci} from './remote.js'

/** Dependencies deeper than this are refused (a cycle through discovery would never end). */
const MAX_DEPENDENCY_DEPTH = 32

/** What one lookup's network fetches share: the store, one HTTP client (made on first use), the options. */
export class NetworkFetcher {
  private client: HttpClient | undefined

  constructor(
    readonly store: ImageStore,
    readonly opts: LookupOptions,
  ) {}

  get http(): HttpClient {
    return (this.client ??= httpClientFor(this.opts.globals, {onWarning: this.opts.onWarning}))
  }

  close(): void {
    this.client?.close()
  }

  private progress(image: string, kind: ImageSource['kind']): ((d: number, t: number) => void) | undefined {
    const p = this.opts.onProgress
    return p && ((d, t) => p(image, d, t, kind))
  }

  async fetch(
    src: ImageSource & {kind: 'url' | 'name' | 'docker'},
    signature: string | undefined,
  ): Promise<ImageRecord> {
    const {opts, store} = this
    switch (src.kind) {
      case 'url': {
        const rec = await fetchRemoteAci(store, src.url.href, {
          ...opts,
          http: this.http,
          signature,
          onProgress: this.progress(src.arg, 'url'),
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
        return docker.fetchDockerImage(store, src.arg, {
          globals: opts.globals,
          http: this.http,
          onProgress:
            opts.onProgress &&
            ((label: string, d: number, t: number) => opts.onProgress?.(`${src.arg} ${label}`, d, t, 'docker')),
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
          onProgress: this.progress(shown, 'name'),
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
