// Docker and OCI images, as a user gets them: `rkt fetch docker://` from a real registry (Debian's
// docker-registry on a loopback port, plain http), converted to an ACI and run with the nspawn stage1; the
// layers downloaded once across images that share them; schema2 and OCI manifests; docker-archive tars and
// OCI layout directories; the store's image commands on converted images; hostile layers refused. Images are
// built with umoci from busybox-static and pushed with skopeo (test/src/util/registry.ts).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'

import {BUSYBOX, Sandbox} from '../util/harness.js'
import {PodSandbox, sh} from '../util/pods.js'
import {
  APP_TEXT,
  exportDockerArchive,
  exportOciLayout,
  HOSTILE,
  hostileImage,
  MOTD_TEXT,
  OTHER_TEXT,
  push,
  rawImage,
  rawLayerTar,
  requireRegistryTools,
  SEED_TEXT,
  sharedImages,
  startRegistry,
  type Registry,
} from '../util/registry.js'

/** The flags that let rkt take an unsigned image from a plain-http registry. */
const INSECURE = '--insecure-options=image,http'
const SHORT_ID = /^sha512-[0-9a-f]{32}$/

/** A registry with `app:latest` (and `other:latest` when asked) pushed; undefined when the test was skipped. */
async function registryWith(t: TestContext, opts: {other?: boolean} = {}) {
  const reg = await startRegistry(t)
  if (!reg) return undefined
  const images = sharedImages()
  const app = push(images.refs.app, 'app:latest', reg.host)
  const other = opts.other ? push(images.refs.other, 'other:latest', reg.host) : ''
  return {reg, images, app, other}
}

/** `rkt fetch` that must succeed; returns the printed (short) image ID. */
async function fetchOk(s: Sandbox, args: readonly string[]): Promise<string> {
  const r = await s.rkt(['fetch', ...args])
  assert.equal(r.exitCode, 0, `rkt fetch ${args.join(' ')}: ${r.stderr}`)
  const id = r.stdout.trim()
  assert.match(id, SHORT_ID, 'fetch prints the image ID on stdout, and nothing else')
  return id
}

/**
 * The listed image whose ID starts with `id` (converted images may bring more entries, such as one image
 * per layer, named by the converter: only the fetched one is asserted on).
 */
async function listed(s: Sandbox, id: string): Promise<{id: string; name: string; size: number}> {
  const images = await s.images()
  const found = images.filter((i) => i.id.startsWith(id))
  assert.equal(found.length, 1, `one listed image has the printed ID ${id}: ${JSON.stringify(images)}`)
  return found[0]!
}

