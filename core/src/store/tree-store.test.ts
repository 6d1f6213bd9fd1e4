import {skippingAllowed} from '../testing.js'
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {RktError} from '../errors.js'
import {fetchFile} from '../fetch/file.js'
import {ImageStore} from './image-store.js'
import {TreeStore} from './tree-store.js'

const self = fileURLToPath(import.meta.url)
const here = path.dirname(self)
// Children run against whatever this test runs from: the TypeScript sources (through tsx) or the compiled dist/.
const fromSource = self.endsWith('.ts')
const ext = fromSource ? 'ts' : 'js'
const repoRoot = path.resolve(here, '../../..')

interface ImageSpec {
  name: string
  files?: Record<string, string>
  dependencies?: {imageName: string; imageID?: string; labels?: {name: string; value: string}[]}[]
  pathWhitelist?: string[]
}

interface Env {
  dir: string
  store: ImageStore
  trees: TreeStore
  /** Builds and fetches an image; returns its store key. */
  add: (spec: ImageSpec) => Promise<string>
}

function setup(t: {after(fn: () => void): void}): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-trees-'))
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
  const add = async (spec: ImageSpec): Promise<string> => {
    const tag = crypto.randomBytes(6).toString('hex')
    const layout = path.join(dir, `layout-${tag}`)
    fs.mkdirSync(path.join(layout, 'rootfs'), {recursive: true})
    const manifest = Buffer.from(
      JSON.stringify({
        acKind: 'ImageManifest',
        acVersion: '0.8.11',
        name: spec.name,
        labels: [{name: 'os', value: 'linux'}],
        ...(spec.dependencies ? {dependencies: spec.dependencies} : {}),
        ...(spec.pathWhitelist ? {pathWhitelist: spec.pathWhitelist} : {}),
      }),
    )
    fs.writeFileSync(path.join(layout, 'manifest'), manifest)
    for (const [p, content] of Object.entries(spec.files ?? {[`${spec.name.split('/').pop()}.txt`]: spec.name})) {
      fs.mkdirSync(path.dirname(path.join(layout, 'rootfs', p)), {recursive: true})
      fs.writeFileSync(path.join(layout, 'rootfs', p), content)
    }
    const file = path.join(dir, `${tag}.aci`)
    await buildAci({layoutDir: layout, outFile: file, manifest, compression: 'none'})
    const {record} = await fetchFile(store, file, {globals})
    fs.rmSync(layout, {recursive: true})
    fs.rmSync(file)
    return record.key
  }
  return {dir, store, trees: new TreeStore(store), add}
}

function expectCode(fn: () => unknown, code: string): RktError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof RktError, String(err))
    assert.equal(err.code, code, err.message)
    return err
  }
  assert.fail(`expected ${code}`)
}

/** Files (not directories) of a tree, relative, sorted. */
function filesOf(root: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(path.join(d, e.name), r)
      else out.push(r)
    }
  }
  walk(root, '')
  return out.sort()
}

