import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {hasCode} from '../errors.js'
import {ImageStore} from '../store/image-store.js'
import {Remotes} from '../store/remotes.js'
import {Gpg} from '../trust/gpg-fixture.js'
import {Keystore} from '../trust/keystore.js'
import {HttpClient} from '../http/client.js'
import {fetchRemoteAci, signatureUrlOf, type PullPolicy} from './remote.js'
import {fileRoute, startTestServer, type TestServer} from '../http/tls-fixture.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-remote-'))
let server: TestServer
let aci: Buffer
let gpg: Gpg

async function makeAci(name: string, content: string): Promise<Buffer> {
  const layout = fs.mkdtempSync(path.join(root, 'layout-'))
  const manifest = Buffer.from(
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name,
      labels: [
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
    }),
  )
  fs.mkdirSync(path.join(layout, 'rootfs', 'etc'), {recursive: true})
  fs.writeFileSync(path.join(layout, 'rootfs', 'etc', 'data'), content)
  fs.writeFileSync(path.join(layout, 'manifest'), manifest)
  const out = path.join(root, `${crypto.randomUUID()}.aci`)
  await buildAci({layoutDir: layout, outFile: out, manifest, compression: 'gzip'})
  return fs.readFileSync(out)
}

function env(insecureImage: boolean): {store: ImageStore; globals: Globals} {
  const dir = fs.mkdtempSync(path.join(root, 'env-'))
  const globals: Globals = {
    dir: path.join(dir, 'data'),
    localConfig: path.join(dir, 'etc'),
    systemConfig: path.join(dir, 'lib'),
    userConfig: '',
    debug: false,
    insecure: new Set(insecureImage ? ['image', 'http'] : ['http']),
    trustKeysFromHttps: false,
  }
  return {store: ImageStore.open(globals.dir), globals}
}

const http = new HttpClient({allowHttp: true})
const fetchUrl = (e: {store: ImageStore; globals: Globals}, url: string, pullPolicy: PullPolicy = 'update') =>
  fetchRemoteAci(e.store, url, {globals: e.globals, http, pullPolicy})
const since = (n: number) => server.log.slice(n).map((r) => `${r.method} ${r.path} ${r.status}`)

describe('fetch of an image URL', () => {
  before(async () => {
    server = await startTestServer()
    // Random content: gzip cannot shrink it, so the download is long enough to break off half-way.
    aci = await makeAci('example.test/app', crypto.randomBytes(256 * 1024).toString('base64'))
    gpg = await Gpg.create()
    await gpg.genKey('Test Signer <signer@example.test>')
  })
  after(async () => {
    http.close()
    await server.close()
    await gpg.cleanup()
    fs.rmSync(root, {recursive: true, force: true})
  })

  test('the signature URL is the image URL with .asc', () => {
    assert.equal(signatureUrlOf('https://h/x/app.aci'), 'https://h/x/app.aci.asc')
    assert.equal(signatureUrlOf('https://h/x/app?v=1'), 'https://h/x/app.aci.asc?v=1')
  })

  test('update: a second fetch asks with the ETag and a 304 downloads nothing; new asks nothing', async () => {
    server.routes.set('/a.aci', fileRoute(aci))
    const e = env(true)
    const n = server.log.length
    const first = await fetchUrl(e, `${server.origin}/a.aci`)
    const again = await fetchUrl(e, `${server.origin}/a.aci`)
    assert.equal(again.id, first.id)
    assert.deepEqual(since(n), ['GET /a.aci 200', 'GET /a.aci 304'])
    assert.ok(server.log.at(-1)!.headers['if-none-match'])
    await fetchUrl(e, `${server.origin}/a.aci`, 'new')
    assert.equal(server.log.length, n + 2, 'pull policy new uses the stored image without asking')
    assert.deepEqual(fs.readdirSync(e.store.layout.downloadDir), [], 'no download left behind')
  })

  test('Cache-Control max-age: while fresh, update does not ask the server at all', async () => {
    server.routes.set('/fresh.aci', fileRoute(aci, {maxAge: 3600}))
    const e = env(true)
    const n = server.log.length
    await fetchUrl(e, `${server.origin}/fresh.aci`)
    await fetchUrl(e, `${server.origin}/fresh.aci`)
    assert.deepEqual(since(n), ['GET /fresh.aci 200'])
    const rec = new Remotes(e.store.layout).get(`${server.origin}/fresh.aci`)!
    assert.equal(rec.maxAge, 3600)
    assert.ok(Remotes.fresh(rec))
  })

  test('never: only the store; nothing there is an error', async () => {
    const e = env(true)
    await assert.rejects(fetchUrl(e, `${server.origin}/a.aci`, 'never'), (err) => hasCode(err, 'ENOIMAGE'))
  })

  test('a broken-off download resumes with Range + If-Range; a changed ETag restarts it', async () => {
    let breakNext = true
    const whole = fileRoute(aci, {etag: '"v1"'})
    server.routes.set('/r.aci', (req, res) => {
      if (!breakNext) return whole(req, res)
      breakNext = false
      res.writeHead(200, {etag: '"v1"', 'content-length': aci.length})
      res.write(aci.subarray(0, 100_000), () => res.socket?.destroy())
    })
    const e = env(true)
    const n = server.log.length
    await assert.rejects(fetchUrl(e, `${server.origin}/r.aci`), /broke off|ended after/)
    assert.deepEqual(e.store.list(), [])
    const rec = await fetchUrl(e, `${server.origin}/r.aci`)
    assert.equal(rec.name, 'example.test/app')
    const resumed = server.log.at(-1)!
    assert.match(String(resumed.headers.range), /^bytes=\d+-$/)
    assert.equal(resumed.headers['if-range'], '"v1"')
    assert.deepEqual(since(n), ['GET /r.aci 200', 'GET /r.aci 206'])

    // Same again, but the image changed in between: the server ignores If-Range and sends it whole.
    breakNext = true
    const e2 = env(true)
    await assert.rejects(fetchUrl(e2, `${server.origin}/r.aci`))
    const changed = await makeAci('example.test/app', 'changed')
    server.routes.set('/r.aci', fileRoute(changed, {etag: '"v2"'}))
    const rec2 = await fetchUrl(e2, `${server.origin}/r.aci`)
    assert.equal(server.log.at(-1)!.status, 200)
    assert.notEqual(rec2.id, rec.id)
  })

  test('signed images: the .asc is fetched and checked; without one, nothing is stored', async () => {
    const file = await gpg.writeFile('s.aci', aci)
    server.routes.set('/s.aci', fileRoute(aci))
    server.routes.set('/s.aci.asc', fileRoute(Buffer.from(await gpg.detachSign(file, ['signer@example.test']))))
    server.routes.set('/unsigned.aci', fileRoute(aci))
    const e = env(false)
    const ks = new Keystore({systemDir: e.globals.systemConfig, localDir: e.globals.localConfig})
    await ks.addKey({prefix: 'example.test/app', armoredKey: await gpg.exportKey('signer@example.test')})
    const rec = await fetchUrl(e, `${server.origin}/s.aci`)
    assert.equal(rec.name, 'example.test/app')
    await assert.rejects(fetchUrl(env(false), `${server.origin}/unsigned.aci`), (err) => hasCode(err, 'ENOSIG'))
  })
})
