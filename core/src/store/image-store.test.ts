import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {RktError, UsageError} from '../errors.js'
import {fetchFile} from '../fetch/file.js'
import {shortId, storeKey} from './ids.js'
import {ImageStore, imageQuery} from './image-store.js'
import {cleanStaleStaging} from './staging.js'

const self = fileURLToPath(import.meta.url)
const here = path.dirname(self)
// Children run against whatever this test runs from: the TypeScript sources (through tsx) or the compiled dist/.
const fromSource = self.endsWith('.ts')
const ext = fromSource ? 'ts' : 'js'
const repoRoot = path.resolve(here, '../../..')

interface ImageSpec {
  name: string
  labels?: Record<string, string>
  files?: Record<string, string>
}

function tempDir(t: {after(fn: () => void): void}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-imgstore-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  return dir
}

/** Builds a real ACI (actool build) from a manifest and a few files; returns its path and image ID. */
async function makeAci(root: string, spec: ImageSpec): Promise<{file: string; id: string}> {
  const tag = crypto.randomBytes(6).toString('hex')
  const layout = path.join(root, `layout-${tag}`)
  fs.mkdirSync(path.join(layout, 'rootfs'), {recursive: true})
  const manifest = Buffer.from(
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: spec.name,
      labels: Object.entries({os: 'linux', arch: 'amd64', ...spec.labels}).map(([name, value]) => ({name, value})),
    }),
  )
  fs.writeFileSync(path.join(layout, 'manifest'), manifest)
  for (const [p, content] of Object.entries(spec.files ?? {'etc/hello': 'hello\n'})) {
    fs.mkdirSync(path.dirname(path.join(layout, 'rootfs', p)), {recursive: true})
    fs.writeFileSync(path.join(layout, 'rootfs', p), content)
  }
  const file = path.join(root, `image-${tag}.aci`)
  const r = await buildAci({layoutDir: layout, outFile: file, manifest, compression: 'gzip'})
  fs.rmSync(layout, {recursive: true})
  return {file, id: r.imageId}
}

function globalsFor(dir: string): Globals {
  return {
    dir,
    localConfig: path.join(dir, 'no-local-config'),
    systemConfig: path.join(dir, 'no-system-config'),
    userConfig: '',
    debug: false,
    insecure: new Set(['image']),
    trustKeysFromHttps: false,
  }
}

function fetchInsecure(store: ImageStore, file: string): ReturnType<typeof fetchFile> {
  return fetchFile(store, file, {globals: globalsFor(store.layout.dir)})
}

