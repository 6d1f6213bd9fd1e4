import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {causeChain, hasCode} from '../errors.js'
import {parseImageManifest} from '../schema/index.js'
import {TreeStore} from '../store/tree-store.js'
import {fetchDockerImage} from './import.js'
import {makeLayer, requireTools, tempDir, testGlobals, testStore, writeOciLayout} from './testing.js'

/** Matches an error whose chain of causes mentions `re`. */
function mentions(re: RegExp): (e: unknown) => boolean {
  return (e) => causeChain(e).some((c) => c instanceof Error && re.test(c.message))
}

async function baseAndApp(dir: string): Promise<string> {
  const base = await makeLayer([
    {name: 'etc/'},
    {name: 'etc/motd', data: 'base v1\n'},
    {name: 'etc/removeme', data: 'to be deleted\n'},
    {name: 'gone/'},
    {name: 'gone/file', data: 'g'},
    {name: 'A', data: 'linked content\n'},
    {name: 'B', type: 'link', linkname: 'A'},
  ])
  const app = await makeLayer([
    {name: 'etc/'},
    {name: 'etc/app.txt', data: 'hello from app layer\n'},
    {name: 'etc/.wh.removeme', data: ''},
    {name: '.wh.gone', data: ''},
    {name: '.wh.A', data: ''},
  ])
  const layout = path.join(dir, 'oci')
  writeOciLayout(layout, 'base', [base])
  writeOciLayout(layout, 'app', [base, app], {config: {Cmd: ['/bin/cat', '/etc/app.txt']}})
  return layout
}

