// Remote images as users fetch them: an HTTPS server (a test CA, trusted through the local config's
// certs.d) serving an appc discovery page, a signed image and its key, on port 443 of names that resolve to
// it through a private /etc/hosts (each rkt runs in its own mount namespace with the file bound over
// /etc/hosts; nothing in rkt knows). Then what must fail: plain http without the option, a redirect to
// http; and what must not leak: credentials go only to their domain.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {after, before, describe, test, type TestContext} from 'node:test'

import {fileRoute, makeTestCa, startTestServer, type TestCa, type TestServer} from '@rkt/core/http/tls-fixture'
import {Gpg} from '@rkt/core/trust/gpg-fixture'

import {makeLayout, requireTool, RKT, ROOT, type Run, Sandbox} from '../util/harness.js'
import {rktWithHosts} from '../util/hosts.js'
import {PodSandbox} from '../util/pods.js'

const HOSTS = ['example.test', 'oauth.test', 'other.test']
const NAME = 'example.test/app'
const ACI_PATH = `/images/${NAME}-1.0-linux-amd64.aci`

let ca: TestCa
let https: TestServer
let plain: TestServer
let gpg: Gpg
let aci: Buffer
let scratch: string

/** rkt in its own mount namespace, where /etc/hosts maps the test names to 127.0.0.1. */
const rktResolving = (s: Sandbox, args: readonly string[]): Promise<Run> => rktWithHosts(s, HOSTS, args)

/** A sandbox whose local config trusts the test CA (certs.d), as an operator with a private CA would. */
function sandbox(t: TestContext): Sandbox {
  const s = Sandbox.create(t)
  fs.mkdirSync(path.join(s.localConfig, 'certs.d'), {recursive: true})
  fs.copyFileSync(ca.caFile, path.join(s.localConfig, 'certs.d', 'test-ca.pem'))
  return s
}

const requests = (srv: TestServer, from: number, p: string) =>
  srv.log.slice(from).filter((r) => r.path.split('?')[0] === p)