/** Every file under a directory, relative, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(path.join(d, e.name), r)
      else out.push(r)
    }
  }
  if (fs.existsSync(dir)) walk(dir, '')
  return out.sort()
}

function hashFile(file: string): string {
  return `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('hex')}`
}

function runChild(script: string): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script],
      {cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe']},
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

function rejectsCode(fn: () => unknown, code: string, message?: RegExp): RktError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof RktError, `expected ${code}, got ${String(caught)}`)
  assert.equal(caught.code, code, caught.message)
  if (message) assert.match(caught.message, message)
  return caught
}

describe('ImageStore.commit', () => {
  test('a fetched image is a blob at cas/blob/sha512/<2hex>/<key>, a manifest copy and one index record', async (t) => {
    const dir = tempDir(t)
    const {file, id} = await makeAci(dir, {name: 'example.com/app', labels: {version: '1.0'}})
    const store = ImageStore.open(path.join(dir, 'data'))
    const {record} = await fetchInsecure(store, file)
    const key = storeKey(id)
    assert.equal(record.id, id)
    assert.equal(record.key, key)
    assert.equal(record.name, 'example.com/app')
    assert.deepEqual(
      record.labels.find((l) => l.name === 'version'),
      {name: 'version', value: '1.0'},
    )
    const blob = path.join(dir, 'data', 'cas', 'blob', 'sha512', key.slice(7, 9), key)
    assert.equal(store.blobPath(key), blob)
    // The blob is the uncompressed tar: its sha512 is the image ID.
    assert.equal(hashFile(blob), id)
    assert.equal(fs.statSync(blob).size, record.size)
    const manifest = path.join(dir, 'data', 'cas', 'imageManifest', 'sha512', key.slice(7, 9), key)
    assert.equal((JSON.parse(fs.readFileSync(manifest, 'utf8')) as {name: string}).name, 'example.com/app')
    assert.deepEqual(store.list(), [record])
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
  })

  test('committing the same image twice leaves one blob and one record', async (t) => {
    const dir = tempDir(t)
    const {file} = await makeAci(dir, {name: 'example.com/app'})
    const store = ImageStore.open(path.join(dir, 'data'))
    const first = await fetchInsecure(store, file)
    const second = await fetchInsecure(store, file)
    assert.deepEqual(second.record, first.record)
    assert.equal(store.list().length, 1)
    assert.equal(filesUnder(store.layout.blobRoot).length, 1)
    assert.equal(filesUnder(store.layout.manifestRoot).length, 1)
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
  })

  test('five concurrent fetches of one file from five processes: one blob, one record, no leftovers (FI-10)', async (t) => {
    const dir = tempDir(t)
    const {file, id} = await makeAci(dir, {
      name: 'example.com/big',
      files: {'blob.bin': crypto.randomBytes(4 << 20).toString('base64')},
    })
    const data = path.join(dir, 'data')
    const script = `
      import {ImageStore} from ${JSON.stringify(path.join(here, `image-store.${ext}`))}
      import {fetchFile} from ${JSON.stringify(path.join(here, '..', 'fetch', `file.${ext}`))}
      const store = ImageStore.open(${JSON.stringify(data)})
      const globals = {dir: ${JSON.stringify(data)}, localConfig: '/nonexistent', systemConfig: '/nonexistent',
        userConfig: '', debug: false, insecure: new Set(['image']), trustKeysFromHttps: false}
      const r = await fetchFile(store, ${JSON.stringify(file)}, {globals})
      console.log(r.record.id)`
    const results = await Promise.all(Array.from({length: 5}, () => runChild(script)))
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.trim(), id)
    }
    const store = ImageStore.open(data)
    assert.equal(store.list().length, 1)
    assert.deepEqual(filesUnder(store.layout.blobRoot), [`${storeKey(id).slice(7, 9)}/${storeKey(id)}`])
    assert.equal(hashFile(store.blobPath(storeKey(id))), id)
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
    assert.deepEqual(
      fs.readdirSync(store.layout.dbDir).sort(),
      ['index.json', 'index.lock'],
      'no temp index file left behind',
    )
  })

  test('an orphan blob (crash between blob rename and index write, FI-03) is replaced by the next import', async (t) => {
    const dir = tempDir(t)
    const {file, id} = await makeAci(dir, {name: 'example.com/orphan'})
    const key = storeKey(id)
    const donor = ImageStore.open(path.join(dir, 'donor'))
    await fetchInsecure(donor, file)
    const store = ImageStore.open(path.join(dir, 'data'))
    fs.mkdirSync(path.dirname(store.blobPath(key)), {recursive: true})
    fs.copyFileSync(donor.blobPath(key), store.blobPath(key))
    assert.deepEqual(store.list(), [], 'an orphan is not listed')
    const {record} = await fetchInsecure(store, file)
    assert.equal(record.id, id)
    assert.equal(store.list().length, 1)
    assert.equal(filesUnder(store.layout.blobRoot).length, 1)
    assert.equal(hashFile(store.blobPath(key)), id)
    assert.ok(fs.existsSync(path.join(store.layout.manifestRoot, key.slice(7, 9), key)))
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
  })

  test('a damaged orphan blob is replaced by the import, never listed as it is', async (t) => {
    const dir = tempDir(t)
    const {file, id} = await makeAci(dir, {name: 'example.com/orphan'})
    const key = storeKey(id)
    const donor = ImageStore.open(path.join(dir, 'donor'))
    await fetchInsecure(donor, file)
    const store = ImageStore.open(path.join(dir, 'data'))
    fs.mkdirSync(path.dirname(store.blobPath(key)), {recursive: true})
    const whole = fs.readFileSync(donor.blobPath(key))
    fs.writeFileSync(store.blobPath(key), whole.subarray(0, whole.length - 1024))
    await fetchInsecure(store, file)
    assert.equal(store.list().length, 1)
    assert.equal(hashFile(store.blobPath(key)), id, 'the listed image has its complete blob')
  })

  test('stage() sweeps staging files of dead processes but not live ones', (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const stale = path.join(store.layout.tmpDir, 'stage-deadbeef')
    fs.writeFileSync(stale, 'partial download')
    const live = store.stage()
    const other = store.stage()
    assert.ok(!fs.existsSync(stale))
    assert.ok(fs.existsSync(live.path))
    assert.ok(fs.existsSync(other.path))
    assert.equal(cleanStaleStaging(store.layout.tmpDir), 0)
    live.discard()
    other.discard()
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
  })

  test('a staging file is never swept while it is being created (cleaner racing stage())', async (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const tmp = store.layout.tmpDir
    // Another process sweeps cas/tmp as fast as it can while this one creates staging files.
    const child = runChild(`
      import fs from 'node:fs'
      import {cleanStaleStaging} from ${JSON.stringify(path.join(here, `staging.${ext}`))}
      const stop = ${JSON.stringify(path.join(dir, 'stop'))}
      const until = Date.now() + 20000
      while (!fs.existsSync(stop) && Date.now() < until) cleanStaleStaging(${JSON.stringify(tmp)})`)
    let lost = 0
    try {
      const deadline = Date.now() + 2000
      while (Date.now() < deadline) {
        let s
        try {
          s = store.stage()
        } catch {
          lost++ // stage() itself failed under the race
          continue
        }
        if (!fs.existsSync(s.path)) lost++
        s.discard()
        await new Promise((r) => setImmediate(r))
      }
    } finally {
      fs.writeFileSync(path.join(dir, 'stop'), '')
      const r = await child
      assert.equal(r.code, 0, r.stderr)
    }
    assert.equal(lost, 0, 'a fresh staging file was deleted (or stage() failed) under a concurrent sweep')
  })
})

describe('ImageStore.removeOrphans', () => {
  /** A store holding one image, plus the blob and manifest of another that no index entry names. */
  async function withOrphan(t: {after(fn: () => void): void}) {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const listed = await makeAci(dir, {name: 'example.com/listed'})
    await fetchInsecure(store, listed.file)
    const orphan = await makeAci(dir, {name: 'example.com/orphan'})
    const donor = ImageStore.open(path.join(dir, 'donor'))
    await fetchInsecure(donor, orphan.file)
    const key = storeKey(orphan.id)
    for (const file of [store.blobPath(key), store.layout.manifest(key)]) {
      fs.mkdirSync(path.dirname(file), {recursive: true})
      fs.copyFileSync(file.replace(store.layout.dir, donor.layout.dir), file)
    }
    return {store, key, listed: storeKey(listed.id)}
  }

  test('deletes the blobs and manifests no index entry names, and nothing listed', async (t) => {
    const {store, key, listed} = await withOrphan(t)
    assert.deepEqual(store.removeOrphans(), [key])
    assert.ok(!fs.existsSync(store.blobPath(key)))
    assert.ok(!fs.existsSync(store.layout.manifest(key)))
    assert.deepEqual(store.blobKeysOnDisk(), [listed])
    assert.ok(store.manifestBytes(listed).length > 0)
    assert.deepEqual(store.removeOrphans(), [])
  })

  test("an engine cache no index entry names is deleted; a listed image's is kept", async (t) => {
    const {store, listed} = await withOrphan(t)
    const orphanKey = `sha512-${'ab'.repeat(32)}`
    for (const key of [listed, orphanKey]) {
      fs.mkdirSync(path.join(store.layout.engineCache(key), 'kvm'), {recursive: true})
      fs.writeFileSync(path.join(store.layout.engineCache(key), 'kvm', 'base.raw'), 'disk')
    }
    assert.ok(store.removeOrphans().includes(orphanKey))
    assert.ok(!fs.existsSync(store.layout.engineCache(orphanKey)))
    assert.ok(fs.existsSync(path.join(store.layout.engineCache(listed), 'kvm', 'base.raw')))
    assert.ok(store.engineCacheBytes(listed) > 0, 'the kept cache is counted')
    assert.equal(store.engineCacheBytes(orphanKey), 0)
  })

  test('an orphan whose image lock is held (a commit in flight) is left alone', async (t) => {
    const {store, key} = await withOrphan(t)
    const lock = store.lockImage(key, true)
    try {
      assert.deepEqual(store.removeOrphans(), [])
      assert.ok(fs.existsSync(store.blobPath(key)))
    } finally {
      lock.release()
    }
    assert.deepEqual(store.removeOrphans(), [key])
  })

  test('a lost index deletes nothing, and no commit writes a new one over the stored images', async (t) => {
    const {store, key, listed} = await withOrphan(t)
    fs.rmSync(store.layout.indexFile)
    assert.deepEqual(store.removeOrphans(), [])
    assert.deepEqual(store.blobKeysOnDisk().sort(), [key, listed].sort())
    const other = await makeAci(path.dirname(store.layout.dir), {name: 'example.com/other'})
    await assert.rejects(fetchInsecure(store, other.file), {
      code: 'EINDEX',
      message: /it is missing, yet images are stored/,
    })
    assert.ok(!fs.existsSync(store.layout.indexFile))
  })

  test('a new store has an empty index from the start', (t) => {
    const store = ImageStore.open(path.join(tempDir(t), 'data'))
    assert.ok(!store.index.missing())
    assert.deepEqual(store.list(), [])
  })
})