describe('fetchDockerImage', () => {
  test('needs --insecure-options=image', async (t) => {
    const dir = tempDir(t)
    const layout = await baseAndApp(dir)
    await assert.rejects(
      fetchDockerImage(testStore(dir), `oci:${layout}:base`, {globals: testGlobals(dir, [])}),
      (e: unknown) => hasCode(e, 'ENOSIG') && /--insecure-options=image/.test((e as {hint: string}).hint),
    )
  })

  test('two images on one base store the base layer once; whiteouts and SEC-38 hold after render', async (t) => {
    const dir = tempDir(t)
    const layout = await baseAndApp(dir)
    const store = testStore(dir)
    const globals = testGlobals(dir)
    const infos: string[] = []
    const base = await fetchDockerImage(store, `oci:${layout}:base`, {globals, onInfo: (m) => infos.push(m)})
    assert.match(infos.at(-1)!, /1 layer, 1 converted, 0 already stored/)
    const app = await fetchDockerImage(store, `oci:${layout}:app`, {globals, onInfo: (m) => infos.push(m)})
    assert.match(infos.at(-1)!, /2 layers, 1 converted, 1 already stored/)
    const layers = store.list().filter((r) => r.name.startsWith('docker-layer/'))
    assert.equal(layers.length, 2)
    assert.equal(store.list().length, 4)
    assert.equal(base.name, 'oci')
    assert.deepEqual(
      base.labels.find((l) => l.name === 'version'),
      {name: 'version', value: 'base'},
    )
    const m = parseImageManifest(store.manifestBytes(app.key)).manifest
    assert.deepEqual(m.app?.exec, ['/bin/cat', '/etc/app.txt'])

    // Fetching again converts nothing and gives the same image.
    const again = await fetchDockerImage(store, `oci:${layout}:app`, {globals, onInfo: (x) => infos.push(x)})
    assert.equal(again.id, app.id)
    assert.match(infos.at(-1)!, /0 converted/)

    const tree = new TreeStore(store).render(app.key)
    const r = tree.rootfs
    assert.equal(fs.readFileSync(path.join(r, 'etc/app.txt'), 'utf8'), 'hello from app layer\n')
    assert.equal(fs.readFileSync(path.join(r, 'etc/motd'), 'utf8'), 'base v1\n')
    assert.ok(!fs.existsSync(path.join(r, 'etc/removeme')), 'whited-out file is gone')
    assert.ok(!fs.existsSync(path.join(r, 'gone/file')), 'file under a whited-out directory is gone')
    assert.ok(!fs.existsSync(path.join(r, 'A')), 'whited-out hardlink target is gone')
    assert.equal(
      fs.readFileSync(path.join(r, 'B'), 'utf8'),
      'linked content\n',
      'SEC-38: the hardlink keeps its content',
    )
    const baseTree = new TreeStore(store).render(base.key).rootfs
    assert.ok(fs.existsSync(path.join(baseTree, 'etc/removeme')))
    assert.equal(fs.statSync(path.join(baseTree, 'B')).ino, fs.statSync(path.join(baseTree, 'A')).ino)
  })

  test('a docker save archive (skopeo) converts to the same layer ACIs', async (t) => {
    requireTools(['skopeo'])
    const dir = tempDir(t)
    const layout = await baseAndApp(dir)
    const store = testStore(dir)
    const globals = testGlobals(dir)
    await fetchDockerImage(store, `oci:${layout}:app`, {globals})
    const archive = path.join(dir, 'app.tar')
    execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:app`, `docker-archive:${archive}:app:1`], {
      stdio: 'pipe',
    })
    const infos: string[] = []
    const rec = await fetchDockerImage(store, `docker-archive:${archive}`, {globals, onInfo: (m) => infos.push(m)})
    assert.match(infos.at(-1)!, /2 layers, 0 converted, 2 already stored/)
    assert.equal(rec.name, 'registry-1.docker.io/library/app')
    assert.equal(rec.labels.find((l) => l.name === 'version')?.value, '1')
    // A fresh store converts from the archive alone.
    const other = testStore(path.join(dir, 'other'))
    const rec2 = await fetchDockerImage(other, `docker-archive:${archive}:app:1`, {globals})
    const tree = new TreeStore(other).render(rec2.key).rootfs
    assert.equal(fs.readFileSync(path.join(tree, 'etc/app.txt'), 'utf8'), 'hello from app layer\n')
    assert.ok(!fs.existsSync(path.join(tree, 'etc/removeme')))
  })

  test('refuses an OCI layout whose blob does not match its digest', async (t) => {
    const dir = tempDir(t)
    const layout = await baseAndApp(dir)
    const blobs = path.join(layout, 'blobs', 'sha256')
    const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as {manifests: {digest: string}[]}
    const m = JSON.parse(fs.readFileSync(path.join(blobs, idx.manifests[0]!.digest.slice(7)), 'utf8')) as {
      layers: {digest: string}[]
    }
    const p = path.join(blobs, m.layers[0]!.digest.slice(7))
    const data = fs.readFileSync(p)
    data[data.length - 5] = data[data.length - 5]! ^ 0xff // inside the gzip trailer: inflates, but hashes wrong
    fs.writeFileSync(p, data)
    const store = testStore(dir)
    await assert.rejects(
      fetchDockerImage(store, `oci:${layout}:base`, {globals: testGlobals(dir)}),
      mentions(/digest|gzip/),
    )
    assert.equal(store.list().length, 0)
    assert.deepEqual(fs.readdirSync(store.layout.tmpDir), [])
  })

  test('refuses a blob symlinked out of the layout', async (t) => {
    const dir = tempDir(t)
    const layout = await baseAndApp(dir)
    const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as {manifests: {digest: string}[]}
    const m = path.join(layout, 'blobs', 'sha256', idx.manifests[0]!.digest.slice(7))
    fs.renameSync(m, path.join(dir, 'outside'))
    fs.symlinkSync(path.join(dir, 'outside'), m)
    await assert.rejects(
      fetchDockerImage(testStore(dir), `oci:${layout}:base`, {globals: testGlobals(dir)}),
      mentions(/outside the layout/),
    )
  })
})