describe('TreeStore.plan', () => {
  test('dependencies depth-first in list order, then the image: A→[B,C], C→[D] gives B, D, C, A (appc R1)', async (t) => {
    const {add, trees} = setup(t)
    const d = await add({name: 'example.com/d'})
    const b = await add({name: 'example.com/b'})
    const c = await add({name: 'example.com/c', dependencies: [{imageName: 'example.com/d'}]})
    const a = await add({
      name: 'example.com/a',
      dependencies: [{imageName: 'example.com/b'}, {imageName: 'example.com/c'}],
    })
    const plan = trees.plan(a)
    assert.deepEqual(
      plan.layers.map((l) => l.key),
      [b, d, c, a],
    )
    assert.match(plan.treeId, /^deps-sha512-[0-9a-f]{64}$/)
    assert.equal(trees.plan(a).treeId, plan.treeId, 'the tree ID is stable')
    assert.notEqual(trees.plan(c).treeId, plan.treeId)
    assert.deepEqual(
      trees.plan(c).layers.map((l) => l.key),
      [d, c],
    )
  })

  test('a dependency shared by two paths appears once per path', async (t) => {
    const {add, trees} = setup(t)
    const d = await add({name: 'example.com/d'})
    const b = await add({name: 'example.com/b', dependencies: [{imageName: 'example.com/d'}]})
    const c = await add({name: 'example.com/c', dependencies: [{imageName: 'example.com/d'}]})
    const a = await add({
      name: 'example.com/a',
      dependencies: [{imageName: 'example.com/b'}, {imageName: 'example.com/c'}],
    })
    assert.deepEqual(
      trees.plan(a).layers.map((l) => l.key),
      [d, b, d, c, a],
    )
  })

  test('a dependency named by image ID must be that image', async (t) => {
    const {add, store, trees} = setup(t)
    const d = await add({name: 'example.com/d'})
    const dId = store.mustGet(d).id
    const a = await add({name: 'example.com/a', dependencies: [{imageName: 'example.com/d', imageID: dId}]})
    assert.deepEqual(
      trees.plan(a).layers.map((l) => l.key),
      [d, a],
    )
    const otherId = `sha512-${crypto.createHash('sha512').update('not stored').digest('hex')}`
    const x = await add({name: 'example.com/x', dependencies: [{imageName: 'example.com/d', imageID: otherId}]})
    const err = expectCode(() => trees.plan(x), 'EDEPENDENCY')
    assert.match(err.message, /example\.com\/d/)
  })

  test('a dependency cycle fails fast with EDEPENDENCY naming the cycle', async (t) => {
    const {add, trees} = setup(t)
    const a = await add({name: 'example.com/a', dependencies: [{imageName: 'example.com/b'}]})
    await add({name: 'example.com/b', dependencies: [{imageName: 'example.com/a'}]})
    const t0 = Date.now()
    const err = expectCode(() => trees.plan(a), 'EDEPENDENCY')
    assert.ok(Date.now() - t0 < 1000)
    assert.match(err.message, /cycle/)
    const self = await add({name: 'example.com/self', dependencies: [{imageName: 'example.com/self'}]})
    expectCode(() => trees.plan(self), 'EDEPENDENCY')
    expectCode(() => trees.render(self), 'EDEPENDENCY')
  })

  test('a missing dependency is named, with how to fetch it', async (t) => {
    const {add, trees} = setup(t)
    const a = await add({
      name: 'example.com/a',
      dependencies: [{imageName: 'example.com/base', labels: [{name: 'version', value: '3'}]}],
    })
    const err = expectCode(() => trees.plan(a), 'EDEPENDENCY')
    assert.match(err.message, /dependency example\.com\/base of image example\.com\/a is not in the store/)
    assert.match(err.hint ?? '', /rkt fetch/)
    assert.match(err.hint ?? '', /example\.com\/base/)
    // Labels must match too.
    await add({name: 'example.com/base'})
    expectCode(() => trees.plan(a), 'EDEPENDENCY')
  })
})

