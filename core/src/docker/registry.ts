// A Docker Registry HTTP API v2 client (distribution's spec/api.md, spec/auth/token.md), just enough to pull:
// ping `/v2/`, answer a Bearer or Basic challenge, resolve a tag or digest to an image manifest (an index or
// manifest list picks linux/amd64), and stream the config and layer blobs with their sha256 verified. All
// requests go through the HttpClient of http/client.ts, which owns the TLS, redirect and credential rules.
import type {Readable} from 'node:stream'

import type {Globals} from '../config/globals.js'
import type {Credentials} from '../config/stage0.js'
import type {HttpClient, HttpResponse} from '../http/client.js'
import {basicAuthorization} from '../http/client.js'

import {configLayers} from '../config/globals.js'
import {loadStage0Config} from '../config/stage0.js'
import {RktError, hasCode, wrap} from '../errors.js'
import {DEFAULT_REGISTRY} from './reference.js'
import type {DockerSourceRef} from './reference.js'
import {
  MAX_JSON_BYTES,
  MEDIA,
  badImage,
  checkDigest,
  parseImageConfig,
  parseManifestDoc,
  pickPlatform,
  readAll,
  sha256Of,
  verifyDigest,
} from './source.js'
import type {ImageSource, ManifestDoc} from './source.js'

const ACCEPT = [MEDIA.ociManifest, MEDIA.dockerManifest, MEDIA.ociIndex, MEDIA.dockerList].join(', ')

export interface RegistryOptions {
  readonly http: HttpClient
  readonly globals: Globals
  /** Credentials for this registry; default: the dockerAuth entry of the config layers. */
  readonly credentials?: Credentials | undefined
  readonly onWarning?: ((message: string) => void) | undefined
}

/** Parses `Www-Authenticate: Scheme k="v",k2="v2"`. */
export function parseChallenge(header: string): {scheme: string; params: Record<string, string>} {
  const m = /^\s*(\S+)\s*(.*)$/.exec(header)
  const scheme = (m?.[1] ?? '').toLowerCase()
  const params: Record<string, string> = {}
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g
  for (let r = re.exec(m?.[2] ?? ''); r; r = re.exec(m?.[2] ?? '')) {
    params[r[1]!.toLowerCase()] = (r[2] ?? r[3] ?? '').replace(/\\(.)/g, '$1')
  }
  return {scheme, params}
}

/** The dockerAuth credentials configured for a registry host (Docker Hub under any of its names). */
export function dockerCredentials(globals: Globals, registry: string): Credentials | undefined {
  const auth = loadStage0Config(configLayers(globals)).dockerAuth
  const names = registry === DEFAULT_REGISTRY ? [registry, 'index.docker.io', 'docker.io'] : [registry]
  for (const n of names) {
    const e = auth.get(n)
    if (e) return e.credentials
  }
  return undefined
}

/** The `Www-Authenticate` challenge of a response (an empty scheme when there is none). */
function challengeOf(res: HttpResponse): {scheme: string; params: Record<string, string>} {
  const header: unknown = res.headers['www-authenticate']
  return parseChallenge(typeof header === 'string' ? header : '')
}

