// `rkt metadata-service` end to end: the real CLI on a free port and a private registration socket, a pod
// registered through the socket with the SDK's client, and an app's view of it through curl, as an app in
// a pod would fetch it from AC_METADATA_URL.
import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {MDS_SOCKET, metadataUrl, registerPod, unregisterPod} from '@rkt/core/stage1'

import {requireTool, RKT} from '../util/harness.js'
import {BASE, PodSandbox, sh} from '../util/pods.js'

const UUID = '2f1f3c0e-7b9a-4d52-9a0e-5a4b3c2d1e0f'
const IMAGE_ID = `sha512-${'0123456789abcdef'.repeat(8)}`
const POD_MANIFEST = JSON.stringify(
  {
    acVersion: '0.8.11',
    acKind: 'PodManifest',
    apps: [
      {
        name: 'web',
        image: {name: 'example.com/web', id: IMAGE_ID, labels: [{name: 'version', value: '1'}]},
        annotations: [{name: 'role', value: 'frontend'}],
      },
    ],
    volumes: [],
    isolators: [],
    annotations: [
      {name: 'z-last-first', value: 'x'},
      {name: 'example.com/owner', value: 'team ünïcode'},
    ],
    ports: [],
  },
  null,
  '\t',
)
const IMAGE_MANIFEST = JSON.stringify({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/web',
  labels: [{name: 'version', value: '1'}],
  annotations: [
    {name: 'role', value: 'image default'},
    {name: 'authors', value: 'me'},
  ],
})

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

interface Fetched {
  status: number
  type: string
  body: string
}

/** curl as an app would call it: status, Content-Type and the exact body bytes. */
function curl(url: string, form?: Record<string, string>): Fetched {
  const args = ['-sS', '-o', '-', '-w', '\n%{http_code} %{content_type}', '-H', 'Metadata-Flavor: AppContainer']
  for (const [k, v] of Object.entries(form ?? {})) args.push('--data-urlencode', `${k}=${v}`)
  const r = spawnSync('curl', [...args, url], {encoding: 'utf8', timeout: 20_000})
  assert.equal(r.status, 0, r.stderr)
  const cut = r.stdout.lastIndexOf('\n')
  const [status, ...type] = r.stdout.slice(cut + 1).split(' ')
  return {status: Number(status), type: type.join(' '), body: r.stdout.slice(0, cut)}
}

/** A running `rkt metadata-service`: its process and what it printed so far. */
interface Mds {
  readonly proc: ChildProcess
  readonly stderr: () => string
}

/** Starts `rkt --debug metadata-service ARGS…` and waits until it listens. */
async function startMds(args: readonly string[]): Promise<Mds> {
  const proc = spawn(RKT, ['--debug', 'metadata-service', ...args], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  proc.stderr.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    proc.stderr.on('data', (d: string) => {
      stderr += d
      if (stderr.includes('metadata service listening')) resolve()
    })
    proc.once('exit', (code) => reject(new Error(`rkt metadata-service exited ${code}: ${stderr}`)))
  })
  return {proc, stderr: () => stderr}
}

async function stopMds(m: Mds): Promise<number | null> {
  if (m.proc.exitCode !== null) return m.proc.exitCode
  m.proc.kill('SIGTERM')
  const [code] = (await once(m.proc, 'exit')) as [number | null]
  return code
}

let tmp: string
let socketPath: string
let port: number
let mds: Mds

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-mds-e2e-'))
  socketPath = path.join(tmp, 'run', 'metadata-svc.sock')
  port = await freePort()
  mds = await startMds([`--listen-port=${port}`, `--socket-path=${socketPath}`])
})
after(async () => {
  await stopMds(mds)
  fs.rmSync(tmp, {recursive: true, force: true})
})

