// `rkt metadata-service`: appc's App Container Metadata Service (appc spec/ace.md) for the pods
// registered with it. Two listeners: the public HTTP API on a TCP port, where each pod is known only by
// the secret token in its AC_METADATA_URL, and the registration API on a unix socket only root can reach
// (docs/metadata-service.md). State lives in memory: a restarted service forgets every pod, as rkt's.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'

import {RktError, wrap} from '../errors.js'
import {parseImageManifest} from '../schema/image-manifest.js'
import {parsePodManifest} from '../schema/pod-manifest.js'
import {MDS_PROTOCOL} from './client.js'

/** Content types compared exactly by appc's validator (M10): `text/plain` alone fails. */
export const CONTENT_TYPE = {
  json: 'application/json',
  text: 'text/plain; charset=us-ascii',
  /** Annotation values (not in appc's final API, rkt's) are any JSON string, so not ASCII. */
  utf8: 'text/plain; charset=utf-8',
} as const

/** Bytes of the HMAC key: SHA-512's block-sized output, as rkt's `[sha512.Size]byte`. */
const HMAC_KEY_BYTES = 64
/** Bytes of entropy in a pod token (appc M1 asks for at least 16). */
const TOKEN_BYTES = 32
/** Request bodies beyond this are refused: manifests are capped far lower by the schema. */
const MAX_BODY = 4 * 1024 * 1024

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TOKEN_RE = new RegExp(`^[0-9a-f]{${TOKEN_BYTES * 2}}$`)
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

interface Annotation {
  name: string
  value: string
}

interface RegisteredPod {
  readonly uuid: string
  readonly tokenHash: string
  /** The manifest text as registered, trailing whitespace aside. */
  readonly manifestText: string
  /** The manifest as JSON, to serve its fields exactly as written (`[]` stays `[]`, absent stays null). */
  readonly manifest: {annotations?: unknown; apps?: {name: string; image: {id?: string}; annotations?: Annotation[]}[]}
  readonly apps: Map<string, {text: string; annotations: Annotation[]}>
}

/** An HTTP answer: status, content type, body. */
interface Answer {
  readonly status: number
  readonly type: string
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

function text(status: number, body: string, type: string = CONTENT_TYPE.utf8): Answer {
  return {status, type, body}
}

function json(status: number, value: unknown): Answer {
  return {status, type: CONTENT_TYPE.json, body: JSON.stringify(value)}
}

/**
 * Tokens are kept and looked up by their SHA-256 only: a lookup's timing then says nothing about how much of
 * a guessed token was right, and the tokens themselves are never held, so never logged or dumped.
 */
function tokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex')
}

/** The 16 bytes of a canonical UUID, which rkt's HMAC covers (`h.Write(uuid[:])`). */
function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex')
}

