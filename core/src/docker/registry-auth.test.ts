// docker:// pulls from a real docker-registry serving TLS and asking for credentials: the Bearer token flow
// (spec/auth/token.md, with a token server of this file signing RS256 JWTs) and htpasswd Basic auth. The
// credentials come from a dockerAuth file and the CA from certs.d of a local config layer, as `rkt fetch`
// reads them (httpClientFor).
import assert from 'node:assert/strict'
import {execFile, execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {promisify} from 'node:util'

import type {Globals} from '../config/globals.js'

import {RktError, causeChain} from '../errors.js'
import {httpClientFor} from '../http/client.js'
import {makeTestCa, startTestServer} from '../http/tls-fixture.js'
import type {TestCa, TestServer} from '../http/tls-fixture.js'
import {TreeStore} from '../store/tree-store.js'
import {fetchDockerImage} from './import.js'
import {makeLayer, requireTools, startRegistry, tempDir, testGlobals, testStore, writeOciLayout} from './testing.js'

const execFileAsync = promisify(execFile)

const TOOLS = ['docker-registry', 'skopeo', 'openssl']

/** htpasswd lines (bcrypt, the only hash docker-registry takes): u:p may pull, pusher:pushpw may push. */
const HTPASSWD = [
  'u:$2b$05$iiffkm3Z8DfaU4K39MTyMeQ2cB6GD/kfi.oNp881zLbBHtzWtrMzu',
  'pusher:$2b$05$rOpTHJeHNOIIkGSEFk8BAelmTQg3QlxkNovy3fVB/3qc7eTZQQFWO',
]
/** What the token server grants: u pulls, pusher pushes; anonymous users get a token granting nothing. */
const USERS: Record<string, {password: string; actions: string[]}> = {
  u: {password: 'p', actions: ['pull']},
  pusher: {password: 'pushpw', actions: ['pull', 'push']},
}

type T = {after: (fn: () => void | Promise<void>) => void}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** The token server: an https route /token signing RS256 JWTs with an x5c certificate, and what it was asked. */
interface TokenServer {
  readonly server: TestServer
  readonly realm: string
  /** The rootcertbundle for the registry (the self-signed signing certificate). */
  readonly certFile: string
  /** How many of the next tokens to issue already expired (beyond the registry's 60 s leeway). */
  expired: number
}

function startTokenServer(dir: string, ca: TestCa, t: T): Promise<TokenServer> {
  fs.mkdirSync(dir, {recursive: true})
  const keyFile = path.join(dir, 'key.pem')
  const certFile = path.join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=test-token-issuer',
    ],
    {stdio: ['ignore', 'ignore', 'pipe']},
  )
  const key = fs.readFileSync(keyFile, 'utf8')
  const der = fs
    .readFileSync(certFile, 'utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '')
  return startTestServer({tls: ca}).then((server) => {
    t.after(() => server.close())
    const self: TokenServer = {server, realm: `${server.origin}/token`, certFile, expired: 0}
    server.routes.set('/token', (req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams
      let user = ''
      const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '')
      if (m) {
        const [name, ...rest] = Buffer.from(m[1]!, 'base64').toString().split(':')
        const u = USERS[name ?? '']
        if (!u || u.password !== rest.join(':')) {
          res.writeHead(401, {'content-type': 'application/json'})
          res.end(JSON.stringify({details: 'invalid username/password'}))
          return
        }
        user = name!
      }
      const allowed = USERS[user]?.actions ?? []
      const access = q.getAll('scope').flatMap((s) => {
        const [type, name, actions] = s.split(':')
        if (type !== 'repository' || !name) return []
        const granted = (actions ?? '').split(',').filter((a) => allowed.includes(a))
        return [{type, name, actions: granted}]
      })
      let now = Math.floor(Date.now() / 1000)
      if (self.expired > 0) {
        self.expired--
        now -= 3600
      }
      const header = b64url(JSON.stringify({typ: 'JWT', alg: 'RS256', x5c: [der]}))
      const claims = b64url(
        JSON.stringify({
          iss: 'test-issuer',
          sub: user,
          aud: q.get('service') ?? '',
          exp: now + 300,
          nbf: now - 10,
          iat: now - 10,
          jti: crypto.randomUUID(),
          access,
        }),
      )
      const sig = crypto.createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key)
      const token = `${header}.${claims}.${b64url(sig)}`
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({token, access_token: token, expires_in: 300}))
    })
    return self
  })
}