/** The image manifest `rkt image cat-manifest` prints. */
async function catManifest(s: Sandbox, image: string): Promise<Record<string, unknown>> {
  const r = await s.rkt(['image', 'cat-manifest', image])
  assert.equal(r.exitCode, 0, r.stderr)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

/** Every path under `dir` named `name` (not following symlinks). */
function findNamed(dir: string, name: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(d, {withFileTypes: true})
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.name === name) out.push(p)
      if (e.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return out
}

/** GET of a manifest with one Accept type: the status, the Content-Type answered and the body's size. */
function getManifest(
  reg: Registry,
  repoTag: string,
  accept: string,
): Promise<{status: number; type: string; size: number}> {
  const [repo, tag] = repoTag.split(':')
  return new Promise((resolve, reject) => {
    http
      .get(`http://${reg.host}/v2/${repo}/manifests/${tag}`, {headers: {Accept: accept}}, (res) => {
        let size = 0
        res.on('data', (d: Buffer) => (size += d.length))
        res.on('end', () => resolve({status: res.statusCode ?? 0, type: String(res.headers['content-type']), size}))
      })
      .on('error', reject)
  })
}

describe('docker:// fetch from a registry', () => {
  test('fetch prints the image ID; without image or http in --insecure-options it fails with 254 and names the option', async (t) => {
    const s = Sandbox.create(t)
    const fx = await registryWith(t)
    if (!fx) return

    const noImage = await s.rkt(['--insecure-options=http', 'fetch', fx.app])
    assert.equal(noImage.exitCode, 254, noImage.stderr)
    assert.match(
      noImage.stderr,
      /--insecure-options=image/,
      'a docker image cannot be verified: the message names the fix',
    )
    assert.equal(noImage.stdout, '')

    const noHttp = await s.rkt(['--insecure-options=image', 'fetch', fx.app])
    assert.equal(noHttp.exitCode, 254, noHttp.stderr)
    assert.match(
      noHttp.stderr,
      /--insecure-options=http/,
      'a plain-http registry needs http: the message names the fix',
    )
    assert.equal(noHttp.stdout, '')
    assert.deepEqual(await s.images(), [], 'a refused fetch stores nothing')

    const id = await fetchOk(s, ['--insecure-options=http,image', fx.app])
    const image = await listed(s, id)
    assert.match(image.id, /^sha512-[0-9a-f]{64}$/)
    assert.match(image.name, /app/, 'the converted image is named after its repository')
    const all = (await s.images()).map((i) => i.id).sort()

    // The flags given after the subcommand, and a second fetch of the same image: the conversion is
    // deterministic, so the same ID and the same images.
    const again = await s.rkt(['fetch', INSECURE, fx.app])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(again.stdout.trim(), id)
    assert.deepEqual((await s.images()).map((i) => i.id).sort(), all)
  })

  test('the converted manifest carries the image config: exec, environment, working directory, user, port, volume, os/arch', async (t) => {
    const s = Sandbox.create(t)
    const fx = await registryWith(t)
    if (!fx) return
    const id = await fetchOk(s, [INSECURE, fx.app])
    const m = (await catManifest(s, id)) as {
      name: string
      labels?: {name: string; value: string}[]
      app?: {
        exec?: string[]
        environment?: {name: string; value: string}[]
        workingDirectory?: string
        user?: string
        group?: string
        ports?: {name: string; protocol: string; port: number}[]
        mountPoints?: {name: string; path: string}[]
      }
    }
    assert.match(m.name, /app/)
    const label = (n: string) => m.labels?.find((l) => l.name === n)?.value
    assert.equal(label('os'), 'linux')
    assert.equal(label('arch'), 'amd64')
    assert.deepEqual(m.app?.exec, ['/bin/cat', '/etc/app.txt'], 'Cmd (no Entrypoint) becomes exec')
    const env = Object.fromEntries((m.app?.environment ?? []).map((e) => [e.name, e.value]))
    assert.equal(env['FOO'], 'bar')
    assert.equal(env['PATH'], '/bin', 'the base image’s environment is inherited')
    assert.equal(m.app?.workingDirectory, '/srv')
    assert.equal(m.app?.user, '1000')
    assert.equal(m.app?.group, '1000')
    assert.ok(
      m.app?.ports?.some((p) => p.port === 8080 && p.protocol === 'tcp'),
      `ExposedPorts 8080/tcp becomes a port: ${JSON.stringify(m.app?.ports)}`,
    )
    assert.ok(
      m.app?.mountPoints?.some((p) => p.path === '/data'),
      `Volumes /data becomes a mount point: ${JSON.stringify(m.app?.mountPoints)}`,
    )
  })

  test('rkt run docker:// (nspawn) prints the app layer’s file; the whiteout of the upper layer is applied', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const fx = await registryWith(t)
    if (!fx) return

    const r = await ps.rkt(['run', INSECURE, fx.app])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), APP_TEXT)

    // run's pull policy is `new`: the image converted by the first run is used without asking the registry.
    await fx.reg.settle()
    const asked = fx.reg
      .accessLog()
      .split('\n')
      .filter((l) => l.includes('/v2/app/')).length
    const wh = await ps.rkt(['run', INSECURE, fx.app, ...sh('test ! -e /etc/removeme && cat /etc/motd')])
    await fx.reg.settle()
    assert.equal(
      fx.reg
        .accessLog()
        .split('\n')
        .filter((l) => l.includes('/v2/app/')).length,
      asked,
    )
    assert.equal(wh.exitCode, 0, `/etc/removeme was deleted by a whiteout in the app layer: ${wh.stderr}`)
    assert.equal(wh.stdout.trim(), MOTD_TEXT, 'the base layer’s files are there')

    const who = await ps.rkt(['run', INSECURE, fx.app, ...sh('id -u; id -g; pwd; echo "$FOO"')])
    assert.equal(who.exitCode, 0, who.stderr)
    assert.deepEqual(who.stdout.trim().split('\n'), ['1000', '1000', '/srv', 'bar'], 'User, WorkingDir and Env apply')
  })

  test('the image’s Volumes path is an implicit empty volume pre-filled with the image’s content there', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const fx = await registryWith(t)
    if (!fx) return
    const r = await ps.rkt(['run', INSECURE, fx.app, ...sh('cat /data/seed.txt')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), SEED_TEXT)
  })

  test('layers are downloaded once: a second image sharing the base layer GETs only its own layer', async (t) => {
    const s = Sandbox.create(t)
    const fx = await registryWith(t, {other: true})
    if (!fx) return
    const {reg, images} = fx
    await reg.settle()
    const before = {
      base: reg.blobGets('*', images.layers.base),
      app: reg.blobGets('*', images.layers.app),
      other: reg.blobGets('*', images.layers.other),
    }
    const gets = async () => {
      await reg.settle()
      return {
        base: reg.blobGets('*', images.layers.base) - before.base,
        app: reg.blobGets('*', images.layers.app) - before.app,
        other: reg.blobGets('*', images.layers.other) - before.other,
      }
    }

    const appId = await fetchOk(s, [INSECURE, fx.app])
    assert.deepEqual(await gets(), {base: 1, app: 1, other: 0}, `after app:\n${reg.accessLog()}`)

    const otherId = await fetchOk(s, [INSECURE, fx.other])
    assert.deepEqual(
      await gets(),
      {base: 1, app: 1, other: 1},
      `the base layer, already stored, is not downloaded again for other:\n${reg.accessLog()}`,
    )
    assert.match((await listed(s, appId)).name, /app/)
    assert.match((await listed(s, otherId)).name, /other/)
  })

  test('image list, verify, rm and gc work on converted images; removing one keeps the shared layers usable', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const fx = await registryWith(t, {other: true})
    if (!fx) return
    const appId = await fetchOk(ps.s, [INSECURE, fx.app])
    const otherId = await fetchOk(ps.s, [INSECURE, fx.other])
    assert.notEqual(appId, otherId)

    const app = await listed(ps.s, appId)
    const other = await listed(ps.s, otherId)
    assert.match(app.name, /app/)
    assert.match(other.name, /other/)
    for (const i of [app, other]) assert.ok(i.size > 0, `a size for ${i.name}`)

    const verify = await ps.rkt(['image', 'verify', appId, otherId])
    assert.equal(verify.exitCode, 0, verify.stderr)

    const rm = await ps.rkt(['image', 'rm', appId])
    assert.equal(rm.exitCode, 0, rm.stderr)
    const ids = async () => (await ps.s.images()).map((i) => i.id)
    assert.ok(!(await ids()).includes(app.id), 'the removed image is no longer listed')
    assert.ok((await ids()).includes(other.id), 'the other image is still listed')
    const gc = await ps.rkt(['image', 'gc'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.ok((await ids()).includes(other.id), 'gc keeps an image fetched just now')
    const verify2 = await ps.rkt(['image', 'verify', otherId])
    assert.equal(verify2.exitCode, 0, verify2.stderr)

    // With the registry gone, the remaining image still runs from the store alone: its base layer survived.
    await fx.reg.stop()
    const r = await ps.rkt(['run', otherId])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), OTHER_TEXT)
    const motd = await ps.rkt(['run', otherId, ...sh('cat /etc/motd')])
    assert.equal(motd.exitCode, 0, motd.stderr)
    assert.equal(motd.stdout.trim(), MOTD_TEXT)

    const gc0 = await ps.rkt(['image', 'gc', '--grace-period=0s'])
    assert.equal(gc0.exitCode, 0, gc0.stderr)
  })

  test('schema2 and OCI manifests both fetch', async (t) => {
    const s = Sandbox.create(t)
    const reg = await startRegistry(t)
    if (!reg) return
    const images = sharedImages()
    const v2s2 = push(images.refs.app, 'app:v2s2', reg.host, {format: 'v2s2'})
    const oci = push(images.refs.app, 'app:oci', reg.host, {format: 'oci'})
    // The fixture is what it says: each tag is served as its own media type.
    const schema2 = await getManifest(reg, 'app:v2s2', 'application/vnd.docker.distribution.manifest.v2+json')
    assert.equal(schema2.status, 200)
    assert.equal(schema2.type, 'application/vnd.docker.distribution.manifest.v2+json')
    const ociManifest = await getManifest(reg, 'app:oci', 'application/vnd.oci.image.manifest.v1+json')
    assert.equal(ociManifest.status, 200)
    assert.equal(ociManifest.type, 'application/vnd.oci.image.manifest.v1+json')
    await reg.settle()
    const mark = reg.accessLog().length

    for (const url of [v2s2, oci]) {
      const id = await fetchOk(s, [INSECURE, url])
      const m = (await catManifest(s, id)) as {app?: {exec?: string[]}}
      assert.deepEqual(m.app?.exec, ['/bin/cat', '/etc/app.txt'], url)
    }
    // rkt's manifest requests accept both types: an OCI manifest is answered 404 to a request that does not
    // accept it, and a schema2 one asked for by tag is converted to a signed schema1 (another size).
    await reg.settle()
    const lines = reg.accessLog().slice(mark).split('\n')
    const manifestGets = lines.filter((l) => /"GET \/v2\/app\/manifests\//.test(l))
    assert.ok(manifestGets.length >= 2, `manifests were fetched:\n${lines.join('\n')}`)
    for (const l of manifestGets) assert.match(l, /HTTP\/[0-9.]+" 200 /, l)
    for (const l of manifestGets.filter((x) => x.includes('/manifests/v2s2 ')))
      assert.match(
        l,
        new RegExp(`HTTP/[0-9.]+" 200 ${schema2.size} `),
        `the schema2 manifest itself, not schema1: ${l}`,
      )
  })

  describe('hostile layers are refused, naming the entry; nothing is written outside, nothing is stored', () => {
    for (const kind of Object.keys(HOSTILE) as (keyof typeof HOSTILE)[]) {
      const entry = HOSTILE[kind].entry
      test(`a layer with ${entry}`, async (t) => {
        const s = Sandbox.create(t)
        const fx = await registryWith(t)
        if (!fx) return
        const appId = await fetchOk(s, [INSECURE, fx.app])
        const before = await s.images()
        const victim = path.join(s.dir, 'victim', 'x')
        fs.mkdirSync(path.dirname(victim))
        fs.writeFileSync(victim, 'keep me\n')
        const tmpEscape = fs.existsSync(path.join(os.tmpdir(), 'escape'))

        const url = push(
          hostileImage(path.join(s.work, 'hostile-oci'), kind),
          `hostile:${kind.toLowerCase()}`,
          fx.reg.host,
        )
        const r = await s.rkt(['fetch', INSECURE, url])
        assert.equal(r.exitCode, 254, `${r.stdout}\n${r.stderr}`)
        assert.ok(r.stderr.includes(entry), `the message names the entry ${entry}: ${r.stderr}`)
        assert.equal(r.stdout, '')

        assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me\n', 'the victim beside the data dir is intact')
        assert.ok(fs.existsSync(s.data), 'the data dir survives')
        assert.deepEqual(findNamed(s.dir, 'escape'), [], 'no file escaped into the sandbox')
        assert.equal(fs.existsSync(path.join(os.tmpdir(), 'escape')), tmpEscape, 'no file escaped into the temp dir')
        const verify = await s.rkt(['image', 'verify', appId])
        assert.equal(verify.exitCode, 0, `the stored image is untouched: ${verify.stderr}`)
        // Not even the harmless first layer is kept: a refused fetch adds nothing to the list.
        assert.deepEqual(await s.images(), before, 'the image list is unchanged')
      })
    }
  })
})

