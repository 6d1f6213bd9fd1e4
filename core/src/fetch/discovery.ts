// appc meta discovery (spec/discovery.md; reference/appc.md §4): fetch https://{name}?ac-discovery=1,
// read the <meta name="ac-discovery"> and <meta name="ac-discovery-pubkeys"> tags, fill the templates,
// and walk up the name (a/b/c, a/b, a) until a level yields what is looked for. Image endpoints and public
// keys are searched independently: each search stops at the most specific level that has entries of its kind.
import type {AppReference} from '../schema/index.js'

import {RktError} from '../errors.js'
import {prefixCovers} from '../trust/names.js'

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
  /** Also try plain http after https fails, and skip TLS certificate checks (actool --insecure). */
  readonly insecure?: boolean
  /** Port to use instead of the scheme's default (tests, private servers). */
  readonly port?: number | undefined
  /** Per-request timeout in ms. */
  readonly timeoutMs?: number
  /** Fetches a discovery page; injectable for tests. */
  readonly get?: (url: string, insecureTls: boolean) => Promise<{status: number; body: string}>
}

interface Meta {
  readonly name: string
  readonly prefix: string
  readonly uri: string
}

const MAX_PAGE = 1024 * 1024
const MAX_REDIRECTS = 10

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

/** Fills a template; undefined when a placeholder stays unfilled (the template is then skipped, appc D6). */
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

/** Node's http(s).get, following redirects (never from https to http unless insecure), bounded in size and time. */
function defaultGet(timeoutMs: number) {
  return function get(url: string, insecureTls: boolean, hops = 0): Promise<{status: number; body: string}> {
    return new Promise((resolve, reject) => {
      const u = new URL(url)
      // Loaded on first use: the CLI's V8 startup snapshot cannot contain node:http, and most commands never need it.
      const mod =
        u.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')
      const req = mod.get(
        u,
        {timeout: timeoutMs, ...(u.protocol === 'https:' ? {rejectUnauthorized: !insecureTls} : {})},
        (res) => {
          const status = res.statusCode ?? 0
          const location = res.headers.location
          if (status >= 300 && status < 400 && location) {
            res.resume()
            const next = new URL(location, u)
            if (hops >= MAX_REDIRECTS) return reject(new Error(`more than ${MAX_REDIRECTS} redirects`))
            if (u.protocol === 'https:' && next.protocol !== 'https:' && !insecureTls) {
              return reject(new Error(`refusing the redirect from ${u.href} to ${next.href}: it leaves https`))
            }
            return resolve(get(next.href, insecureTls, hops + 1))
          }
          let size = 0
          const parts: Buffer[] = []
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size > MAX_PAGE) req.destroy(new Error(`the discovery page is larger than ${MAX_PAGE} bytes`))
            else parts.push(c)
          })
          res.on('end', () => resolve({status, body: Buffer.concat(parts).toString('utf8')}))
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
      req.on('error', reject)
    })
  }
}

async function fetchLevel(prefix: string, opts: DiscoveryOptions): Promise<Meta[]> {
  const get = opts.get ?? defaultGet(opts.timeoutMs ?? 10_000)
  const attempt = async (scheme: 'https' | 'http'): Promise<Meta[]> => {
    const u = new URL(`${scheme}://${prefix}`)
    if (opts.port) u.port = String(opts.port)
    u.search = 'ac-discovery=1'
    const r = await get(u.href, opts.insecure === true)
    if (r.status !== 200) throw new Error(`expected a 200 OK got ${r.status}`)
    return parseMetaTags(r.body)
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
  for (let end = parts.length; end > 0; end--) {
    const prefix = parts.slice(0, end).join('/')
    try {
      // Whole path components, not appc's plain string prefix, which let a tag for `example.com/ap` serve
      // `example.com/app` (SEC-59).
      const metas = (await fetchLevel(prefix, opts)).filter((m) => prefixCovers(m.prefix.replace(/\/+$/, ''), app.name))
      const found = pick(metas)
      if (found.length > 0) return {found, attempts}
    } catch (err) {
      attempts.push({prefix, error: err instanceof Error ? err.message : String(err)})
    }
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
