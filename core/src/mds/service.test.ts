import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, mock, test} from 'node:test'

import {PodPaths} from '../contract/paths.js'
import {
  MDS_REGISTERED_FILE,
  registerApp,
  registerPod,
  registerPodDir,
  unregisterPod,
  unregisterPodDir,
} from './client.js'
import {CONTENT_TYPE, MetadataService, redactedPath, serve} from './service.js'
import type {RunningService} from './service.js'

const UUID = '6733c4f9-0a5c-4a77-8d5a-5e4a1a3ea1b9'
const OTHER = 'e8f3f7d2-1d1b-4b6f-9a57-3c1f7f1b2c3d'
const IMAGE_ID = `sha512-${'ab'.repeat(64)}`
// Annotations with a non-ASCII value, in an order a re-serialisation could not guess.
const POD_MANIFEST = `{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{"name":"web","image":{"name":"example.com/web","id":"${IMAGE_ID}","labels":[]},"annotations":[{"name":"app-note","value":"pod side"},{"name":"shared","value":"from-pod"}]}],"volumes":[],"isolators":[],"annotations":[{"name":"zeta","value":"z"},{"name":"example.com/alpha","value":"é"}],"ports":[]}\n`
const IMAGE_MANIFEST = `{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/web","annotations":[{"name":"shared","value":"from-image"},{"name":"img","value":"1"}]}`

let tmp: string
let svc: RunningService
let logLines: string[]
let token: string
let base: string

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-mds-test-'))
  logLines = []
  svc = await serve({port: 0, socketPath: path.join(tmp, 'run', 'mds.sock'), log: (l) => logLines.push(l)})
  token = await registerPod({
    uuid: UUID,
    manifest: POD_MANIFEST,
    apps: {web: IMAGE_MANIFEST},
    socketPath: path.join(tmp, 'run', 'mds.sock'),
  })
  base = `http://127.0.0.1:${svc.port}/${token}/acMetadata/v1`
})
after(async () => {
  await svc.close()
  fs.rmSync(tmp, {recursive: true, force: true})
})

async function get(url: string, init?: RequestInit): Promise<{status: number; type: string | null; body: string}> {
  const r = await fetch(url, {headers: {'Metadata-Flavor': 'AppContainer'}, ...init})
  return {status: r.status, type: r.headers.get('content-type'), body: await r.text()}
}

function post(url: string, form: Record<string, string>): ReturnType<typeof get> {
  return get(url, {method: 'POST', body: new URLSearchParams(form)})
}

describe('public API', () => {
  test('the token is 256 bits of hex', () => assert.match(token, /^[0-9a-f]{64}$/))

  test('pod endpoints: exact content types, bodies exactly as registered, no trailing newline', async () => {
    assert.deepEqual(await get(`${base}/pod/uuid`), {status: 200, type: CONTENT_TYPE.text, body: UUID})
    assert.deepEqual(await get(`${base}/pod/manifest`), {
      status: 200,
      type: 'application/json',
      body: POD_MANIFEST.trimEnd(),
    })
    const annotations = '[{"name":"zeta","value":"z"},{"name":"example.com/alpha","value":"é"}]'
    assert.deepEqual(await get(`${base}/pod/annotations`), {status: 200, type: 'application/json', body: annotations})
    assert.deepEqual(await get(`${base}/pod/annotations/`), {status: 200, type: 'application/json', body: annotations})
    assert.deepEqual(await get(`${base}/pod/annotations/example.com/alpha`), {
      status: 200,
      type: 'text/plain; charset=utf-8',
      body: 'é',
    })
    assert.equal((await get(`${base}/pod/annotations/nope`)).status, 404)
  })

  test('app endpoints: image manifest, image id, image annotations with the pod app’s merged over them', async () => {
    assert.deepEqual(await get(`${base}/apps/web/image/manifest`), {
      status: 200,
      type: 'application/json',
      body: IMAGE_MANIFEST,
    })
    assert.deepEqual(await get(`${base}/apps/web/image/id`), {status: 200, type: CONTENT_TYPE.text, body: IMAGE_ID})
    const merged = await get(`${base}/apps/web/annotations`)
    assert.equal(merged.type, 'application/json')
    assert.deepEqual(JSON.parse(merged.body), [
      {name: 'shared', value: 'from-pod'},
      {name: 'img', value: '1'},
      {name: 'app-note', value: 'pod side'},
    ])
    assert.equal((await get(`${base}/apps/web/annotations/shared`)).body, 'from-pod')
    assert.equal((await get(`${base}/apps/nope/image/id`)).status, 404)
  })

  test('an empty annotation list stays [] and an absent one is null, as in the manifest', async () => {
    const s = new MetadataService()
    const empty = s.registerPod(OTHER, '{"acVersion":"0.8.11","acKind":"PodManifest","apps":[],"annotations":[]}')
    const a = await s.publicRequest('GET', `/${empty}/acMetadata/v1/pod/annotations`, () => Promise.resolve(''))
    assert.equal(a.body, '[]')
    const absent = s.registerPod(UUID, '{"acVersion":"0.8.11","acKind":"PodManifest","apps":[]}')
    const b = await s.publicRequest('GET', `/${absent}/acMetadata/v1/pod/annotations`, () => Promise.resolve(''))
    assert.equal(b.body, 'null')
  })

  test('unknown token 401, unknown path 404, wrong method 405', async () => {
    const forged = 'f'.repeat(64)
    assert.equal((await get(`http://127.0.0.1:${svc.port}/${forged}/acMetadata/v1/pod/uuid`)).status, 401)
    assert.equal((await get(`http://127.0.0.1:${svc.port}/${UUID}/acMetadata/v1/pod/uuid`)).status, 401)
    assert.equal((await get(`http://127.0.0.1:${svc.port}/acMetadata/v1/pod/uuid`)).status, 404)
    assert.equal((await get(`${base}/pod/nothing`)).status, 404)
    assert.equal((await get(`${base}/pod/annotations/%E0%A4%A`)).status, 404) // malformed escape: not a 500
    const r = await fetch(`${base}/pod/uuid`, {method: 'POST'})
    assert.equal(r.status, 405)
    assert.equal(r.headers.get('allow'), 'GET, HEAD')
    assert.equal((await get(`${base}/pod/hmac/sign`)).status, 405)
  })

  test('the request log never shows a token', () => {
    assert.ok(logLines.length > 0)
    for (const l of logLines) assert.ok(!l.includes(token) && !l.includes('f'.repeat(64)), l)
    assert.equal(redactedPath(`/${token}/acMetadata/v1/pod/uuid?x=1`), '/<token>/acMetadata/v1/pod/uuid')
  })
})