/** One repository of one registry, with the authorization its challenge asked for. */
export class RegistryClient {
  private base: URL | undefined
  private authorization: string | undefined
  private readonly credentials: Credentials | undefined

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly opts: RegistryOptions,
  ) {
    this.credentials = opts.credentials ?? dockerCredentials(opts.globals, registry)
  }

  private what(): string {
    return `${this.registry}/${this.repository}`
  }

  private async get(path: string, accept?: string): Promise<HttpResponse> {
    const url = new URL(path, this.base)
    const send = (): Promise<HttpResponse> => {
      const headers: Record<string, string> = {}
      if (accept) headers['accept'] = accept
      if (this.authorization) headers['authorization'] = this.authorization
      return this.opts.http.request(url, {headers})
    }
    const res = await send()
    if (res.status !== 401 || !this.authorization?.startsWith('Bearer ')) return res
    // A Bearer token that no longer works (it expired: tokens last minutes, layers are opened one after the
    // other, a pull can take longer) is renewed once from the new challenge. A token that is valid but grants
    // too little (insufficient_scope) is not: another one would grant the same.
    const {scheme, params} = challengeOf(res)
    if (scheme !== 'bearer' || params['error'] === 'insufficient_scope') return res
    res.discard()
    this.authorization = `Bearer ${await this.token(params)}`
    return send()
  }

  /** Pings `/v2/` over https (or http, when allowed and https does not answer) and answers its challenge. */
  async connect(): Promise<void> {
    const allowHttp = this.opts.globals.insecure.has('http')
    let res: HttpResponse
    try {
      this.base = new URL(`https://${this.registry}/`)
      res = await this.get('/v2/')
    } catch (err) {
      if (!allowHttp || !hasCode(err, 'ENETWORK')) {
        throw wrap(`cannot reach the registry ${this.registry}`, err, {
          hint: hasCode(err, 'ENETWORK')
            ? 'check the name and port; if the registry serves plain http, allow it with --insecure-options=http'
            : undefined,
        })
      }
      this.base = new URL(`http://${this.registry}/`)
      try {
        res = await this.get('/v2/')
      } catch (err2) {
        throw wrap(`cannot reach the registry ${this.registry} over https or http`, err2)
      }
    }
    res.discard()
    if (res.status === 200) return
    if (res.status !== 401) {
      throw new RktError(
        `the registry ${this.registry} answered ${res.status} to /v2/: not a Docker registry (API v2)?`,
        {
          code: 'EREGISTRY',
        },
      )
    }
    const {scheme, params} = challengeOf(res)
    if ((scheme === 'bearer' || scheme === 'basic') && this.base.protocol !== 'https:') {
      // HttpClient never sends an Authorization over plain http: say so rather than fail with a bare 401.
      throw new RktError(
        `the registry ${this.registry} asks for ${scheme === 'basic' ? 'a password' : 'a token'} over plain http`,
        {
          code: 'EAUTH',
          hint: 'credentials and tokens are only sent over https; serve the registry with TLS',
        },
      )
    }
    if (scheme === 'bearer') {
      this.authorization = `Bearer ${await this.token(params)}`
    } else if (scheme === 'basic') {
      if (!this.credentials) throw this.needCredentials()
      this.authorization = basicAuthorization(this.credentials)
      const again = await this.get('/v2/')
      again.discard()
      if (again.status === 401 || again.status === 403)
        throw this.refused(`the registry ${this.registry}`, again.status)
      if (again.status !== 200) {
        throw new RktError(`the registry ${this.registry} answered ${again.status} to /v2/ with credentials`, {
          code: 'EREGISTRY',
        })
      }
    } else {
      throw new RktError(`the registry ${this.registry} asks for unsupported authentication "${scheme}"`, {
        code: 'EAUTH',
      })
    }
  }

  private needCredentials(): RktError {
    return new RktError(`the registry ${this.registry} requires authentication`, {
      code: 'EAUTH',
      hint: `add a dockerAuth entry for "${this.registry}" under auth.d of the rkt configuration (rkt config shows what is read)`,
    })
  }

  private refused(who: string, status: number): RktError {
    return new RktError(`${who} refused the configured credentials (${status})`, {
      code: 'EAUTH',
      hint: `check the user and password of the dockerAuth entry for "${this.registry}"`,
    })
  }

  /** Gets a pull token from the challenge's realm (spec/auth/token.md). */
  private async token(params: Record<string, string>): Promise<string> {
    const realm = params['realm']
    if (!realm)
      throw new RktError(`the registry ${this.registry} sent a Bearer challenge without a realm`, {code: 'EAUTH'})
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new RktError(`the registry ${this.registry} sent an invalid token realm ${JSON.stringify(realm)}`, {
        code: 'EAUTH',
      })
    }
    if (params['service']) url.searchParams.set('service', params['service'])
    url.searchParams.set('scope', `repository:${this.repository}:pull`)
    if (this.credentials?.user) url.searchParams.set('account', this.credentials.user)
    const headers: Record<string, string> = {}
    if (this.credentials) headers['authorization'] = basicAuthorization(this.credentials)
    const res = await this.opts.http.request(url, {headers})
    if (res.status === 401 || res.status === 403) {
      res.discard()
      throw this.credentials
        ? this.refused(`the token server of ${this.registry} (${url.origin})`, res.status)
        : this.needCredentials()
    }
    if (res.status !== 200) {
      res.discard()
      throw new RktError(`the token server ${url.origin} answered ${res.status}`, {code: 'EAUTH'})
    }
    let body: {token?: unknown; access_token?: unknown}
    try {
      body = JSON.parse(await res.text(MAX_JSON_BYTES)) as typeof body
    } catch (err) {
      throw wrap(`the token server ${url.origin} sent no JSON`, err, {code: 'EAUTH'})
    }
    const t = typeof body.token === 'string' ? body.token : body.access_token
    if (typeof t !== 'string' || t === '' || /[\r\n]/.test(t)) {
      throw new RktError(`the token server ${url.origin} sent no token`, {code: 'EAUTH'})
    }
    return t
  }

  private async check(res: HttpResponse, what: string): Promise<void> {
    if (res.status === 200) return
    let detail = ''
    try {
      const body = JSON.parse(await res.text(64 * 1024)) as {errors?: {code?: string; message?: string}[]}
      const e = body.errors?.[0]
      if (e) detail = `: ${e.code ?? ''} ${e.message ?? ''}`.trimEnd()
    } catch {
      // not a registry error document
    }
    const hint =
      res.status === 404
        ? 'check the name and the tag'
        : res.status === 401 || res.status === 403
          ? this.credentials
            ? `check that the dockerAuth user of "${this.registry}" may pull ${this.repository}`
            : `the registry wants credentials: add a dockerAuth entry for "${this.registry}" under auth.d of the rkt configuration`
          : undefined
    throw new RktError(`${what}: the registry answered ${res.status}${detail}`, {
      code: res.status === 404 ? 'ENOTFOUND' : res.status === 401 || res.status === 403 ? 'EAUTH' : 'EREGISTRY',
      hint,
    })
  }

  /** Fetches a manifest document by tag or digest; a digest reference is verified. */
  async manifest(reference: string): Promise<{bytes: Buffer; contentType: string; digest: string}> {
    const what = `manifest ${this.what()}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`
    const res = await this.get(`/v2/${this.repository}/manifests/${reference}`, ACCEPT)
    await this.check(res, what)
    const bytes = await readAll(res.body, MAX_JSON_BYTES, what)
    const digest = sha256Of(bytes)
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw badImage(
        `${what}: the registry sent a document with digest ${digest}`,
        'the registry or something between us is corrupting data',
      )
    }
    const claimed = res.headers['docker-content-digest']
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw badImage(`${what}: the document has digest ${digest}, the registry says ${claimed}`)
    }
    const ct = res.headers['content-type']
    return {bytes, contentType: typeof ct === 'string' ? ct : '', digest}
  }

  /** A blob as a stream that fails at its end unless its sha256 is `digest`. */
  async blob(digest: string, size: number, what: string): Promise<Readable> {
    checkDigest(digest, what)
    const res = await this.get(`/v2/${this.repository}/blobs/${digest}`)
    await this.check(res, what)
    const v = verifyDigest(digest, what, size >= 0 ? size : undefined)
    res.body.on('error', (err) => v.destroy(err))
    return res.body.pipe(v)
  }
}