/** A CA (certs.d of the config layer, skopeo's cert dir) and an image in an OCI layout. */
async function fixture(dir: string): Promise<{ca: TestCa; certDir: string; layout: string}> {
  const ca = makeTestCa(path.join(dir, 'ca'), [])
  const certDir = path.join(dir, 'skopeo-certs')
  fs.mkdirSync(certDir)
  fs.copyFileSync(ca.caFile, path.join(certDir, 'ca.crt'))
  const layer = await makeLayer([{name: 'etc/'}, {name: 'etc/secret.txt', data: 'behind auth\n'}])
  const layout = path.join(dir, 'oci')
  writeOciLayout(layout, 'app', [layer], {config: {Cmd: ['/bin/cat', '/etc/secret.txt']}})
  return {ca, certDir, layout}
}

/** Pushes the image with skopeo (asynchronously: the token server runs in this process). */
async function push(dir: string, certDir: string, layout: string, dest: string): Promise<void> {
  try {
    await execFileAsync(
      'skopeo',
      ['copy', '--quiet', '--dest-cert-dir', certDir, '--dest-creds', 'pusher:pushpw', `oci:${layout}:app`, dest],
      {env: {...process.env, REGISTRY_AUTH_FILE: path.join(dir, 'skopeo-auth.json')}},
    )
  } catch (err) {
    throw new Error(`skopeo push to ${dest} failed: ${(err as {stderr?: string}).stderr ?? String(err)}`, {
      cause: err,
    })
  }
}

/** Globals of a local config layer with the CA in certs.d and, when given, dockerAuth credentials. */
function configLayer(dir: string, ca: TestCa, host: string, creds?: {user: string; password: string}): Globals {
  const globals = testGlobals(dir, ['image'])
  fs.mkdirSync(path.join(globals.localConfig, 'certs.d'), {recursive: true})
  fs.copyFileSync(ca.caFile, path.join(globals.localConfig, 'certs.d', 'ca.pem'))
  if (creds) {
    fs.mkdirSync(path.join(globals.localConfig, 'auth.d'), {recursive: true})
    fs.writeFileSync(
      path.join(globals.localConfig, 'auth.d', 'x.json'),
      JSON.stringify({rktKind: 'dockerAuth', rktVersion: 'v1', registries: [host], credentials: creds}),
    )
  }
  return globals
}

/** Fetches `ref` with the configuration of `globals` into the store of `dir`. */
async function fetchWith(globals: Globals, dir: string, ref: string, t: T) {
  const http = httpClientFor(globals)
  t.after(() => http.close())
  return fetchDockerImage(testStore(dir), ref, {globals, http})
}

/** The messages and hints of an error's cause chain, for matching. */
function describeError(e: unknown): string {
  return causeChain(e)
    .map((c) =>
      c instanceof RktError ? `${c.message} [${c.code}] (${c.hint ?? ''})` : c instanceof Error ? c.message : '',
    )
    .join(' | ')
}

async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  let text = ''
  await assert.rejects(p, (e: unknown) => {
    text = describeError(e)
    for (const re of patterns) assert.match(text, re)
    return true
  })
  return text
}

function assertPulled(dir: string, rec: {key: string; name: string}, host: string, repo: string): void {
  assert.equal(rec.name, `127.0.0.1_${host.split(':')[1]}/${repo}`)
  const tree = new TreeStore(testStore(dir)).render(rec.key).rootfs
  assert.equal(fs.readFileSync(path.join(tree, 'etc/secret.txt'), 'utf8'), 'behind auth\n')
}