describe('HMAC sign and verify', () => {
  test('a genuine signature verifies; modified content, signature or signer are refused', async () => {
    const signed = await post(`${base}/pod/hmac/sign`, {content: 'hello world'})
    assert.equal(signed.status, 200)
    assert.equal(signed.type, CONTENT_TYPE.text)
    assert.match(signed.body, /^[A-Za-z0-9+/]{86}==$/) // 64 bytes, no newline
    const verify = (f: Record<string, string>): ReturnType<typeof get> => post(`${base}/pod/hmac/verify`, f)
    const ok = await verify({content: 'hello world', uuid: UUID, signature: signed.body})
    assert.deepEqual(ok, {status: 200, type: CONTENT_TYPE.text, body: ''})
    // rkt's clients name the signer `uid`.
    assert.equal((await verify({content: 'hello world', uid: UUID, signature: signed.body})).status, 200)
    assert.equal((await verify({content: 'hello world!', uuid: UUID, signature: signed.body})).status, 403)
    assert.equal((await verify({content: 'hello world', uuid: OTHER, signature: signed.body})).status, 403)
    const bytes = Buffer.from(signed.body, 'base64')
    bytes[10]! ^= 1
    assert.equal((await verify({content: 'hello world', uuid: UUID, signature: bytes.toString('base64')})).status, 403)
    const short = bytes.subarray(0, 32).toString('base64')
    assert.equal((await verify({content: 'hello world', uuid: UUID, signature: short})).status, 403)
    assert.equal((await verify({content: 'hello world', uuid: UUID, signature: 'not base64!'})).status, 400)
    assert.equal((await verify({content: 'hello world', signature: signed.body})).status, 400)
    assert.equal((await post(`${base}/pod/hmac/sign`, {})).status, 400)
  })

  test('the signature is HMAC-SHA512 over the UUID bytes then the content, with a key per service', () => {
    const a = new MetadataService()
    const b = new MetadataService()
    assert.notEqual(a.sign(UUID, 'x'), b.sign(UUID, 'x'))
    assert.equal(a.verify(UUID, 'x', b.sign(UUID, 'x')), false)
    assert.equal(a.verify(UUID, 'x', a.sign(UUID, 'x')), true)
  })

  test('equal-length signatures are compared with crypto.timingSafeEqual', () => {
    const s = new MetadataService()
    const sig = s.sign(UUID, 'c')
    const spy = mock.method(crypto, 'timingSafeEqual')
    try {
      assert.equal(s.verify(UUID, 'c', sig), true)
      const forged = Buffer.from(sig, 'base64')
      forged[63]! ^= 0x80
      assert.equal(s.verify(UUID, 'c', forged.toString('base64')), false)
      assert.equal(spy.mock.callCount(), 2)
      for (const call of spy.mock.calls) assert.equal((call.arguments[0] as Buffer).length, 64)
    } finally {
      spy.mock.restore()
    }
  })
})