/** Resolves a registry reference to an image (config read and verified; layers opened on demand). */
export async function openRegistryImage(
  ref: DockerSourceRef & {kind: 'registry'},
  opts: RegistryOptions,
): Promise<ImageSource> {
  const client = new RegistryClient(ref.registry, ref.repository, opts)
  await client.connect()
  const reference = ref.digest ?? ref.tag ?? 'latest'
  let doc = await client.manifest(reference)
  let parsed = parseManifestDoc(doc.bytes, `manifest of ${ref.registry}/${ref.repository}`, doc.contentType)
  if (parsed.kind === 'index') {
    const entry = pickPlatform(parsed.entries, `${ref.registry}/${ref.repository}:${reference}`)
    doc = await client.manifest(entry.digest)
    parsed = parseManifestDoc(doc.bytes, `manifest ${entry.digest}`, doc.contentType)
    if (parsed.kind === 'index')
      throw badImage(`manifest ${entry.digest} is an index inside an index, which is not supported`)
  }
  const manifest: ManifestDoc = parsed.manifest
  const cfgWhat = `image config ${manifest.config.digest}`
  const config = parseImageConfig(
    await readAll(await client.blob(manifest.config.digest, manifest.config.size, cfgWhat), MAX_JSON_BYTES, cfgWhat),
    cfgWhat,
  )
  const diffIds = config.rootfs.diff_ids
  if (diffIds.length !== manifest.layers.length) {
    throw badImage(`${cfgWhat} lists ${diffIds.length} layers, the manifest ${manifest.layers.length}`)
  }
  return {
    config,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l, i) => ({
      digest: l.digest,
      diffId: diffIds[i]!,
      mediaType: l.mediaType,
      size: l.size,
      open: () => client.blob(l.digest, l.size, `layer ${l.digest}`),
    })),
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag === undefined ? {} : {tag: ref.tag}),
    ...(ref.digest === undefined ? {} : {digest: ref.digest}),
    manifestDigest: doc.digest,
  }
}