describe('rkt metadata-service', () => {
  test('a registered pod reads its metadata; signatures verify, forgeries do not', async (t) => {
    if (!(await requireTool(t, 'curl'))) return
    assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600)
    const token = await registerPod({uuid: UUID, manifest: POD_MANIFEST, apps: {web: IMAGE_MANIFEST}, socketPath})
    const url = `${metadataUrl('127.0.0.1', token, port)}/acMetadata/v1`

    assert.deepEqual(curl(`${url}/pod/uuid`), {status: 200, type: 'text/plain; charset=us-ascii', body: UUID})
    assert.deepEqual(curl(`${url}/pod/manifest`), {status: 200, type: 'application/json', body: POD_MANIFEST})
    assert.deepEqual(curl(`${url}/pod/annotations`), {
      status: 200,
      type: 'application/json',
      body: '[{"name":"z-last-first","value":"x"},{"name":"example.com/owner","value":"team ünïcode"}]',
    })
    assert.equal(curl(`${url}/pod/annotations/example.com/owner`).body, 'team ünïcode')
    assert.deepEqual(curl(`${url}/apps/web/image/manifest`), {
      status: 200,
      type: 'application/json',
      body: IMAGE_MANIFEST,
    })
    assert.deepEqual(curl(`${url}/apps/web/image/id`), {
      status: 200,
      type: 'text/plain; charset=us-ascii',
      body: IMAGE_ID,
    })
    assert.deepEqual(JSON.parse(curl(`${url}/apps/web/annotations`).body), [
      {name: 'role', value: 'frontend'},
      {name: 'authors', value: 'me'},
    ])

    const content = 'a message & = + with form characters'
    const signed = curl(`${url}/pod/hmac/sign`, {content})
    assert.equal(signed.status, 200)
    assert.equal(signed.type, 'text/plain; charset=us-ascii')
    assert.equal(Buffer.from(signed.body, 'base64').length, 64)
    const verify = (f: Record<string, string>): Fetched => curl(`${url}/pod/hmac/verify`, f)
    assert.deepEqual(verify({content, uuid: UUID, signature: signed.body}), {
      status: 200,
      type: 'text/plain; charset=us-ascii',
      body: '',
    })
    const forged = Buffer.from(signed.body, 'base64')
    forged[0]! ^= 1
    assert.equal(verify({content, uuid: UUID, signature: forged.toString('base64')}).status, 403)
    assert.equal(verify({content: `${content}.`, uuid: UUID, signature: signed.body}).status, 403)

    const unknown = metadataUrl('127.0.0.1', 'a'.repeat(64), port)
    assert.equal(curl(`${unknown}/acMetadata/v1/pod/uuid`).status, 401)
    assert.equal(curl(`${url}/apps/nope/image/id`).status, 404)

    await unregisterPod({uuid: UUID, socketPath})
    assert.equal(curl(`${url}/pod/uuid`).status, 401)
    assert.ok(mds.stderr().includes('GET /<token>/acMetadata/v1/pod/uuid 200'), mds.stderr())
    assert.ok(!mds.stderr().includes(token), 'a token reached the log')
  })

  test('a second service on the same socket is refused; the first is untouched', () => {
    const r = spawnSync(RKT, ['metadata-service', '--listen-port=0', `--socket-path=${socketPath}`], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(r.status, 254)
    assert.match(r.stderr, /a metadata service is already listening/)
    assert.ok(fs.existsSync(socketPath))
  })

  test('a bad port is a usage error', () => {
    const r = spawnSync(RKT, ['metadata-service', '--listen-port=http', `--socket-path=${tmp}/x.sock`], {
      encoding: 'utf8',
    })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /invalid --listen-port/)
  })

  test('SIGTERM stops it and removes the socket', async () => {
    assert.equal(await stopMds(mds), 0)
    assert.equal(fs.existsSync(socketPath), false)
  })
})

