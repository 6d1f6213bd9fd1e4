import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {fetchFile} from '../fetch/file.js'
import {CorruptIndexError} from './index-file.js'
import {ImageStore} from './image-store.js'
import {dependentsOf, gcImages, inspectBlob, rebuildIndex} from './maintenance.js'
import {TreeStore} from './tree-store.js'

interface Env {
  dir: string
  store: ImageStore
  trees: TreeStore
  add: (name: string, labels?: Record<string, string>, deps?: string[]) => Promise<string>
}

function setup(t: {after(fn: () => void): void}): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-maint-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const data = path.join(dir, 'data')
  const store = ImageStore.open(data)
  const globals: Globals = {
    dir: data,
    localConfig: path.join(dir, 'none'),
    systemConfig: path.join(dir, 'none'),
    userConfig: '',
    debug: false,
    insecure: new Set(['image']),
    trustKeysFromHttps: false,
  }
  const add = async (name: string, labels: Record<string, string> = {}, deps: string[] = []): Promise<string> => {
    const tag = crypto.randomBytes(6).toString('hex')
    const layout = path.join(dir, `layout-${tag}`)
    fs.mkdirSync(path.join(layout, 'rootfs', 'etc'), {recursive: true})
    const manifest = Buffer.from(
      JSON.stringify({
        acKind: 'ImageManifest',
        acVersion: '0.8.11',
        name,
        labels: Object.entries({os: 'linux', ...labels}).map(([n, value]) => ({name: n, value})),
        ...(deps.length > 0 ? {dependencies: deps.map((imageName) => ({imageName}))} : {}),
      }),
    )
    fs.writeFileSync(path.join(layout, 'manifest'), manifest)
    fs.writeFileSync(path.join(layout, 'rootfs', 'etc', 'name'), name)
    const file = path.join(dir, `${tag}.aci`)
    await buildAci({layoutDir: layout, outFile: file, manifest, compression: 'gzip'})
    const {record} = await fetchFile(store, file, {globals})
    fs.rmSync(layout, {recursive: true})
    fs.rmSync(file)
    return record.key
  }
  return {dir, store, trees: new TreeStore(store), add}
}

/** What a user sees of the records: everything but the times rebuild cannot know. */
function essentials(store: ImageStore): unknown[] {
  return store
    .list()
    .map((r) => ({id: r.id, key: r.key, name: r.name, labels: r.labels, size: r.size}))
    .sort((a, b) => a.name.localeCompare(b.name))
}

function ageImage(store: ImageStore, key: string, ms: number): void {
  store.index.update((images) => {
    const r = images.find((x) => x.key === key)!
    r.lastUsed = Date.now() - ms
  })
}

describe('rebuildIndex (FI-18, SEC-45)', () => {
  test('restores name, labels and size of every image after the index was deleted', async (t) => {
    const {store, add} = setup(t)
    await add('example.com/a', {version: '1.0'})
    await add('example.com/b', {version: '2.0', channel: 'beta'})
    const before = essentials(store)
    fs.rmSync(store.layout.indexFile)
    fs.rmSync(store.layout.manifestRoot, {recursive: true})
    assert.deepEqual(store.list(), [])
    const report = rebuildIndex(store)
    assert.equal(report.images, 2, report.problems.join('\n'))
    assert.deepEqual(report.problems, [])
    assert.equal(report.previous, undefined)
    assert.deepEqual(essentials(store), before)
    // The manifest copies come back too: the images resolve and render.
    assert.equal(store.resolve('example.com/b:2.0').name, 'example.com/b')
    const trees = new TreeStore(store)
    assert.ok(fs.existsSync(path.join(trees.render(store.resolve('example.com/a').key).rootfs, 'etc', 'name')))
  })

  test('after corruption: fails closed first, then rebuild restores the records and keeps the old file', async (t) => {
    const {store, add} = setup(t)
    await add('example.com/a', {version: '1.0'})
    await add('example.com/b')
    const before = essentials(store)
    const whole = fs.readFileSync(store.layout.indexFile)
    const garbled = whole.subarray(0, 40)
    fs.writeFileSync(store.layout.indexFile, garbled)
    assert.throws(() => store.list(), CorruptIndexError)
    const blobsBefore = store.blobKeysOnDisk().sort()
    const report = rebuildIndex(store)
    assert.equal(report.images, 2, report.problems.join('\n'))
    assert.ok(report.previous !== undefined)
    assert.ok(path.dirname(report.previous) === store.layout.dbDir)
    assert.deepEqual(fs.readFileSync(report.previous), garbled, 'the unusable file is kept for inspection')
    assert.deepEqual(essentials(store), before)
    assert.deepEqual(store.blobKeysOnDisk().sort(), blobsBefore)
  })

  test('a blob whose content does not match its name is reported and left in place, never indexed', async (t) => {
    const {store, add} = setup(t)
    const good = await add('example.com/good')
    // A copy of a valid image under another key (a bit flip in the name, or a tampered file).
    const wrongKey = `sha512-${crypto.createHash('sha512').update('another').digest('hex').slice(0, 64)}`
    fs.mkdirSync(path.dirname(store.blobPath(wrongKey)), {recursive: true})
    fs.copyFileSync(store.blobPath(good), store.blobPath(wrongKey))
    // Garbage named by its own hash: the name matches, but it is no image.
    const junk = crypto.randomBytes(4096)
    const junkKey = `sha512-${crypto.createHash('sha512').update(junk).digest('hex').slice(0, 64)}`
    fs.mkdirSync(path.dirname(store.blobPath(junkKey)), {recursive: true})
    fs.writeFileSync(store.blobPath(junkKey), junk)

    const report = rebuildIndex(store)
    assert.equal(report.images, 1)
    assert.equal(report.problems.length, 2)
    const wrong = report.problems.find((p) => p.includes(wrongKey))
    assert.ok(wrong, report.problems.join('\n'))
    assert.match(wrong, /content does not match its name/)
    assert.match(wrong, /left in place/)
    const notImage = report.problems.find((p) => p.includes(junkKey))
    assert.ok(notImage, report.problems.join('\n'))
    assert.match(notImage, /left in place/)
    assert.ok(fs.existsSync(store.blobPath(wrongKey)), 'never deleted')
    assert.ok(fs.existsSync(store.blobPath(junkKey)), 'never deleted')
    assert.deepEqual(
      store.list().map((r) => r.key),
      [good],
    )
  })

  test('inspectBlob re-hashes a blob: full ID, manifest and size', async (t) => {
    const {store, add} = setup(t)
    const key = await add('example.com/a')
    const rec = store.mustGet(key)
    const info = inspectBlob(store.blobPath(key))
    assert.equal(info.id, rec.id)
    assert.equal(info.size, rec.size)
    assert.equal((JSON.parse(info.manifest.toString()) as {name: string}).name, 'example.com/a')
  })
})