describe('remote images over https, by URL and by appc discovery', () => {
  before(async () => {
    scratch = fs.mkdtempSync('/tmp/rkt-test-remote-')
    ca = makeTestCa(path.join(scratch, 'ca'), HOSTS)
    https = await startTestServer({tls: ca, port: 443})
    plain = await startTestServer()
    gpg = await Gpg.create()
    await gpg.genKey('Example Test <signer@example.test>')
    const layout = makeLayout(path.join(scratch, 'layout'), {
      name: NAME,
      version: '1.0',
      exec: ['/bin/sh', '-c', 'cat /etc/greeting'],
      files: {'/etc/greeting': 'hello from a discovered image\n'},
    })
    const file = path.join(scratch, 'app.aci')
    const b = await execa(path.join(path.dirname(RKT), 'actool'), ['build', layout, file], {reject: false})
    assert.equal(b.exitCode, 0, String(b.stderr))
    aci = fs.readFileSync(file)
    const asc = Buffer.from(await gpg.detachSign(file, ['signer@example.test']))
    const page = [
      '<html><head>',
      `<meta name="ac-discovery" content="example.test/app https://example.test/images/{name}-{version}-{os}-{arch}.{ext}">`,
      `<meta name="ac-discovery-pubkeys" content="example.test/app https://example.test/pubkeys.gpg">`,
      '</head></html>',
    ].join('\n')
    https.routes.set('/app', (_q, r) => r.writeHead(200, {'content-type': 'text/html'}).end(page))
    https.routes.set(ACI_PATH, fileRoute(aci))
    https.routes.set(`${ACI_PATH}.asc`, fileRoute(asc))
    https.routes.set('/pubkeys.gpg', fileRoute(Buffer.from(await gpg.exportKey('signer@example.test'))))
    plain.routes.set('/app.aci', fileRoute(aci))

    // A layered image whose dependency is found by discovery too: a page at the host root covers every name.
    const serveImage = async (name: string, spec: Parameters<typeof makeLayout>[1]): Promise<void> => {
      const dir = makeLayout(path.join(scratch, name.replaceAll('/', '_')), spec)
      const out = path.join(scratch, `${name.replaceAll('/', '_')}.aci`)
      const r = await execa(path.join(path.dirname(RKT), 'actool'), ['build', dir, out], {reject: false})
      assert.equal(r.exitCode, 0, String(r.stderr))
      const p = `/images/${name}-1.0-linux-amd64.aci`
      https.routes.set(p, fileRoute(fs.readFileSync(out)))
      https.routes.set(`${p}.asc`, fileRoute(Buffer.from(await gpg.detachSign(out, ['signer@example.test']))))
    }
    await serveImage('example.test/base', {
      name: 'example.test/base',
      version: '1.0',
      files: {'/etc/base': 'from the base image\n'},
    })
    await serveImage('example.test/layered', {
      name: 'example.test/layered',
      version: '1.0',
      noBusybox: true,
      exec: ['/bin/sh', '-c', 'cat /etc/base /etc/top'],
      files: {'/etc/top': 'from the top image\n'},
      dependencies: [{imageName: 'example.test/base', labels: [{name: 'version', value: '1.0'}]}],
    })
    const root = `<meta name="ac-discovery" content="example.test https://example.test/images/{name}-{version}-{os}-{arch}.{ext}">`
    https.routes.set('/', (_q, r) => r.writeHead(200, {'content-type': 'text/html'}).end(root))
  })
  after(async () => {
    await https?.close()
    await plain?.close()
    await gpg?.cleanup()
    fs.rmSync(scratch, {recursive: true, force: true})
  })

  test('trust --prefix by discovery, fetch by name, run it; a second fetch is a 304 that downloads nothing', async (t) => {
    await requireTool(t, 'unshare')
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    fs.mkdirSync(path.join(ps.s.localConfig, 'certs.d'), {recursive: true})
    fs.copyFileSync(ca.caFile, path.join(ps.s.localConfig, 'certs.d', 'test-ca.pem'))
    const s = ps.s

    const trust = await rktResolving(s, ['trust', '--prefix', NAME, '--skip-fingerprint-review'])
    assert.equal(trust.exitCode, 0, trust.stderr)
    assert.match(trust.stdout, /https:\/\/example\.test\/pubkeys\.gpg/, 'the key is shown with where it came from')
    assert.match(trust.stdout, /Added key for prefix "example\.test\/app"/)

    const n = https.log.length
    const fetched = await rktResolving(s, ['fetch', `${NAME}:1.0`])
    assert.equal(fetched.exitCode, 0, fetched.stderr)
    assert.match(fetched.stdout, /^sha512-[0-9a-f]{32}$/)
    assert.ok(
      !fetched.stderr.includes('\r') && !fetched.stderr.includes('\u001b'),
      'no progress bar when stderr is not a terminal',
    )
    assert.ok(requests(https, n, '/app').length >= 1, 'the discovery page was read')
    assert.deepEqual(
      requests(https, n, ACI_PATH).map((r) => r.status),
      [200],
    )
    assert.deepEqual(
      requests(https, n, `${ACI_PATH}.asc`).map((r) => r.status),
      [200],
    )

    const m = https.log.length
    const again = await rktResolving(s, ['fetch', `${NAME}:1.0`])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(again.stdout, fetched.stdout, 'the same image')
    assert.deepEqual(
      requests(https, m, ACI_PATH).map((r) => r.status),
      [304],
      'the image was asked for with its ETag and not downloaded again',
    )
    assert.ok(requests(https, m, ACI_PATH)[0]!.headers['if-none-match'])

    const run = await s.rkt(['run', `${NAME}:1.0`])
    assert.equal(run.exitCode, 0, run.stderr)
    assert.match(run.stdout, /hello from a discovered image/)
  })

  test('a dependency named in the manifest is fetched by discovery, verified, and rendered under the image', async (t) => {
    await requireTool(t, 'unshare')
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const s = ps.s
    fs.mkdirSync(path.join(s.localConfig, 'certs.d'), {recursive: true})
    fs.copyFileSync(ca.caFile, path.join(s.localConfig, 'certs.d', 'test-ca.pem'))
    const key = path.join(s.work, 'key.gpg')
    fs.writeFileSync(key, await gpg.exportKey('signer@example.test'))
    const trust = await s.rkt(['trust', '--prefix', 'example.test', '--skip-fingerprint-review', key])
    assert.equal(trust.exitCode, 0, trust.stderr)
    const n = https.log.length
    const r = await rktResolving(s, ['fetch', 'example.test/layered:1.0'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(
      https.log
        .slice(n)
        .filter((q) => q.path.endsWith('.aci'))
        .map((q) => q.path),
      ['/images/example.test/layered-1.0-linux-amd64.aci', '/images/example.test/base-1.0-linux-amd64.aci'],
    )
    assert.deepEqual((await s.images()).map((i) => i.name).sort(), [
      'example.test/base:1.0',
      'example.test/layered:1.0',
    ])
    const run = await s.rkt(['run', 'example.test/layered:1.0'])
    assert.equal(run.exitCode, 0, run.stderr)
    assert.match(run.stdout, /from the base image\n(.*\n)?.*from the top image/)
  })

  test('--stage1-url=https://…: the stage1 is downloaded, its signature checked, and the pod runs on it', async (t) => {
    await requireTool(t, 'unshare')
    const s = sandbox(t)
    const stage1 = path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-fly.aci')
    const signed = path.join(scratch, 'stage1-fly.aci')
    fs.copyFileSync(stage1, signed)
    https.routes.set('/stage1-fly.aci', fileRoute(fs.readFileSync(signed)))
    https.routes.set(
      '/stage1-fly.aci.asc',
      fileRoute(Buffer.from(await gpg.detachSign(signed, ['signer@example.test']))),
    )
    const key = path.join(s.work, 'key.gpg')
    fs.writeFileSync(key, await gpg.exportKey('signer@example.test'))
    const image = path.join(s.work, 'app.aci')
    fs.writeFileSync(image, aci)
    fs.writeFileSync(`${image}.asc`, await gpg.detachSign(image, ['signer@example.test']))
    const trustApp = await s.rkt(['trust', '--prefix', NAME, '--skip-fingerprint-review', key])
    assert.equal(trustApp.exitCode, 0, trustApp.stderr)
    const args = ['run', '--stage1-url=https://example.test/stage1-fly.aci', image]

    const untrusted = await rktResolving(s, args)
    assert.equal(untrusted.exitCode, 254, 'a stage1 is verified like any image')
    assert.match(untrusted.stderr, /stage1/)
    assert.match(untrusted.stderr, /rkt-ts\/stage1-fly/)
    const trust = await s.rkt(['trust', '--prefix', 'rkt-ts/stage1-fly', '--skip-fingerprint-review', key])
    assert.equal(trust.exitCode, 0, trust.stderr)
    const run = await rktResolving(s, args)
    assert.equal(run.exitCode, 0, run.stderr)
    assert.match(run.stdout, /hello from a discovered image/)
  })

  test('an untrusted signer is refused; --trust-keys-from-https trusts the discovered key with a warning', async (t) => {
    await requireTool(t, 'unshare')
    const s = sandbox(t)
    const refused = await rktResolving(s, ['fetch', `${NAME}:1.0`])
    assert.equal(refused.exitCode, 254)
    assert.match(refused.stderr, /rkt trust --prefix/)
    assert.deepEqual(await s.images(), [])
    const auto = await rktResolving(s, ['--trust-keys-from-https', 'fetch', `${NAME}:1.0`])
    assert.equal(auto.exitCode, 0, auto.stderr)
    assert.match(auto.stderr, /trusting key [0-9a-f]{40} from https:\/\/example\.test\/pubkeys\.gpg .* without review/)
  })

  test('plain http only with --insecure-options=http; an https→http redirect is refused', async (t) => {
    await requireTool(t, 'unshare')
    const s = sandbox(t)
    const url = `${plain.origin}/app.aci`
    const n = plain.log.length
    const no = await s.rkt(['--insecure-options=image', 'fetch', url])
    assert.equal(no.exitCode, 254)
    assert.match(no.stderr, /--insecure-options=http/)
    assert.equal(plain.log.length, n, 'not a single plain-http request was made')
    const yes = await s.rkt(['--insecure-options=image,http', 'fetch', url])
    assert.equal(yes.exitCode, 0, yes.stderr)

    https.routes.set('/redirect.aci', (_q, r) => r.writeHead(302, {location: url}).end())
    const m = plain.log.length
    const redirected = await rktResolving(s, [
      '--insecure-options=image,http',
      'fetch',
      'https://example.test/redirect.aci',
    ])
    assert.equal(redirected.exitCode, 254)
    assert.match(redirected.stderr, /leaves https/)
    assert.equal(plain.log.length, m, 'the http URL was never requested')
  })

  test('on a terminal, a download shows a progress bar with bytes, total and rate', async (t) => {
    await requireTool(t, 'script')
    const s = sandbox(t)
    const cmd = [RKT, ...s.globals, '--insecure-options=image,http', 'fetch', `${plain.origin}/app.aci`]
    // script(1) gives rkt a pseudo-terminal and copies what it writes there to our stdout.
    const r = await execa('script', ['-qec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'], {
      reject: false,
      stdin: 'ignore',
    })
    assert.equal(r.exitCode, 0, String(r.stdout))
    const out = String(r.stdout)
    assert.match(
      out,
      /Downloading http:\/\/127\.0\.0\.1:\d+\/app\.aci \[=+ *\] [\d.]+ [KM]i?B \/ [\d.]+ [KM]i?B +[\d.]+ [KMG]?i?B\/s/,
    )
    assert.match(out, /sha512-[0-9a-f]{32}/)
  })

  test('auth.d: basic and oauth credentials go only to their own domain', async (t) => {
    await requireTool(t, 'unshare')
    const s = sandbox(t)
    const auth = path.join(s.localConfig, 'auth.d')
    fs.mkdirSync(auth, {recursive: true})
    const conf = (domain: string, type: string, credentials: object) =>
      JSON.stringify({rktKind: 'auth', rktVersion: 'v1', domains: [domain], type, credentials})
    fs.writeFileSync(path.join(auth, 'basic.json'), conf('example.test', 'basic', {user: 'bob', password: 'secret'}))
    fs.writeFileSync(path.join(auth, 'oauth.json'), conf('oauth.test', 'oauth', {token: 'tok123'}))
    https.routes.set('/to-other.aci', (_q, r) => r.writeHead(302, {location: `https://other.test${ACI_PATH}`}).end())

    const config = await s.rkt(['config'])
    assert.equal(config.exitCode, 0, config.stderr)
    assert.doesNotMatch(config.stdout, /secret|tok123/, 'rkt config never prints secrets')
    assert.match(config.stdout, /oauth\.test/)

    const n = https.log.length
    for (const url of [`https://oauth.test${ACI_PATH}`, 'https://example.test/to-other.aci']) {
      const r = await rktResolving(s, ['--insecure-options=image', 'fetch', url])
      assert.equal(r.exitCode, 0, r.stderr)
    }
    const seen = https.log.slice(n).map((r) => [r.headers.host, r.path, r.headers.authorization ?? 'none'])
    assert.deepEqual(seen, [
      ['oauth.test', ACI_PATH, 'Bearer tok123'],
      ['example.test', '/to-other.aci', `Basic ${Buffer.from('bob:secret').toString('base64')}`],
      ['other.test', ACI_PATH, 'none'],
    ])
  })
})