describe('registration', () => {
  test('the socket is 0600 and a directory it creates 0700', () => {
    const sock = path.join(tmp, 'run', 'mds.sock')
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600)
    assert.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700)
  })

  test('a non-root client cannot connect, even through a directory it may enter', async () => {
    const open = fs.mkdtempSync(path.join(tmp, 'open-'))
    fs.chmodSync(tmp, 0o755)
    fs.chmodSync(open, 0o755)
    const sock = path.join(open, 'mds.sock')
    const other = await serve({port: 0, socketPath: sock})
    try {
      const script = `require('net').connect(${JSON.stringify(sock)}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(3)})`
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script],
        {encoding: 'utf8', timeout: 20_000},
      )
      assert.equal(r.error, undefined)
      assert.equal(r.stdout.trim(), 'EACCES', r.stderr)
      assert.equal(r.status, 3)
    } finally {
      await other.close()
    }
    assert.equal(fs.existsSync(sock), false)
  })

  test('a live service is never replaced; a stale socket is', async () => {
    const sock = path.join(tmp, 'run', 'mds.sock')
    await assert.rejects(serve({port: 0, socketPath: sock}), /already listening/)
    const staleDir = fs.mkdtempSync(path.join(tmp, 'stale-'))
    const stale = path.join(staleDir, 's.sock')
    const {execFileSync} = await import('node:child_process')
    // A socket file nobody listens on, as a killed service leaves behind.
    execFileSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)},()=>process.exit(0))`,
    ])
    assert.ok(fs.statSync(stale).isSocket())
    const s = await serve({port: 0, socketPath: stale})
    await s.close()
  })

  test('protocol errors: duplicate pod 409, unknown pod or app 404, bad manifest 400; unregister revokes the token', async () => {
    const socketPath = path.join(tmp, 'run', 'mds.sock')
    await assert.rejects(registerPod({uuid: UUID, manifest: POD_MANIFEST, socketPath}), /HTTP 409/)
    await assert.rejects(registerApp({uuid: OTHER, app: 'web', imageManifest: IMAGE_MANIFEST, socketPath}), /HTTP 404/)
    await assert.rejects(registerPod({uuid: OTHER, manifest: '{"acKind":"ImageManifest"}', socketPath}), /HTTP 400/)
    await assert.rejects(registerPod({uuid: 'not-a-uuid', manifest: POD_MANIFEST, socketPath}), /HTTP 400/)
    // An app registration that fails takes the pod's registration with it.
    await assert.rejects(
      registerPod({uuid: OTHER, manifest: POD_MANIFEST, apps: {db: IMAGE_MANIFEST}, socketPath}),
      /HTTP 404/,
    )
    const t = await registerPod({uuid: OTHER, manifest: POD_MANIFEST, socketPath})
    const url = `http://127.0.0.1:${svc.port}/${t}/acMetadata/v1/pod/uuid`
    assert.equal((await get(url)).body, OTHER)
    await unregisterPod({uuid: OTHER, socketPath})
    assert.equal((await get(url)).status, 401)
    await unregisterPod({uuid: OTHER, socketPath}) // already gone: not an error
    await assert.rejects(
      registerPod({uuid: UUID, manifest: POD_MANIFEST, socketPath: path.join(tmp, 'none.sock')}),
      (err: {hint?: string}) => /start it with `rkt metadata-service`/.test(err.hint ?? ''),
    )
  })

  test('stage0 registers a laid-out pod from its directory and gc unregisters it by the marker', async () => {
    const socketPath = path.join(tmp, 'run', 'mds.sock')
    const paths = new PodPaths(fs.mkdtempSync(path.join(tmp, 'pod-')))
    fs.writeFileSync(paths.manifest, POD_MANIFEST)
    fs.mkdirSync(path.dirname(paths.appInfoManifest('web')), {recursive: true})
    fs.writeFileSync(paths.appInfoManifest('web'), IMAGE_MANIFEST)
    const t = await registerPodDir(OTHER, paths, socketPath)
    assert.ok(fs.existsSync(path.join(paths.root, MDS_REGISTERED_FILE)))
    const url = `http://127.0.0.1:${svc.port}/${t}/acMetadata/v1`
    assert.equal((await get(`${url}/apps/web/image/manifest`)).body, IMAGE_MANIFEST)
    await unregisterPodDir(OTHER, paths, socketPath)
    assert.equal(fs.existsSync(path.join(paths.root, MDS_REGISTERED_FILE)), false)
    assert.equal((await get(`${url}/pod/uuid`)).status, 401)
    await unregisterPodDir(OTHER, paths, path.join(tmp, 'none.sock')) // no marker: nothing to do, no service needed
  })
})