describe('ImageStore.resolve', () => {
  test('by ID prefix, full ID, key, name, name:version and name,label=value', async (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const a1 = await makeAci(dir, {name: 'example.com/app', labels: {version: '1.0'}, files: {a: '1'}})
    const a2 = await makeAci(dir, {name: 'example.com/app', labels: {version: '2.0', arch: 'aarch64'}, files: {a: '2'}})
    const b = await makeAci(dir, {name: 'example.com/other', files: {b: '1'}})
    await fetchInsecure(store, a1.file)
    await fetchInsecure(store, a2.file)
    await fetchInsecure(store, b.file)
    const id = (ref: string): string => store.resolve(ref).id
    assert.equal(id(a1.id), a1.id)
    assert.equal(id(storeKey(a1.id)), a1.id)
    assert.equal(id(shortId(a2.id)), a2.id)
    assert.equal(id(b.id.slice(0, 7 + 12)), b.id)
    assert.equal(id('example.com/other'), b.id)
    assert.equal(id('example.com/app:1.0'), a1.id)
    assert.equal(id('example.com/app:2.0'), a2.id)
    assert.equal(id('example.com/app,arch=aarch64'), a2.id)
    assert.equal(id('example.com/app,arch=amd64'), a1.id)
    assert.equal(id('example.com/app:1.0,os=linux'), a1.id)
    assert.deepEqual(imageQuery('example.com/app:1.0,os=linux'), {
      name: 'example.com/app',
      labels: {version: '1.0', os: 'linux'},
    })
    const none = rejectsCode(() => store.resolve('example.com/app:3.0'), 'ENOIMAGE', /example\.com\/app:3\.0/)
    assert.match(none.hint ?? '', /rkt fetch/)
    rejectsCode(() => store.resolve('example.com/app,arch=s390x'), 'ENOIMAGE')
    rejectsCode(() => store.resolve('example.com/ap'), 'ENOIMAGE')
    const unused = [...'0123456789abcdef'].find((d) => ![a1, a2, b].some((x) => x.id.startsWith(`sha512-${d}`)))!
    const missing = rejectsCode(() => store.resolve(`sha512-${unused}`), 'ENOIMAGE', /^no image IDs found for "sha512-/)
    assert.match(missing.hint ?? '', /rkt image list/)
  })

  test('an invalid ID is a usage error before the store is consulted (SEC-41)', (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    for (const bad of ['sha512-../../etc/passwd', 'sha512-ABCD', 'sha512-ab\0']) {
      assert.throws(() => store.resolve(bad), UsageError)
    }
  })

  test('a prefix shared by two images is EAMBIGUOUS, never the first match (SEC-43)', async (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const byDigit = new Map<string, string>()
    let shared: [string, string, string] | undefined
    for (let i = 0; shared === undefined; i++) {
      assert.ok(i < 17, 'by the pigeonhole principle two of 17 IDs share a first digit')
      const {file, id} = await makeAci(dir, {name: `example.com/img${i}`, files: {f: String(i)}})
      await fetchInsecure(store, file)
      const digit = id.slice(7, 8)
      const before = byDigit.get(digit)
      if (before !== undefined) shared = [digit, before, id]
      byDigit.set(digit, id)
    }
    const [digit, x, y] = shared
    const err = rejectsCode(() => store.resolve(`sha512-${digit}`), 'EAMBIGUOUS', /^ambiguous image ID: "sha512-/)
    assert.ok(err.message.includes(shortId(x)) && err.message.includes(shortId(y)), err.message)
    assert.match(err.hint ?? '', /more digits/)
    // Enough digits to tell them apart resolve.
    let n = 1
    while (x.slice(0, 7 + n) === y.slice(0, 7 + n)) n++
    assert.equal(store.resolve(x.slice(0, 7 + n)).id, x)
    assert.equal(store.resolve(y.slice(0, 7 + n)).id, y)
  })
})

describe('ImageStore.remove', () => {
  test('deletes the index entry, the blob and the manifest; a second remove is ENOIMAGE', async (t) => {
    const dir = tempDir(t)
    const store = ImageStore.open(path.join(dir, 'data'))
    const keep = await makeAci(dir, {name: 'example.com/keep', files: {k: 'k'}})
    const gone = await makeAci(dir, {name: 'example.com/gone', files: {g: 'g'}})
    await fetchInsecure(store, keep.file)
    await fetchInsecure(store, gone.file)
    const key = storeKey(gone.id)
    store.remove(key)
    assert.deepEqual(
      store.list().map((r) => r.name),
      ['example.com/keep'],
    )
    assert.ok(!fs.existsSync(store.blobPath(key)))
    assert.ok(!fs.existsSync(path.join(store.layout.manifestRoot, key.slice(7, 9), key)))
    assert.ok(fs.existsSync(store.blobPath(storeKey(keep.id))))
    rejectsCode(() => store.remove(key), 'ENOIMAGE')
    rejectsCode(() => store.resolve(gone.id), 'ENOIMAGE')
    // It can be fetched again.
    await fetchInsecure(store, gone.file)
    assert.equal(store.resolve('example.com/gone').id, gone.id)
  })
})