describe('gcImages', () => {
  test('removes unused trees and images unused for longer than the grace period; keeps images in use', async (t) => {
    const {store, trees, add} = setup(t)
    const old = await add('example.com/old')
    const inUse = await add('example.com/in-use')
    const recent = await add('example.com/recent')
    const oldTree = trees.render(old).treeId
    const usedTree = trees.render(inUse).treeId
    const recentTree = trees.render(recent).treeId
    const day = 24 * 3600 * 1000
    ageImage(store, old, 2 * day)
    ageImage(store, inUse, 2 * day)
    ageImage(store, recent, day / 2)
    const stale = path.join(store.layout.tmpDir, 'stage-0123')
    fs.writeFileSync(stale, 'left by a killed fetch')
    const lines: string[] = []
    const r = gcImages(store, trees, {
      gracePeriodMs: day,
      references: () => ({trees: new Set([usedTree]), images: new Set([inUse])}),
      log: (l) => lines.push(l),
    })
    assert.deepEqual(r, {trees: 2, images: 1})
    assert.deepEqual(trees.list(), [usedTree])
    assert.ok(!fs.existsSync(store.layout.tree(oldTree)))
    assert.ok(!fs.existsSync(store.layout.tree(recentTree)))
    assert.deepEqual(
      store
        .list()
        .map((x) => x.key)
        .sort(),
      [inUse, recent].sort(),
    )
    assert.ok(!fs.existsSync(store.blobPath(old)))
    assert.ok(fs.existsSync(store.blobPath(inUse)))
    assert.ok(fs.existsSync(store.blobPath(recent)))
    assert.ok(!fs.existsSync(stale), 'staging files of dead processes are swept')
    assert.ok(lines.includes(`removed treestore "${oldTree}"`), lines.join('\n'))
    assert.ok(lines.includes(`successfully removed aci for image: "${old}"`), lines.join('\n'))
    // A second run has nothing to do.
    assert.deepEqual(
      gcImages(store, trees, {
        gracePeriodMs: day,
        references: () => ({trees: new Set([usedTree]), images: new Set([inUse])}),
        log: () => {},
      }),
      {trees: 0, images: 0},
    )
    // The remaining tree still works.
    assert.equal(trees.verify(inUse)?.ok, true)
  })

  test('a grace period of 0 removes every image not in use', async (t) => {
    const {store, trees, add} = setup(t)
    const a = await add('example.com/a')
    const b = await add('example.com/b')
    ageImage(store, a, 1)
    ageImage(store, b, 1)
    const r = gcImages(store, trees, {
      gracePeriodMs: 0,
      references: () => ({trees: new Set(), images: new Set()}),
      log: () => {},
    })
    assert.equal(r.images, 2)
    assert.deepEqual(store.list(), [])
    assert.deepEqual(store.blobKeysOnDisk(), [])
  })

  test('an image another image depends on stays while that image stays; rm names who needs it', async (t) => {
    const {store, trees, add} = setup(t)
    const base = await add('example.com/base')
    const top = await add('example.com/top', {}, ['example.com/base'])
    ageImage(store, base, 48 * 3600_000)
    const gc = (): number =>
      gcImages(store, trees, {
        gracePeriodMs: 24 * 3600_000,
        references: () => ({trees: new Set(), images: new Set()}),
        log: () => {},
      }).images
    assert.equal(gc(), 0, 'the old base is kept: the recent top image is built on it')
    assert.deepEqual(
      dependentsOf(store, trees, base, new Set()).map((r) => r.name),
      ['example.com/top'],
    )
    assert.deepEqual(dependentsOf(store, trees, base, new Set([top])), [], 'removed together, nothing breaks')
    ageImage(store, top, 48 * 3600_000)
    assert.equal(gc(), 2)
    assert.deepEqual(store.list(), [])
  })
})