describe('TreeStore.render', () => {
  test('renders layers in order; the rendered marker is written only at the end', async (t) => {
    const {add, store, trees} = setup(t)
    await add({name: 'example.com/base', files: {'etc/os-release': 'base\n', 'etc/base-only': 'x'}})
    const a = await add({
      name: 'example.com/app',
      files: {'etc/os-release': 'app\n', 'bin/app': '#!/bin/sh\n'},
      dependencies: [{imageName: 'example.com/base'}],
    })
    const plan = trees.plan(a)
    let progressCalls = 0
    const r = trees.render(a, {
      onProgress: () => {
        progressCalls++
        assert.ok(!trees.isRendered(plan.treeId), 'no marker while extracting')
      },
    })
    assert.ok(progressCalls > 0)
    assert.equal(r.treeId, plan.treeId)
    assert.equal(r.fresh, true)
    const dir = store.layout.tree(r.treeId)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['hash', 'image', 'rendered', 'rootfs'])
    assert.equal(fs.readFileSync(path.join(dir, 'image'), 'utf8').trim(), a)
    assert.match(fs.readFileSync(path.join(dir, 'hash'), 'utf8'), /^sha512-[0-9a-f]{128}\n$/)
    assert.equal(r.rootfs, path.join(dir, 'rootfs'))
    assert.equal(fs.readFileSync(path.join(r.rootfs, 'etc/os-release'), 'utf8'), 'app\n', 'upper layer wins')
    assert.deepEqual(filesOf(r.rootfs), ['bin/app', 'etc/base-only', 'etc/os-release'])
    assert.ok(store.mustGet(a).treeStoreSize > 0)
    assert.deepEqual(trees.list(), [r.treeId])
    const again = trees.render(a)
    assert.equal(again.fresh, false)
  })

  test('pathWhitelist of an upper image filters the files of lower layers (appc R3)', async (t) => {
    const {add, trees} = setup(t)
    await add({name: 'example.com/base', files: {'etc/keep': 'k', 'etc/drop': 'd', 'usr/lib/libx.so': 'x'}})
    const a = await add({
      name: 'example.com/app',
      files: {'bin/app': 'a', 'bin/extra': 'e'},
      dependencies: [{imageName: 'example.com/base'}],
      pathWhitelist: ['/etc/keep', '/bin/app'],
    })
    const r = trees.render(a)
    assert.deepEqual(filesOf(r.rootfs), ['bin/app', 'etc/keep'])
  })

  test('a partial tree without the marker (a crashed render, FI-05) is rendered again from scratch', async (t) => {
    const {add, store, trees} = setup(t)
    const a = await add({name: 'example.com/app', files: {'etc/real': 'real'}})
    const {treeId} = trees.plan(a)
    const dir = store.layout.tree(treeId)
    fs.mkdirSync(path.join(dir, 'rootfs', 'etc'), {recursive: true})
    fs.writeFileSync(path.join(dir, 'rootfs', 'etc', 'real'), 'half')
    fs.writeFileSync(path.join(dir, 'rootfs', 'leftover'), 'junk')
    fs.writeFileSync(path.join(dir, 'hash'), 'sha512-bogus\n')
    assert.ok(!trees.isRendered(treeId))
    const r = trees.render(a)
    assert.equal(r.fresh, true)
    assert.deepEqual(filesOf(r.rootfs), ['etc/real'])
    assert.equal(fs.readFileSync(path.join(r.rootfs, 'etc/real'), 'utf8'), 'real')
    assert.equal(trees.verify(a)?.ok, true)
  })

  test('a failed render leaves no tree behind', async (t) => {
    const {add, store, trees} = setup(t)
    const a = await add({name: 'example.com/app', files: {'etc/x': 'x'}})
    const {treeId} = trees.plan(a)
    fs.rmSync(store.blobPath(a)) // the blob vanished
    assert.throws(() => trees.render(a), RktError)
    assert.ok(!fs.existsSync(store.layout.tree(treeId)))
    assert.ok(!trees.isRendered(treeId))
  })
})

describe('TreeStore.verify', () => {
  test('ok on a fresh render; detects a one-byte change and a chmod (SEC-43)', async (t) => {
    const {add, trees} = setup(t)
    const a = await add({name: 'example.com/app', files: {'bin/tool': 'abcdef', 'etc/conf': 'x=1\n'}})
    assert.equal(trees.verify(a), undefined, 'nothing to verify before a render')
    const r = trees.render(a)
    const ok = trees.verify(a)
    assert.equal(ok?.ok, true)
    assert.equal(ok?.treeId, r.treeId)
    assert.equal(ok?.actual, ok?.expected)

    const file = path.join(r.rootfs, 'bin/tool')
    fs.writeFileSync(file, 'abcdeF')
    const tampered = trees.verify(a)
    assert.equal(tampered?.ok, false)
    assert.notEqual(tampered?.actual, tampered?.expected)
    fs.writeFileSync(file, 'abcdef')
    assert.equal(trees.verify(a)?.ok, true)

    const mode = fs.statSync(file).mode & 0o7777
    fs.chmodSync(file, mode | 0o4000)
    assert.equal(trees.verify(a)?.ok, false)
    fs.chmodSync(file, mode)
    assert.equal(trees.verify(a)?.ok, true)

    fs.writeFileSync(path.join(r.rootfs, 'etc/new'), '')
    assert.equal(trees.verify(a)?.ok, false, 'an added file is detected')
  })
})