/** appc M5: image annotations with the pod app's merged over them, a known name replaced in place. */
function mergeAnnotations(image: readonly Annotation[], app: readonly Annotation[]): Annotation[] {
  const merged = image.map((a) => ({name: a.name, value: a.value}))
  for (const a of app) {
    const at = merged.findIndex((m) => m.name === a.name)
    if (at >= 0) merged[at] = {name: a.name, value: a.value}
    else merged.push({name: a.name, value: a.value})
  }
  return merged
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        resolve(undefined)
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** A path segment decoded, or undefined when its %-escapes are malformed (answered 404, not 500). */
function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** Go's r.FormValue: form fields of a urlencoded body first, then the query string. */
function formValue(body: URLSearchParams, query: URLSearchParams, name: string): string | undefined {
  return body.get(name) ?? query.get(name) ?? undefined
}

/** The state and both APIs of one metadata service; `listen` puts them on the network. */
export class MetadataService {
  /** One random key per service run: signatures stay valid exactly as long as the service does. */
  private readonly hmacKey = crypto.randomBytes(HMAC_KEY_BYTES)
  private readonly byTokenHash = new Map<string, RegisteredPod>()
  private readonly byUuid = new Map<string, RegisteredPod>()

  /** The HMAC-SHA512 of a pod's UUID bytes followed by the content, base64 (appc M8, rkt's construction). */
  sign(uuid: string, content: string): string {
    return this.mac(uuid, content).toString('base64')
  }

  /** True when `signature` (base64) is the service's signature of `content` by pod `uuid`; constant time. */
  verify(uuid: string, content: string, signature: string): boolean {
    const expected = this.mac(uuid, content)
    const given = BASE64_RE.test(signature) ? Buffer.from(signature, 'base64') : Buffer.alloc(0)
    // timingSafeEqual needs equal lengths; a wrong length is public (the length of SHA-512 is), so it may
    // fail early, but still after the same HMAC work as a right-length one.
    if (given.length !== expected.length) return false
    return crypto.timingSafeEqual(given, expected)
  }

  private mac(uuid: string, content: string): Buffer {
    return crypto.createHmac('sha512', this.hmacKey).update(uuidBytes(uuid)).update(content, 'utf8').digest()
  }

  /** Registers a pod from its manifest text; returns its new token. */
  registerPod(uuid: string, manifestText: string): string {
    if (!UUID_RE.test(uuid)) throw new RktError(`${JSON.stringify(uuid)} is not a canonical pod UUID`)
    if (this.byUuid.has(uuid)) {
      throw new RktError(`pod ${uuid} is already registered`, {code: 'EEXIST'})
    }
    try {
      parsePodManifest(manifestText)
    } catch (err) {
      throw wrap(`the manifest of pod ${uuid} is not a valid pod manifest`, err)
    }
    const token = crypto.randomBytes(TOKEN_BYTES).toString('hex')
    const pod: RegisteredPod = {
      uuid,
      tokenHash: tokenHash(token),
      manifestText: manifestText.replace(/\s+$/, ''),
      manifest: JSON.parse(manifestText) as RegisteredPod['manifest'],
      apps: new Map(),
    }
    this.byTokenHash.set(pod.tokenHash, pod)
    this.byUuid.set(uuid, pod)
    return token
  }

  /** Registers the image manifest of an app the pod's manifest names. */
  registerApp(uuid: string, app: string, manifestText: string): void {
    const pod = this.byUuid.get(uuid)
    if (pod === undefined) throw new RktError(`pod ${uuid} is not registered`, {code: 'ENOENT'})
    if (!(pod.manifest.apps ?? []).some((a) => a.name === app)) {
      throw new RktError(`pod ${uuid} has no app named ${JSON.stringify(app)}`, {code: 'ENOENT'})
    }
    let annotations: Annotation[]
    try {
      annotations = parseImageManifest(manifestText).manifest.annotations.map((a) => ({name: a.name, value: a.value}))
    } catch (err) {
      throw wrap(`the image manifest of app ${app} is not a valid image manifest`, err)
    }
    pod.apps.set(app, {text: manifestText.replace(/\s+$/, ''), annotations})
  }

  /** Forgets a pod; false if it was not registered. */
  unregisterPod(uuid: string): boolean {
    const pod = this.byUuid.get(uuid)
    if (pod === undefined) return false
    this.byUuid.delete(uuid)
    this.byTokenHash.delete(pod.tokenHash)
    return true
  }

  /**
   * The public API: `/<token>/acMetadata/v1/…`. An unknown token is 401 (whatever follows), an unknown
   * path under a known token 404, a known path with the wrong method 405.
   */
  async publicRequest(method: string, rawUrl: string, body: () => Promise<string | undefined>): Promise<Answer> {
    const url = new URL(rawUrl, 'http://mds')
    const m = /^\/([^/]*)\/acMetadata\/v1\/(.*)$/.exec(url.pathname)
    if (m === null) return text(404, 'not a metadata service path: expected /<token>/acMetadata/v1/…')
    const token = m[1]!
    const pod = TOKEN_RE.test(token) ? this.byTokenHash.get(tokenHash(token)) : undefined
    if (pod === undefined) return text(401, 'unknown pod token')
    const rest = m[2]!
    const get = (answer: () => Answer): Answer =>
      method === 'GET' || method === 'HEAD' ? answer() : {...text(405, 'use GET'), headers: {allow: 'GET, HEAD'}}

    if (rest === 'pod/annotations' || rest === 'pod/annotations/') {
      return get(() => json(200, pod.manifest.annotations ?? null))
    }
    if (rest.startsWith('pod/annotations/')) {
      const name = decode(rest.slice('pod/annotations/'.length))
      const list = Array.isArray(pod.manifest.annotations) ? (pod.manifest.annotations as Annotation[]) : []
      return get(() => annotationValue(list, name))
    }
    if (rest === 'pod/manifest') return get(() => ({status: 200, type: CONTENT_TYPE.json, body: pod.manifestText}))
    if (rest === 'pod/uuid') return get(() => text(200, pod.uuid, CONTENT_TYPE.text))
    if (rest === 'pod/hmac/sign' || rest === 'pod/hmac/verify') {
      if (method !== 'POST') return {...text(405, 'use POST'), headers: {allow: 'POST'}}
      const raw = await body()
      if (raw === undefined) return text(413, 'request body too large')
      const form = new URLSearchParams(raw)
      const content = formValue(form, url.searchParams, 'content')
      if (content === undefined) return text(400, 'the form field content is missing')
      if (rest === 'pod/hmac/sign') return text(200, this.sign(pod.uuid, content), CONTENT_TYPE.text)
      // appc names the signer's field `uuid`; rkt's service read `uid`, so clients written for it work too.
      const signer = formValue(form, url.searchParams, 'uuid') ?? formValue(form, url.searchParams, 'uid')
      if (signer === undefined || !UUID_RE.test(signer.toLowerCase())) {
        return text(400, 'the form field uuid (the signing pod) is missing or not a UUID')
      }
      const signature = formValue(form, url.searchParams, 'signature')
      if (signature === undefined || !BASE64_RE.test(signature)) {
        return text(400, 'the form field signature is missing or not base64')
      }
      const ok = this.verify(signer.toLowerCase(), content, signature)
      return text(ok ? 200 : 403, '', CONTENT_TYPE.text)
    }

    const a = /^apps\/([^/]+)\/(.*)$/.exec(rest)
    if (a !== null) {
      const appName = decode(a[1]!) ?? ''
      const what = a[2]!
      const podApp = (pod.manifest.apps ?? []).find((x) => x.name === appName)
      const image = pod.apps.get(appName)
      if (podApp === undefined || image === undefined) return text(404, `no app named ${JSON.stringify(appName)}`)
      if (what === 'image/manifest') return get(() => ({status: 200, type: CONTENT_TYPE.json, body: image.text}))
      if (what === 'image/id') return get(() => text(200, podApp.image.id ?? '', CONTENT_TYPE.text))
      const merged = (): Annotation[] => mergeAnnotations(image.annotations, podApp.annotations ?? [])
      if (what === 'annotations' || what === 'annotations/') return get(() => json(200, merged()))
      if (what.startsWith('annotations/')) {
        const name = decode(what.slice('annotations/'.length))
        return get(() => annotationValue(merged(), name))
      }
    }
    return text(404, 'no such metadata')
  }

  /** The registration API (docs/metadata-service.md); errors are JSON `{"error": …}`. */
  async registrationRequest(method: string, rawUrl: string, body: () => Promise<string | undefined>): Promise<Answer> {
    const url = new URL(rawUrl, 'http://mds')
    const parts = url.pathname.split('/').slice(1).map(decode)
    if (parts.includes(undefined)) return json(404, {error: 'malformed %-escape in the path'})
    if (parts[0] !== MDS_PROTOCOL) {
      return json(404, {error: `unsupported registration protocol: this service speaks /${MDS_PROTOCOL}/`})
    }
    const [, pods, uuid, apps, app, ...extra] = parts
    if (pods !== 'pods' || uuid === undefined || extra.length > 0 || (apps !== undefined && apps !== 'apps')) {
      return json(404, {error: 'unknown registration path'})
    }
    const readJson = async (): Promise<{value: Record<string, unknown>} | {answer: Answer}> => {
      const raw = await body()
      if (raw === undefined) return {answer: json(413, {error: 'request body too large'})}
      try {
        const v: unknown = JSON.parse(raw)
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) return {value: v as Record<string, unknown>}
      } catch {
        // Reported below with the non-object case.
      }
      return {answer: json(400, {error: 'the request body must be a JSON object'})}
    }
    const fail = (err: unknown): Answer => {
      const code = err instanceof RktError ? err.code : ''
      const message =
        err instanceof Error ? err.message + (err.cause instanceof Error ? `: ${err.cause.message}` : '') : String(err)
      return json(code === 'EEXIST' ? 409 : code === 'ENOENT' ? 404 : 400, {error: message})
    }
    if (apps === undefined && method === 'PUT') {
      const req = await readJson()
      if ('answer' in req) return req.answer
      const manifest = req.value['manifest']
      if (typeof manifest !== 'string')
        return json(400, {error: 'the field manifest (pod manifest JSON text) is missing'})
      try {
        return json(201, {token: this.registerPod(uuid, manifest)})
      } catch (err) {
        return fail(err)
      }
    }
    if (apps === undefined && method === 'DELETE') {
      return this.unregisterPod(uuid) ? text(204, '') : json(404, {error: `pod ${uuid} is not registered`})
    }
    if (apps !== undefined && app !== undefined && method === 'PUT') {
      const req = await readJson()
      if ('answer' in req) return req.answer
      const manifest = req.value['imageManifest']
      if (typeof manifest !== 'string') {
        return json(400, {error: 'the field imageManifest (image manifest JSON text) is missing'})
      }
      try {
        this.registerApp(uuid, app, manifest)
        return text(204, '')
      } catch (err) {
        return fail(err)
      }
    }
    return {
      ...json(405, {error: `${method} is not allowed here`}),
      headers: {allow: apps === undefined ? 'PUT, DELETE' : 'PUT'},
    }
  }
}

