// The one HTTP(S) client of every remote fetch (images, signatures, keys, discovery pages, registries).
// Its rules are the security of remote fetching, so they live here and nowhere else:
// - TLS is verified against the system's CA store (/etc/ssl/certs, or SSL_CERT_FILE), not Node's bundled
//   list, plus any `certs.d/*.pem|*.crt` of the config layers; `--insecure-options=tls` turns checks off.
// - plain http needs `--insecure-options=http`; a redirect from https to http is always refused.
// - credentials (auth.d `auth` entries, or an Authorization a caller sets) go only to the host they were
//   given for, only over https: a redirect to another host drops them, and http never carries them.
import type {Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage} from 'node:http'
import type {Agent as HttpsAgent} from 'node:https'
import type {Readable} from 'node:stream'
import fs from 'node:fs'
import path from 'node:path'

import type {Globals} from '../config/globals.js'
import type {AuthConfig, Credentials} from '../config/stage0.js'

import {configLayers} from '../config/globals.js'
import {loadStage0Config} from '../config/stage0.js'
import {RktError} from '../errors.js'
import {RKT_VERSION} from '../version.js'

export interface HttpRequest {
  readonly method?: 'GET' | 'HEAD'
  readonly headers?: Readonly<Record<string, string>>
}

export interface HttpResponse {
  readonly status: number
  /** The final URL, after redirects. */
  readonly url: URL
  readonly headers: IncomingHttpHeaders
  /** The body: consume it or call discard(). */
  readonly body: IncomingMessage
  /** The whole body as UTF-8, refused beyond maxBytes (default 1 MiB). */
  text(maxBytes?: number): Promise<string>
  discard(): void
}

export interface HttpClientOptions {
  /** PEM certificates to trust; undefined means the system store plus certs.d (see loadCertificates). */
  readonly ca?: readonly string[] | undefined
  readonly insecureTls?: boolean | undefined
  readonly allowHttp?: boolean | undefined
  /** auth.d `auth` entries by domain (host or host:port). */
  readonly auth?: ReadonlyMap<string, AuthConfig>
  /** Time allowed without any byte moving, in ms. */
  readonly idleTimeoutMs?: number
  readonly onWarning?: ((message: string) => void) | undefined
}

const MAX_REDIRECTS = 10
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

/** The system CA store (OpenSSL's SSL_CERT_FILE convention honoured) plus `certs.d/` of each config layer. */
export function loadCertificates(layers: readonly string[]): string[] {
  const out: string[] = []
  const bundle = process.env['SSL_CERT_FILE'] || SYSTEM_BUNDLE
  try {
    out.push(fs.readFileSync(bundle, 'utf8'))
  } catch {
    // No system store (a minimal container): Node's bundled list is the best there is.
    const tls = process.getBuiltinModule('node:tls')
    out.push(...tls.rootCertificates)
  }
  for (const layer of layers) {
    const dir = path.join(layer, 'certs.d')
    let names: string[]
    try {
      names = fs.readdirSync(dir).sort()
    } catch {
      continue
    }
    for (const name of names) {
      if (!/\.(pem|crt)$/.test(name)) continue
      const file = path.join(dir, name)
      const pem = fs.readFileSync(file, 'utf8')
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
        throw new RktError(`${file} holds no PEM certificate`, {
          code: 'ECONFIG',
          hint: 'certs.d takes PEM files (-----BEGIN CERTIFICATE-----); remove or convert this one',
        })
      }
      out.push(pem)
    }
  }
  return out
}

/** An HTTP Basic Authorization value for a user and password. */
export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.user ?? ''}:${c.password ?? ''}`).toString('base64')}`
}

/** The Authorization header auth.d gives a URL, if any (https only; never for another host). */
export function authHeader(url: URL, auth: ReadonlyMap<string, AuthConfig> | undefined): string | undefined {
  if (!auth || url.protocol !== 'https:') return undefined
  const entry = auth.get(url.host) ?? auth.get(url.hostname)
  if (!entry) return undefined
  const c = entry.credentials
  if (entry.type === 'basic') return basicAuthorization(c)
  if (entry.type === 'oauth') return `Bearer ${c.token ?? ''}`
  throw new RktError(`auth.d type "aws" (in ${entry.file}) is not supported for ${url.host}`, {
    code: 'EUNSUPPORTED',
    hint: 'use a basic or oauth entry for this domain',
  })
}

function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host
}

export class HttpClient {
  private agents: {http?: HttpAgent; https?: HttpsAgent} = {}
  private ca: readonly string[] | undefined

  constructor(private readonly opts: HttpClientOptions = {}) {
    this.ca = opts.ca
  }

  private agent(protocol: string): HttpAgent {
    // Loaded on first use: the CLI's V8 startup snapshot cannot contain node:http(s).
    if (protocol === 'https:') {
      if (!this.agents.https) {
        const https = process.getBuiltinModule('node:https')
        this.agents.https = new https.Agent({
          keepAlive: true,
          rejectUnauthorized: this.opts.insecureTls !== true,
          ...(this.ca ? {ca: [...this.ca]} : {}),
        })
      }
      return this.agents.https
    }
    if (!this.agents.http) this.agents.http = new (process.getBuiltinModule('node:http').Agent)({keepAlive: true})
    return this.agents.http
  }