describe('TreeStore.remove', () => {
  test('removes a tree; skips one whose lock another process holds', async (t) => {
    const {add, store, trees} = setup(t)
    const a = await add({name: 'example.com/app'})
    const {treeId} = trees.render(a)
    const child = spawn(
      process.execPath,
      [
        ...(fromSource ? ['--import', 'tsx'] : []),
        '--input-type=module',
        '-e',
        `import {FileLock} from ${JSON.stringify(path.join(here, '..', 'sys', `lock.${ext}`))}
         FileLock.onFile(${JSON.stringify(store.layout.treeLock(treeId))}, {exclusive: false, wait: true})
         console.log('locked')
         process.stdin.resume()
         process.stdin.on('end', () => process.exit(0))`,
      ],
      {cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit']},
    )
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('locked')) resolve()
        })
        child.on('error', reject)
        void exited.then(() => reject(new Error('the lock holder exited early')))
      })
      assert.equal(trees.remove(treeId), false, 'a tree in use is kept')
      assert.ok(trees.isRendered(treeId))
      assert.equal(trees.verify(a)?.ok, true)
    } finally {
      child.stdin.end()
      await exited
    }
    assert.equal(trees.remove(treeId), true)
    assert.ok(!fs.existsSync(store.layout.tree(treeId)))
    assert.deepEqual(trees.list(), [])
    assert.equal(trees.remove(treeId), true, 'removing a missing tree is not an error')
  })

  test('a held tree (a pod being prepared) and a tree in use are kept; inUse is asked under the lock', async (t) => {
    const {add, trees} = setup(t)
    const a = await add({name: 'example.com/app'})
    const held = trees.renderHeld(a)
    assert.equal(trees.remove(held.treeId), false, 'held by a prepare')
    held.lock.release()
    let asked = 0
    const inUse = (): boolean => {
      asked++
      return true
    }
    assert.equal(trees.remove(held.treeId, inUse), false, 'recorded by a pod')
    assert.equal(asked, 1)
    assert.ok(trees.isRendered(held.treeId))
    assert.equal(
      trees.remove(held.treeId, () => false),
      true,
    )
    // Rendered again on demand, and held again.
    const again = trees.renderHeld(a)
    assert.equal(again.fresh, true)
    // A rendered tree is held with the shared lock only: a second hold (another app of the same image,
    // another pod) does not wait for the first.
    const second = trees.renderHeld(a)
    assert.equal(second.fresh, false)
    assert.equal(second.treeId, again.treeId)
    assert.equal(trees.remove(again.treeId), false, 'held twice')
    second.lock.release()
    again.lock.release()
  })

  test('the marker goes first: a removal that fails half-way leaves a tree that is re-rendered, never used', async (t) => {
    const {add, store, trees} = setup(t)
    const a = await add({name: 'example.com/app', files: {'etc/stuck': 's', 'etc/other': 'o'}})
    const {treeId, rootfs} = trees.render(a)
    const stuck = path.join(rootfs, 'etc/stuck')
    try {
      execFileSync('chattr', ['+i', stuck], {stdio: 'ignore'})
    } catch (err) {
      if (!skippingAllowed()) throw err
      t.skip('chattr +i is not available here (needs root and a filesystem with the immutable flag)')
      return
    }
    try {
      assert.throws(() => trees.remove(treeId))
      assert.ok(fs.existsSync(store.layout.tree(treeId)), 'the removal failed half-way')
      assert.ok(!trees.isRendered(treeId), 'but the marker is gone')
      assert.equal(trees.verify(a), undefined)
    } finally {
      execFileSync('chattr', ['-i', stuck], {stdio: 'ignore'})
    }
    const r = trees.render(a)
    assert.equal(r.fresh, true)
    assert.equal(trees.verify(a)?.ok, true)
  })
})