function annotationValue(list: readonly Annotation[], name: string | undefined): Answer {
  const found = name === undefined ? undefined : list.find((a) => a.name === name)
  return found === undefined ? text(404, `no annotation named ${JSON.stringify(name)}`) : text(200, found.value)
}

function send(res: http.ServerResponse, a: Answer, head: boolean): void {
  const body = Buffer.from(a.body, 'utf8')
  res.writeHead(a.status, {'content-type': a.type, 'content-length': String(body.length), ...a.headers})
  res.end(head || a.status === 204 ? undefined : body)
}

/** A request's path with the token cut out: tokens are secrets and must never reach a log. */
export function redactedPath(rawUrl: string): string {
  return rawUrl.replace(/^\/[^/?]*/, '/<token>').replace(/\?.*$/, '')
}

function handler(
  serve: (method: string, url: string, body: () => Promise<string | undefined>) => Promise<Answer>,
  log: ((line: string) => void) | undefined,
): http.RequestListener {
  return (req, res) => {
    const method = req.method ?? 'GET'
    serve(method, req.url ?? '/', () => readBody(req))
      .catch((err: unknown) => text(500, `internal error: ${err instanceof Error ? err.message : String(err)}`))
      .then((a) => {
        send(res, a, method === 'HEAD')
        log?.(`${method} ${redactedPath(req.url ?? '/')} ${a.status}`)
      })
      .catch(() => res.destroy())
  }
}