  /** Closes kept-alive connections (so the process can exit at once). */
  close(): void {
    this.agents.http?.destroy()
    this.agents.https?.destroy()
  }

  /** One request, following redirects under the rules above; 4xx and 5xx are returned, not thrown. */
  async request(url: string | URL, req: HttpRequest = {}): Promise<HttpResponse> {
    const first = new URL(url)
    let cur = first
    for (let hop = 0; ; hop++) {
      this.checkScheme(cur, first)
      const headers: Record<string, string> = {'user-agent': `rkt-ts/${RKT_VERSION}`}
      const keepCredentials = sameOrigin(cur, first) && cur.protocol === 'https:'
      for (const [k, v] of Object.entries(req.headers ?? {})) {
        if (k.toLowerCase() === 'authorization' && !keepCredentials) {
          if (cur.protocol !== 'https:' && sameOrigin(cur, first)) {
            this.opts.onWarning?.(`not sending credentials to ${cur.host} over plain http`)
          }
          continue
        }
        headers[k.toLowerCase()] = v
      }
      if (headers['authorization'] === undefined && keepCredentials) {
        const a = authHeader(cur, this.opts.auth)
        if (a) headers['authorization'] = a
      }
      const res = await this.once(cur, req.method ?? 'GET', headers)
      const location = res.headers.location
      if (res.statusCode! >= 300 && res.statusCode! < 400 && res.statusCode !== 304 && location) {
        res.resume()
        if (hop >= MAX_REDIRECTS) throw new RktError(`more than ${MAX_REDIRECTS} redirects from ${first.href}`)
        const next = new URL(location, cur)
        if (cur.protocol === 'https:' && next.protocol !== 'https:') {
          throw new RktError(`refusing the redirect from ${cur.href} to ${next.href}: it leaves https`, {
            code: 'EINSECURE',
            hint: 'ask the server to redirect to an https URL',
          })
        }
        cur = next
        continue
      }
      return wrapResponse(res, cur)
    }
  }

  private checkScheme(u: URL, first: URL): void {
    if (u.protocol === 'https:') return
    if (u.protocol !== 'http:') throw new RktError(`unsupported URL scheme in ${u.href}`, {code: 'EUSAGE'})
    if (!this.opts.allowHttp) {
      throw new RktError(`refusing plain http for ${u.href}${u === first ? '' : ` (redirected from ${first.href})`}`, {
        code: 'EINSECURE',
        hint: 'use https, or allow plain http (no integrity, no privacy) with --insecure-options=http',
      })
    }
  }

  private once(u: URL, method: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const mod = u.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')
    const idle = this.opts.idleTimeoutMs ?? 30_000
    return new Promise((resolve, reject) => {
      const r = mod.request(u, {method, headers, agent: this.agent(u.protocol), timeout: idle}, (res) => {
        res.setTimeout(idle, () => res.destroy(new Error(`no data from ${u.host} for ${idle} ms`)))
        resolve(res)
      })
      r.on('timeout', () => r.destroy(new Error(`no answer from ${u.host} within ${idle} ms`)))
      r.on('error', (err) => reject(describeNetworkError(err, u)))
      r.end()
    })
  }
}

function wrapResponse(res: IncomingMessage, url: URL): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    url,
    headers: res.headers,
    body: res,
    async text(maxBytes = 1 << 20) {
      const body = await readBounded(
        res,
        maxBytes,
        () => new RktError(`the answer of ${url.href} is larger than ${maxBytes} bytes`),
      )
      return body.toString('utf8')
    },
    discard() {
      res.resume()
    },
  }
}

/** Reads a whole stream into memory; past maxBytes it is destroyed and `tooLarge()` is thrown. */
export async function readBounded(stream: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  for await (const c of stream as AsyncIterable<Buffer>) {
    size += c.length
    if (size > maxBytes) {
      stream.destroy()
      throw tooLarge()
    }
    parts.push(c)
  }
  return Buffer.concat(parts)
}

/** Network errors with the host named, and TLS failures with their fix. */
function describeNetworkError(err: Error, u: URL): RktError {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new RktError(`TLS certificate of ${u.host} not trusted: ${err.message}`, {
      code: 'ETLS',
      cause: err,
      hint:
        'add the CA that signed it as a PEM file in /etc/rkt/certs.d/ (or the system store), ' +
        'or skip the check with --insecure-options=tls',
    })
  }
  return new RktError(`cannot reach ${u.host}: ${err.message}`, {code: 'ENETWORK', cause: err})
}

/** The client of one invocation: its TLS trust, its --insecure-options and auth.d from the config layers. */
export function httpClientFor(
  globals: Globals,
  opts: {onWarning?: ((m: string) => void) | undefined} = {},
): HttpClient {
  const layers = configLayers(globals)
  return new HttpClient({
    ca: loadCertificates(layers),
    insecureTls: globals.insecure.has('tls'),
    allowHttp: globals.insecure.has('http'),
    auth: loadStage0Config(layers).auth,
    onWarning: opts.onWarning,
  })
}