describe('rkt run --mds-register', () => {
  // fly shares the host's network: the service is on loopback. An nspawn or kvm pod on `default` reaches the
  // host at its network's gateway.
  for (const engine of [
    {stage1: 'fly', net: '--net=host', host: /^127\.0\.0\.1$/},
    {stage1: 'nspawn', net: '--net=default', host: /^172\.16\.28\.1$/},
    // a kvm pod's guest has the pod's address on its NIC, so the same gateway (stage1-kvm/README.md)
    {stage1: 'kvm', net: '--net=default', host: /^172\.16\.28\.1$/},
  ] as const)
    test(`${engine.stage1} ${engine.net}: an app reads its pod from AC_METADATA_URL; its signature verifies, a forged one does not`, async (t) => {
      // stage0 registers on rkt's socket and the stage1 points apps at rkt's port: this test needs both.
      const live = await new Promise<boolean>((resolve) => {
        const c = net.connect(MDS_SOCKET)
        c.once('connect', () => (c.destroy(), resolve(true)))
        c.once('error', () => resolve(false))
      })
      assert.equal(live, false, `a metadata service already runs on ${MDS_SOCKET}: stop it to run this test`)
      const service = await startMds([])
      t.after(() => stopMds(service))
      const ps = PodSandbox.create(t, {stage1: engine.stage1})
      const img = await ps.image({...BASE, name: 'example.com/mds-app'})
      const url = '"$AC_METADATA_URL/acMetadata/v1'
      const script = [
        `get() { wget -q -O - --header 'Metadata-Flavor: AppContainer' ${url}/$1"; }`,
        'post() { wget -q -O - --header "Metadata-Flavor: AppContainer" --post-data "$2" ' + url + '/$1"; }',
        'enc() { sed "s/+/%2B/g; s|/|%2F|g; s/=/%3D/g"; }',
        'echo "uuid=$(get pod/uuid)"',
        'echo "annotations=$(get pod/annotations)"',
        'echo "image=$(get apps/mds/image/id)"',
        'sig=$(post pod/hmac/sign "content=hello")',
        'uuid=$(get pod/uuid)',
        'post pod/hmac/verify "content=hello&uuid=$uuid&signature=$(echo -n "$sig" | enc)" >/dev/null && echo verify=ok',
        'post pod/hmac/verify "content=hellO&uuid=$uuid&signature=$(echo -n "$sig" | enc)" >/dev/null || echo forged=rejected',
        'echo "url=$AC_METADATA_URL"',
      ].join('\n')
      const r = await ps.rkt([
        '--debug',
        '--insecure-options=image',
        'run',
        '--mds-register',
        engine.net,
        img.id,
        '--name=mds',
        ...sh(script),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      const out = Object.fromEntries(
        r.stdout
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      )
      const pods = fs
        .readdirSync(path.join(ps.data, 'pods', 'run'))
        .concat(
          fs.existsSync(path.join(ps.data, 'pods', 'exited-garbage'))
            ? fs.readdirSync(path.join(ps.data, 'pods', 'exited-garbage'))
            : [],
        )
      assert.ok(pods.includes(out['uuid']!), `${out['uuid']} not among ${pods.join(', ')}: ${r.stdout}`)
      assert.equal(out['image'], img.id)
      assert.match(out['annotations']!, /^\[.*\]$/)
      assert.equal(out['verify'], 'ok', r.stdout)
      assert.equal(out['forged'], 'rejected', r.stdout)
      const [, host] = /^http:\/\/([0-9.]+):18112\/[0-9a-f]{64}$/.exec(out['url']!) ?? []
      assert.match(host ?? out['url']!, engine.host)
      // The token is a secret: stage0's debug output never shows it.
      const token = out['url']!.split('/').at(-1)!
      assert.ok(!r.stderr.includes(token))
      // gc unregisters the pod: its token stops working.
      assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
      // (Asked on loopback: the pod's network, and with it the gateway address, went with gc.)
      const afterGc = out['url']!.replace(/^http:\/\/[0-9.]+:/, 'http://127.0.0.1:')
      assert.equal(curl(`${afterGc}/acMetadata/v1/pod/uuid`).status, 401)
    })
})