describe('registry authentication over TLS', () => {
  test('Bearer token flow: the token comes from the realm with the dockerAuth credentials', async (t) => {
    requireTools(TOOLS)
    const dir = tempDir(t, 'rkt-registry-auth-')
    const {ca, certDir, layout} = await fixture(dir)
    const tokens = await startTokenServer(path.join(dir, 'token'), ca, t)
    const host = await startRegistry(path.join(dir, 'registry'), t, {
      tls: {certFile: path.join(dir, 'ca', 'server.pem'), keyFile: path.join(dir, 'ca', 'server.key')},
      auth: [
        'token:',
        `  realm: ${tokens.realm}`,
        '  service: test-registry',
        '  issuer: test-issuer',
        `  rootcertbundle: ${tokens.certFile}`,
      ],
    })
    await push(dir, certDir, layout, `docker://${host}/team/app:1`)
    const ref = `docker://${host}/team/app:1`
    const ours = (): typeof tokens.server.log =>
      tokens.server.log.filter((r) => String(r.headers['user-agent']).startsWith('rkt-ts/'))

    // With the credentials of auth.d: one token request, Basic u:p, scoped to pulling this repository.
    const rec = await fetchWith(configLayer(path.join(dir, 'ok'), ca, host, {user: 'u', password: 'p'}), dir, ref, t)
    assertPulled(dir, rec, host, 'team/app')
    assert.equal(ours().length, 1)
    const asked = ours()[0]!
    assert.equal(asked.headers.authorization, basic('u', 'p'))
    const q = new URL(asked.path, 'https://x').searchParams
    assert.deepEqual(q.getAll('scope'), ['repository:team/app:pull'])
    assert.equal(q.get('service'), 'test-registry')
    assert.equal(asked.status, 200)

    // An expired token (a long pull outlives it) is renewed once from the registry's new challenge.
    tokens.expired = 1
    const before = ours().length
    const again = await fetchWith(
      configLayer(path.join(dir, 'expired'), ca, host, {user: 'u', password: 'p'}),
      path.join(dir, 'expired'),
      ref,
      t,
    )
    assertPulled(path.join(dir, 'expired'), again, host, 'team/app')
    assert.equal(tokens.expired, 0)
    assert.deepEqual(
      ours()
        .slice(before)
        .map((r) => [r.headers.authorization, r.status]),
      [
        [basic('u', 'p'), 200],
        [basic('u', 'p'), 200],
      ],
    )

    // Without credentials: an anonymous token that grants nothing, so the registry says 401 and rkt says
    // where credentials go.
    const anon = await rejectsWith(
      fetchWith(configLayer(path.join(dir, 'anon'), ca, host), path.join(dir, 'anon'), ref, t),
      /team\/app/,
      /401/,
      /UNAUTHORIZED|denied/i,
      /dockerAuth/,
    )
    t.diagnostic(anon)
    assert.equal(ours().at(-1)!.headers.authorization, undefined, anon)
    // A token that grants too little (insufficient_scope) is not asked for again.
    assert.equal(ours().length, before + 3, anon)

    // Wrong credentials: refused by the token server.
    t.diagnostic(
      await rejectsWith(
        fetchWith(
          configLayer(path.join(dir, 'bad'), ca, host, {user: 'u', password: 'wrong'}),
          path.join(dir, 'bad'),
          ref,
          t,
        ),
        /token server/,
        /refused the configured credentials/,
        /401/,
        /EAUTH/,
      ),
    )
    assert.equal(ours().at(-1)!.status, 401)

    // The CA is needed for both the registry and the token server: without certs.d, TLS is not trusted.
    const untrusted = testGlobals(path.join(dir, 'untrusted'), ['image'])
    t.diagnostic(await rejectsWith(fetchWith(untrusted, path.join(dir, 'untrusted'), ref, t), /ETLS|not trusted/))
  })

  test('Basic auth (htpasswd): the dockerAuth credentials go to the registry', async (t) => {
    requireTools(TOOLS)
    const dir = tempDir(t, 'rkt-registry-auth-')
    const {ca, certDir, layout} = await fixture(dir)
    const htpasswd = path.join(dir, 'htpasswd')
    fs.writeFileSync(htpasswd, `${HTPASSWD.join('\n')}\n`)
    const host = await startRegistry(path.join(dir, 'registry'), t, {
      tls: {certFile: path.join(dir, 'ca', 'server.pem'), keyFile: path.join(dir, 'ca', 'server.key')},
      auth: ['htpasswd:', '  realm: test-realm', `  path: ${htpasswd}`],
    })
    const ref = `docker://${host}/app:1`
    await push(dir, certDir, layout, ref)

    const rec = await fetchWith(configLayer(path.join(dir, 'ok'), ca, host, {user: 'u', password: 'p'}), dir, ref, t)
    assertPulled(dir, rec, host, 'app')

    t.diagnostic(
      await rejectsWith(
        fetchWith(configLayer(path.join(dir, 'anon'), ca, host), path.join(dir, 'anon'), ref, t),
        /requires authentication/,
        /EAUTH/,
        /dockerAuth/,
      ),
    )
    t.diagnostic(
      await rejectsWith(
        fetchWith(
          configLayer(path.join(dir, 'bad'), ca, host, {user: 'u', password: 'wrong'}),
          path.join(dir, 'bad'),
          ref,
          t,
        ),
        /refused the configured credentials/,
        /401/,
        /EAUTH/,
      ),
    )

    // The same registry over plain http (allowed by --insecure-options=http): HttpClient never sends the
    // password there, and the error says why instead of a bare 401.
    const plain = await startRegistry(path.join(dir, 'plain'), t, {
      auth: ['htpasswd:', '  realm: test-realm', `  path: ${htpasswd}`],
    })
    const insecure = configLayer(path.join(dir, 'plain-cfg'), ca, plain, {user: 'u', password: 'p'})
    t.diagnostic(
      await rejectsWith(
        fetchWith({...insecure, insecure: new Set(['image', 'http'] as const)}, dir, `docker://${plain}/app:1`, t),
        /asks for a password over plain http/,
        /EAUTH/,
      ),
    )
  })
})