/** Whether something accepts connections on a unix socket (a live service, versus a stale socket file). */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath)
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

/**
 * Opens the registration socket so that only root can use it: a missing directory is created 0700, the
 * socket is created under a umask that leaves it 0600 (no window in which others could connect), and a
 * stale socket of a dead service is replaced, a live one never.
 */
async function listenUnix(server: http.Server, socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath)
  try {
    fs.mkdirSync(dir, {recursive: true, mode: 0o700})
  } catch (err) {
    throw wrap(`cannot create the directory of the registration socket ${dir}`, err, {
      hint: 'run `rkt metadata-service` as root, or give --socket-path in a directory you can write',
    })
  }
  const st = fs.lstatSync(socketPath, {throwIfNoEntry: false})
  if (st !== undefined) {
    if (!st.isSocket()) {
      throw new RktError(`${socketPath} exists and is not a socket`, {hint: 'remove it or give another --socket-path'})
    }
    if (await socketAnswers(socketPath)) {
      throw new RktError(`a metadata service is already listening on ${socketPath}`, {
        hint: 'stop it first, or give this one another --socket-path',
      })
    }
    fs.unlinkSync(socketPath)
  }
  const listening = listen(server, () => {
    // bind(2) happens inside listen() for a unix socket, so the umask covers the socket's creation.
    const old = process.umask(0o177)
    try {
      server.listen(socketPath)
    } finally {
      process.umask(old)
    }
  })
  await listening.catch((err: unknown) => {
    throw wrap(`cannot listen on the registration socket ${socketPath}`, err)
  })
  fs.chmodSync(socketPath, 0o600)
}

