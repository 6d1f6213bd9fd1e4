// Test fixtures for remote fetching: a throwaway CA and a server certificate made by openssl, and a
// loopback HTTP(S) server that logs every request and serves what a test routes. Used by the unit tests
// here and by the end-to-end tests (which add a private /etc/hosts so names resolve to it).
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

export interface TestCa {
  /** PEM of the CA certificate (what a client must trust). */
  readonly caPem: string
  readonly caFile: string
  /** The server's certificate (signed by the CA, for the given DNS names and 127.0.0.1) and key. */
  readonly certPem: string
  readonly keyPem: string
}

/** Makes a CA and a server certificate for `hosts` (plus localhost and 127.0.0.1) in `dir`. */
export function makeTestCa(dir: string, hosts: readonly string[]): TestCa {
  fs.mkdirSync(dir, {recursive: true})
  const f = (n: string): string => path.join(dir, n)
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, {stdio: ['ignore', 'ignore', 'pipe']})
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=rkt-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  )
  ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    `/CN=${hosts[0] ?? 'localhost'}`,
  )
  const san = [...hosts, 'localhost'].map((h) => `DNS:${h}`).join(',')
  fs.writeFileSync(f('ext'), `subjectAltName=${san},IP:127.0.0.1\nbasicConstraints=CA:FALSE\n`)
  ssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '2',
    '-extfile',
    f('ext'),
  )
  return {
    caPem: fs.readFileSync(f('ca.pem'), 'utf8'),
    caFile: f('ca.pem'),
    certPem: fs.readFileSync(f('server.pem'), 'utf8'),
    keyPem: fs.readFileSync(f('server.key'), 'utf8'),
  }
}

/** One request as the server saw it. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  /** The status the route answered. */
  status: number
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void

export interface TestServer {
  readonly port: number
  /** `https://host:port` or `http://…` for 127.0.0.1. */
  readonly origin: string
  readonly log: LoggedRequest[]
  /** Routes by path (without the query); unrouted paths get 404. */
  readonly routes: Map<string, Route>
  close(): Promise<void>
}

/** A loopback server (https when `tls` is given) on `port` (0: any free port). */
export async function startTestServer(opts: {tls?: TestCa; port?: number; host?: string} = {}): Promise<TestServer> {
  const log: LoggedRequest[] = []
  const routes = new Map<string, Route>()
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://x')
    const entry: LoggedRequest = {
      method: req.method ?? '',
      path: u.pathname + u.search,
      headers: req.headers,
      status: 0,
    }
    log.push(entry)
    res.on('close', () => (entry.status = res.statusCode))
    const route = routes.get(u.pathname)
    if (route) route(req, res)
    else res.writeHead(404).end('not found')
  }
  const server = opts.tls
    ? https.createServer({cert: opts.tls.certPem, key: opts.tls.keyPem}, handler)
    : http.createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    log,
    routes,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A route serving a file with an ETag, Cache-Control, conditional GET (304) and byte ranges (If-Range). */
export function fileRoute(body: Buffer, opts: {etag?: string; maxAge?: number} = {}): Route {
  const etag = opts.etag ?? `"${body.length}-${body.subarray(0, 8).toString('hex')}"`
  return (req, res) => {
    const headers: http.OutgoingHttpHeaders = {etag, 'accept-ranges': 'bytes'}
    if (opts.maxAge !== undefined) headers['cache-control'] = `max-age=${opts.maxAge}`
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end()
      return
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (range && (req.headers['if-range'] === undefined || req.headers['if-range'] === etag)) {
      const from = Number(range[1])
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${from}-${body.length - 1}/${body.length}`,
        'content-length': body.length - from,
      })
      res.end(body.subarray(from))
      return
    }
    res.writeHead(200, {...headers, 'content-length': body.length}).end(body)
  }
}
