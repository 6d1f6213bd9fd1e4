// appc meta discovery (appc spec/discovery.md): fetch https://{name}?ac-discovery=1,
// read the <meta name="ac-discovery"> and <meta name="ac-discovery-pubkeys"> tags, fill the templates,
// and walk up the name (a/b/c, a/b, a) until a level yields what is looked for. Image endpoints and public
// keys are searched independently: each search stops at the most specific level that has entries of its kind.
import type {AppReference} from '../schema/index.js'

import {RktError} from '../errors.js'
import {prefixCovers} from '../trust/names.js'
import {HttpClient} from './http.js'

/** Where an image and its signature can be downloaded. */
export interface AciEndpoint {
  readonly aci: string
  readonly asc: string
}

/** A level of the walk that gave nothing usable, and why. */
export interface FailedAttempt {
  readonly prefix: string
  readonly error: string
}

export interface DiscoveryOptions {
  /** The client (its TLS trust, auth.d, --insecure-options); default: one made from `insecure`. */
  readonly http?: HttpClient | undefined
  /** Also try plain http after https fails (the client must allow http); without `http`, also skip TLS checks. */
  readonly insecure?: boolean
  /** Port to use instead of the scheme's default (actool discover --port, private servers). */
  readonly port?: number | undefined
  /** Per-request timeout in ms. */
  readonly timeoutMs?: number
}

interface Meta {
  readonly name: string
  readonly prefix: string
  readonly uri: string
}

const MAX_PAGE = 1024 * 1024

/** The `ac-*` meta tags of an HTML page, in document order. */
export function parseMetaTags(html: string): Meta[] {
  const out: Meta[] = []
  for (const tag of html.matchAll(/<meta\b([^>]*)>/gi)) {
    const attrs = new Map<string, string>()
    for (const a of tag[1]!.matchAll(/([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>/]+))/g)) {
      attrs.set(a[1]!.toLowerCase(), decodeEntities(a[2] ?? a[3] ?? a[4] ?? ''))
    }
    const name = attrs.get('name') ?? ''
    const content = (attrs.get('content') ?? '').trim()
    const space = content.indexOf(' ')
    if (!name.startsWith('ac-') || space <= 0) continue
    const uri = content.slice(space + 1).trim()
    if (uri !== '') out.push({name, prefix: content.slice(0, space), uri})
  }
  return out
}

function decodeEntities(s: string): string {
  return s.replace(
    /&(amp|lt|gt|quot|#39|apos);/g,
    (m, e: string) => ({amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'"})[e] ?? m,
  )
}

// Label values are substituted into URLs: none may carry characters that change the URL's structure.
const UNSAFE_VALUE = /[/?#@\\\s]|\.\./

/** Fills a template; undefined when a placeholder stays unfilled (the template is then skipped, as appc
 * spec/discovery.md asks). */
export function renderTemplate(tpl: string, vars: ReadonlyMap<string, string>): string | undefined {
  let out = tpl
  for (const [k, v] of vars) out = out.split(`{${k}}`).join(v)
  return /{[^}]*}/.test(out) ? undefined : out
}

function templateVars(app: AppReference): Map<string, string> {
  const vars = new Map<string, string>([['name', app.name]])
  for (const [k, v] of Object.entries({version: 'latest', ...app.labels})) {
    if (k === 'name' || k === 'ext') continue
    if (UNSAFE_VALUE.test(v)) {
      throw new RktError(`label ${k}=${JSON.stringify(v)} cannot be used for discovery: it contains URL syntax`, {
        code: 'EUSAGE',
      })
    }
    vars.set(k, v)
  }
  return vars
}

async function fetchLevel(prefix: string, http: HttpClient, opts: DiscoveryOptions): Promise<Meta[]> {
  const attempt = async (scheme: 'https' | 'http'): Promise<Meta[]> => {
    const u = new URL(`${scheme}://${prefix}`)
    if (opts.port) u.port = String(opts.port)
    u.search = 'ac-discovery=1'
    const r = await http.request(u)
    if (r.status !== 200) {
      r.discard()
      throw new Error(`expected a 200 OK got ${r.status}`)
    }
    return parseMetaTags(await r.text(MAX_PAGE))
  }
  try {
    return await attempt('https')
  } catch (err) {
    if (!opts.insecure) throw err
    return attempt('http')
  }
}

async function walk(
  app: AppReference,
  opts: DiscoveryOptions,
  pick: (metas: readonly Meta[]) => string[] | AciEndpoint[],
): Promise<{found: unknown[]; attempts: FailedAttempt[]}> {
  const parts = app.name.split('/')
  const attempts: FailedAttempt[] = []
  const http =
    opts.http ??
    new HttpClient({insecureTls: opts.insecure, allowHttp: opts.insecure, idleTimeoutMs: opts.timeoutMs ?? 10_000})
  try {
    for (let end = parts.length; end > 0; end--) {
      const prefix = parts.slice(0, end).join('/')
      try {
        // Whole path components, not appc's plain string prefix, which let a tag for `example.com/ap` serve
        // `example.com/app` (SEC-59).
        const metas = (await fetchLevel(prefix, http, opts)).filter((m) =>
          prefixCovers(m.prefix.replace(/\/+$/, ''), app.name),
        )
        const found = pick(metas)
        if (found.length > 0) return {found, attempts}
      } catch (err) {
        attempts.push({prefix, error: err instanceof Error ? err.message : String(err)})
      }
    }
  } finally {
    if (!opts.http) http.close()
  }
  return {found: [], attempts}
}

/** Discovers the download locations of an image (name + labels). */
export async function discoverEndpoints(
  app: AppReference,
  opts: DiscoveryOptions = {},
): Promise<{endpoints: AciEndpoint[]; attempts: FailedAttempt[]}> {
  const vars = templateVars(app)
  const r = await walk(app, opts, (metas) =>
    metas.flatMap((m) => {
      if (m.name !== 'ac-discovery' || !m.uri.includes('{ext}')) return []
      const uri = renderTemplate(m.uri.split('{ext}').join('\u0000'), vars)?.split('\u0000')
      if (!uri) return []
      return [{aci: uri.join('aci'), asc: uri.join('aci.asc')}]
    }),
  )
  return {endpoints: r.found as AciEndpoint[], attempts: r.attempts}
}

/** Discovers the public keys offered for an image name. */
export async function discoverPublicKeys(
  app: AppReference,
  opts: DiscoveryOptions = {},
): Promise<{keys: string[]; attempts: FailedAttempt[]}> {
  const r = await walk(app, opts, (metas) => metas.filter((m) => m.name === 'ac-discovery-pubkeys').map((m) => m.uri))
  return {keys: r.found as string[], attempts: r.attempts}
}