function listen(server: http.Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.once('listening', () => {
      server.off('error', reject)
      resolve()
    })
    start()
  })
}

export interface ServeOptions {
  /** TCP port of the public API, on all addresses; 0 picks a free one. */
  readonly port: number
  /** The registration socket. */
  readonly socketPath: string
  /** Receives one line per request (tokens redacted). */
  readonly log?: ((line: string) => void) | undefined
  /**
   * Listening sockets systemd passed (socket activation, docs/metadata-service.md): a unix socket is the registration
   * socket (socketPath is then not made, nor removed), a TCP one the public API (port is then not listened on).
   */
  readonly listenFds?: readonly number[] | undefined
}

/**
 * Servers on the listening sockets systemd passed, each told apart by its kind once listening: a unix socket serves
 * registrations, a TCP one the public API; at most one of each.
 */
async function adoptListenFds(
  fds: readonly number[],
  handlers: {registration: http.RequestListener; pub: http.RequestListener},
): Promise<{registration?: http.Server; pub?: http.Server}> {
  const got: {registration?: http.Server; pub?: http.Server} = {}
  for (const fd of fds) {
    const server = http.createServer()
    await listen(server, () => server.listen({fd}))
    const address = server.address()
    const kind = address !== null && typeof address === 'object' ? 'pub' : 'registration' // a port: TCP
    if (got[kind]) {
      server.close()
      throw new RktError(`systemd passed two ${kind === 'pub' ? 'TCP' : 'unix'} sockets to the metadata service`, {
        hint: 'give its socket unit one ListenStream= of each kind: a path for registrations, a port for the API',
      })
    }
    server.on('request', handlers[kind])
    got[kind] = server
  }
  return got
}

/** A running service: its state, the public port it got, and how to stop it. */
export interface RunningService {
  readonly service: MetadataService
  readonly port: number
  close(): Promise<void>
}

/** Starts both listeners (or takes systemd's); a socket file made here is removed again on close. */
export async function serve(opts: ServeOptions): Promise<RunningService> {
  const service = new MetadataService()
  const handlers = {
    registration: handler((m, u, b) => service.registrationRequest(m, u, b), opts.log),
    pub: handler((m, u, b) => service.publicRequest(m, u, b), opts.log),
  }
  const passed = await adoptListenFds(opts.listenFds ?? [], handlers)
  const registration = passed.registration ?? http.createServer(handlers.registration)
  const pub = passed.pub ?? http.createServer(handlers.pub)
  // appc's validator gives each request 100 ms (M10): answer without Nagle's delay.
  pub.on('connection', (s: net.Socket) => s.setNoDelay(true))
  const ownSocket = !passed.registration
  if (ownSocket) await listenUnix(registration, opts.socketPath)
  try {
    if (!passed.pub) {
      await listen(pub, () => pub.listen(opts.port)).catch((err: unknown) => {
        throw wrap(`cannot listen on TCP port ${opts.port}`, err, {
          hint:
            (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
              ? 'another program uses the port: give --listen-port'
              : undefined,
        })
      })
    }
  } catch (err) {
    registration.close()
    if (ownSocket) fs.rmSync(opts.socketPath, {force: true})
    throw err
  }
  const close = (s: http.Server): Promise<void> =>
    new Promise((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections()
    })
  return {
    service,
    port: (pub.address() as net.AddressInfo).port,
    async close() {
      await Promise.all([close(pub), close(registration)])
      if (ownSocket) fs.rmSync(opts.socketPath, {force: true})
    },
  }
}