describe('docker-archive: and oci: image files', () => {
  test('docker-archive:FILE (docker save format) imports with --insecure-options=image and runs', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    if (!(await requireRegistryTools(t))) return
    const file = exportDockerArchive(sharedImages().refs.app, path.join(ps.s.work, 'app.tar'), 'app:latest')

    const unsigned = await ps.rkt(['fetch', `docker-archive:${file}`])
    assert.equal(unsigned.exitCode, 254, unsigned.stderr)
    assert.match(unsigned.stderr, /--insecure-options=image/)
    assert.deepEqual(await ps.s.images(), [])

    const id = await fetchOk(ps.s, ['--insecure-options=image', `docker-archive:${file}`])
    assert.match((await listed(ps.s, id)).name, /app/)
    const r = await ps.rkt(['run', id])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), APP_TEXT)
    const wh = await ps.rkt(['run', id, ...sh('test ! -e /etc/removeme && cat /etc/motd')])
    assert.equal(wh.exitCode, 0, wh.stderr)
    assert.equal(wh.stdout.trim(), MOTD_TEXT)
  })

  test('a layer whose tar names the root `/` or `./` (GNU tar, some builders) imports and runs', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const slash = rawLayerTar([
      {name: '/', type: '5'},
      {name: 'bin/', type: '5'},
      {name: 'bin/busybox', data: fs.readFileSync(BUSYBOX), mode: 0o755},
      {name: 'bin/sh', type: '2', linkname: 'busybox'},
      {name: 'etc/', type: '5'},
      {name: 'etc/motd', data: `${MOTD_TEXT}\n`},
    ])
    const dot = rawLayerTar([
      {name: './', type: '5'},
      {name: './etc/', type: '5'},
      {name: './etc/extra', data: 'x\n'},
    ])
    const dir = path.join(ps.s.work, 'rooted-oci')
    rawImage(dir, 'rooted', [slash, dot], ['/bin/sh', '-c', 'cat /etc/motd /etc/extra'])
    const id = await fetchOk(ps.s, ['--insecure-options=image', `oci:${dir}:rooted`])
    const r = await ps.rkt(['run', id])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), `${MOTD_TEXT}\nx`)
  })

  test('oci:DIR:TAG (an OCI image layout) imports with --insecure-options=image and runs', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    if (!(await requireRegistryTools(t))) return
    const dir = exportOciLayout(sharedImages().refs.app, path.join(ps.s.work, 'app-oci'), 'app')

    const id = await fetchOk(ps.s, ['--insecure-options=image', `oci:${dir}:app`])
    assert.match((await listed(ps.s, id)).name, /app/)
    const r = await ps.rkt(['run', id])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.trim(), APP_TEXT)
  })
})
