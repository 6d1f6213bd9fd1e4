import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import type {AuthConfig} from '../config/stage0.js'

import {formatError, hasCode} from '../errors.js'
import {HttpClient, loadCertificates} from './client.js'
import {makeTestCa, startTestServer, type TestCa, type TestServer} from './tls-fixture.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-http-'))
let ca: TestCa
let tls: TestServer
let other: TestServer
let plain: TestServer

const auth = (domain: string): Map<string, AuthConfig> =>
  new Map([[domain, {domain, type: 'basic', credentials: {user: 'u', password: 'p'}, file: '/x.json'}]])
const BASIC = `Basic ${Buffer.from('u:p').toString('base64')}`

describe('HttpClient', () => {
  before(async () => {
    ca = makeTestCa(path.join(dir, 'ca'), ['example.test'])
    tls = await startTestServer({tls: ca})
    other = await startTestServer({tls: ca})
    plain = await startTestServer()
    for (const s of [tls, other, plain]) s.routes.set('/ok', (_q, r) => r.writeHead(200).end('ok'))
  })
  after(async () => {
    await Promise.all([tls.close(), other.close(), plain.close()])
    fs.rmSync(dir, {recursive: true, force: true})
  })

  test('TLS is checked against the given CAs: a certificate from an unknown CA fails with the fix named', async () => {
    const good = new HttpClient({ca: [ca.caPem]})
    const r = await good.request(`${tls.origin}/ok`)
    assert.equal(r.status, 200)
    assert.equal(await r.text(), 'ok')
    good.close()
    const system = new HttpClient({ca: loadCertificates([])})
    await assert.rejects(
      system.request(`${tls.origin}/ok`),
      (e) => hasCode(e, 'ETLS') && /certs\.d/.test(formatError(e, false)),
    )
    system.close()
    const insecure = new HttpClient({insecureTls: true})
    assert.equal((await insecure.request(`${tls.origin}/ok`)).status, 200)
    insecure.close()
  })

  test('certs.d of a config layer adds a CA; a file there without a certificate is an error', async () => {
    const layer = path.join(dir, 'layer')
    fs.mkdirSync(path.join(layer, 'certs.d'), {recursive: true})
    fs.writeFileSync(path.join(layer, 'certs.d', 'test.pem'), ca.caPem)
    const c = new HttpClient({ca: loadCertificates([layer])})
    assert.equal((await c.request(`${tls.origin}/ok`)).status, 200)
    c.close()
    fs.writeFileSync(path.join(layer, 'certs.d', 'junk.crt'), 'not a cert')
    assert.throws(() => loadCertificates([layer]), /junk\.crt holds no PEM certificate/)
  })

  test('plain http needs allowHttp; https→http redirects are always refused', async () => {
    const strict = new HttpClient({ca: [ca.caPem]})
    await assert.rejects(strict.request(`${plain.origin}/ok`), (e) =>
      /--insecure-options=http/.test(formatError(e, false)),
    )
    tls.routes.set('/to-http', (_q, r) => r.writeHead(302, {location: `${plain.origin}/ok`}).end())
    const lax = new HttpClient({ca: [ca.caPem], allowHttp: true})
    await assert.rejects(lax.request(`${tls.origin}/to-http`), /leaves https/)
    assert.equal(plain.log.length, 0)
    assert.equal((await lax.request(`${plain.origin}/ok`)).status, 200)
    strict.close()
    lax.close()
  })

  test('auth.d credentials go to their domain over https only, never across a redirect to another host', async () => {
    const host = `127.0.0.1:${tls.port}`
    tls.routes.set('/elsewhere', (_q, r) => r.writeHead(302, {location: `${other.origin}/ok`}).end())
    const c = new HttpClient({ca: [ca.caPem], auth: auth(host), allowHttp: true})
    await (await c.request(`${tls.origin}/ok`)).text()
    assert.equal(tls.log.at(-1)!.headers.authorization, BASIC)
    await (await c.request(`${tls.origin}/elsewhere`)).text()
    assert.equal(tls.log.at(-1)!.headers.authorization, BASIC, 'the first hop is the configured host')
    assert.equal(other.log.at(-1)!.path, '/ok')
    assert.equal(other.log.at(-1)!.headers.authorization, undefined, 'not sent to the redirect target')
    // A caller's own Authorization (a registry token) follows the same rule, and never goes over http.
    const warnings: string[] = []
    const h = new HttpClient({allowHttp: true, onWarning: (m) => warnings.push(m)})
    await (await h.request(`${plain.origin}/ok`, {headers: {Authorization: 'Bearer t'}})).text()
    assert.equal(plain.log.at(-1)!.headers.authorization, undefined)
    assert.match(warnings.join('\n'), /not sending credentials .* over plain http/)
    c.close()
    h.close()
  })

  test('bounded bodies, and a refused connection names the host', async () => {
    tls.routes.set('/big', (_q, r) => r.writeHead(200).end(Buffer.alloc(4096)))
    const c = new HttpClient({ca: [ca.caPem]})
    await assert.rejects(async () => (await c.request(`${tls.origin}/big`)).text(1000), /larger than 1000 bytes/)
    const closed = await startTestServer()
    const url = `${closed.origin}/ok`
    await closed.close()
    await assert.rejects(new HttpClient({allowHttp: true}).request(url), (e) => hasCode(e, 'ENETWORK'))
    c.close()
  })
})
