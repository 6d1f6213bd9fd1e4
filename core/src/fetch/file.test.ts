import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'
import zlib from 'node:zlib'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {packTar} from '../aci/testing.js'
import {formatError, hasCode, RktError} from '../errors.js'
import {ImageStore} from '../store/image-store.js'
import {storeKey} from '../store/ids.js'
import {fetchFile} from './file.js'
import type {FetchTimings} from './file.js'

interface Env {
  dir: string
  store: ImageStore
  globals: Globals
}

function setup(t: {after(fn: () => void): void}, insecure = true): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-fetchfile-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const data = path.join(dir, 'data')
  return {
    dir,
    store: ImageStore.open(data),
    globals: {
      dir: data,
      localConfig: path.join(dir, 'no-local'),
      systemConfig: path.join(dir, 'no-system'),
      userConfig: '',
      debug: false,
      insecure: new Set(insecure ? ['image'] : []),
      trustKeysFromHttps: false,
    },
  }
}

function manifestOf(name: string): Buffer {
  return Buffer.from(
    JSON.stringify({acKind: 'ImageManifest', acVersion: '0.8.11', name, labels: [{name: 'os', value: 'linux'}]}),
  )
}

/** An ACI built by buildAci from a manifest (any bytes) and a few files. */
async function makeAci(
  dir: string,
  manifest: Buffer,
  opts: {compression?: 'gzip' | 'none'; files?: Record<string, string | Buffer>} = {},
): Promise<{file: string; id: string; tarBytes: number}> {
  const tag = crypto.randomBytes(6).toString('hex')
  const layout = path.join(dir, `layout-${tag}`)
  fs.mkdirSync(path.join(layout, 'rootfs'), {recursive: true})
  fs.writeFileSync(path.join(layout, 'manifest'), manifest)
  for (const [p, content] of Object.entries(opts.files ?? {'etc/hello': 'hello\n'})) {
    fs.mkdirSync(path.dirname(path.join(layout, 'rootfs', p)), {recursive: true})
    fs.writeFileSync(path.join(layout, 'rootfs', p), content)
  }
  const file = path.join(dir, `image-${tag}.aci`)
  const r = await buildAci({layoutDir: layout, outFile: file, manifest, compression: opts.compression ?? 'gzip'})
  fs.rmSync(layout, {recursive: true})
  return {file, id: r.imageId, tarBytes: r.tarBytes}
}

/** Every file under a directory, relative. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}

/** The store holds nothing: no blob, no manifest copy, no staging file, no index record. */
function assertEmptyStore(store: ImageStore): void {
  assert.deepEqual(filesUnder(store.layout.blobRoot), [], 'no blob')
  assert.deepEqual(filesUnder(store.layout.manifestRoot), [], 'no manifest copy')
  assert.deepEqual(filesUnder(store.layout.tmpDir), [], 'no staging file')
  assert.deepEqual(store.list(), [], 'no index record')
  assert.deepEqual(
    fs.readdirSync(store.layout.dbDir).filter((n) => n.includes('.tmp')),
    [],
    'no temp index file',
  )
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<RktError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof RktError, String(err))
    assert.ok(hasCode(err, code), `expected ${code}: ${formatError(err, true)}`)
    return err
  }
  assert.fail(`expected ${code}`)
}

async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env[name]
  process.env[name] = value
  try {
    return await fn()
  } finally {
    if (old === undefined) delete process.env[name]
    else process.env[name] = old
  }
}

describe('fetchFile: failures leave nothing in the store', () => {
  test('an invalid manifest (bad name, not JSON, wrong kind)', async (t) => {
    const {dir, store, globals} = setup(t)
    const bad = [
      manifestOf('Not A Valid Name'),
      Buffer.from('{"acKind": "ImageManifest", '),
      Buffer.from(JSON.stringify({acKind: 'PodManifest', acVersion: '0.8.11'})),
    ]
    for (const m of bad) {
      const {file} = await makeAci(dir, m)
      const err = await rejectsCode(fetchFile(store, file, {globals}), 'ESCHEMA')
      assert.match(err.message, /image manifest .* is invalid/)
      assertEmptyStore(store)
    }
  })

  test('an image without a manifest', async (t) => {
    const {dir, store, globals} = setup(t)
    const file = path.join(dir, 'nomanifest.aci')
    fs.writeFileSync(file, await packTar([{name: 'rootfs/'}, {name: 'rootfs/etc/x', data: 'x'}]))
    const err = await rejectsCode(fetchFile(store, file, {globals}), 'EBADACI')
    assert.match(formatError(err), /no 'manifest' entry/)
    assertEmptyStore(store)
  })

  test('an unsafe archive entry (path traversal)', async (t) => {
    const {dir, store, globals} = setup(t)
    const file = path.join(dir, 'evil.aci')
    fs.writeFileSync(
      file,
      await packTar([
        {name: 'manifest', data: manifestOf('example.com/evil')},
        {name: 'rootfs/'},
        {name: 'rootfs/../../etc/passwd', data: 'root::0:0::/:/bin/sh\n'},
      ]),
    )
    await assert.rejects(fetchFile(store, file, {globals}), RktError)
    assertEmptyStore(store)
  })

  test('a truncated gzip image is EBADACI', async (t) => {
    const {dir, store, globals} = setup(t)
    const {file} = await makeAci(dir, manifestOf('example.com/app'), {files: {big: crypto.randomBytes(200_000)}})
    const whole = fs.readFileSync(file)
    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)))
    await rejectsCode(fetchFile(store, file, {globals}), 'EBADACI')
    assertEmptyStore(store)
  })

  test('an image larger than RKT_MAX_IMAGE_SIZE is ELIMIT naming the variable', async (t) => {
    const {dir, store, globals} = setup(t)
    const {file} = await makeAci(dir, manifestOf('example.com/big'), {files: {big: crypto.randomBytes(64 * 1024)}})
    const err = await withEnv('RKT_MAX_IMAGE_SIZE', '16KiB', () =>
      rejectsCode(fetchFile(store, file, {globals}), 'ELIMIT'),
    )
    assert.match(formatError(err), /RKT_MAX_IMAGE_SIZE=32KiB/)
    assertEmptyStore(store)
    // Under a limit it fits, the same file is fetched.
    const ok = await withEnv('RKT_MAX_IMAGE_SIZE', '1MiB', () => fetchFile(store, file, {globals}))
    assert.equal(store.list().length, 1)
    assert.equal(ok.record.name, 'example.com/big')
  })

  test('a malformed RKT_MAX_IMAGE_SIZE is a configuration error', async (t) => {
    const {dir, store, globals} = setup(t)
    const {file} = await makeAci(dir, manifestOf('example.com/app'))
    const err = await withEnv('RKT_MAX_IMAGE_SIZE', 'lots', () =>
      rejectsCode(fetchFile(store, file, {globals}), 'ECONFIG'),
    )
    assert.match(err.message, /RKT_MAX_IMAGE_SIZE/)
    assertEmptyStore(store)
  })

  test('without --insecure-options=image a missing signature is ENOSIG naming both ways out', async (t) => {
    const {dir, store, globals} = setup(t, false)
    const {file} = await makeAci(dir, manifestOf('example.com/app'))
    const err = await rejectsCode(fetchFile(store, file, {globals}), 'ENOSIG')
    assert.ok(err.message.includes(`${file.slice(0, -4)}.aci.asc`), err.message)
    assert.match(err.message, /^error opening signature file /, "rkt's words, which scripts match")
    assert.match(err.hint ?? '', /--signature/)
    assert.match(err.hint ?? '', /--insecure-options=image/)
    assertEmptyStore(store)
  })

  test('a missing file or a directory', async (t) => {
    const {dir, store, globals} = setup(t)
    await rejectsCode(fetchFile(store, path.join(dir, 'nope.aci'), {globals}), 'ENOENT')
    await rejectsCode(fetchFile(store, dir, {globals}), 'EBADACI')
    assertEmptyStore(store)
  })
})

describe('fetchFile: the pipeline', () => {
  test('gzip, bzip2, xz and uncompressed ACIs of one tar give the same image ID', async (t) => {
    const {dir, store, globals} = setup(t)
    const {
      file: tarFile,
      id,
      tarBytes,
    } = await makeAci(dir, manifestOf('example.com/app'), {
      compression: 'none',
      files: {'bin/tool': crypto.randomBytes(100_000), 'etc/conf': 'a=b\n'},
    })
    const tar = fs.readFileSync(tarFile)
    const variants: Record<string, string> = {none: tarFile}
    variants['gzip'] = path.join(dir, 'gz.aci')
    fs.writeFileSync(variants['gzip'], zlib.gzipSync(tar))
    for (const [tool, name] of [
      ['bzip2', 'bzip2'],
      ['xz', 'xz'],
    ] as const) {
      variants[name] = path.join(dir, `${name}.aci`)
      fs.writeFileSync(variants[name], execFileSync(tool, ['-c'], {input: tar, maxBuffer: 64 << 20}))
    }
    for (const [kind, file] of Object.entries(variants)) {
      const warnings: string[] = []
      const r = await fetchFile(store, file, {globals, onWarning: (w) => warnings.push(w)})
      assert.equal(r.record.id, id, kind)
      assert.equal(r.record.size, tarBytes, kind)
      assert.equal(r.signer, undefined)
      assert.ok(
        warnings.some((w) => /signature verification has been disabled/.test(w)),
        `${kind}: the user is told verification is off`,
      )
    }
    assert.equal(store.list().length, 1)
    const blob = store.blobPath(storeKey(id))
    assert.deepEqual(fs.readFileSync(blob), tar, 'the store keeps the uncompressed tar')
    assert.deepEqual(filesUnder(store.layout.tmpDir), [])
  })

  test('timings are filled when asked for; progress reaches the file size', async (t) => {
    const {dir, store, globals} = setup(t)
    const {file} = await makeAci(dir, manifestOf('example.com/app'), {files: {big: crypto.randomBytes(3 << 20)}})
    const timings: FetchTimings = {}
    let last: [number, number] = [0, 0]
    await fetchFile(store, file, {globals, timings, onProgress: (d, total) => (last = [d, total])})
    for (const k of ['decompress+hash+validate+stage', 'commit', 'total']) {
      assert.equal(typeof timings[k], 'number', k)
      assert.ok(timings[k]! >= 0, k)
    }
    assert.ok(timings['total']! >= timings['commit']!)
    const size = fs.statSync(file).size
    assert.deepEqual(last, [size, size])
  })

  test('returns the parsed manifest and the record of the stored image', async (t) => {
    const {dir, store, globals} = setup(t)
    const m = Buffer.from(
      JSON.stringify({
        acKind: 'ImageManifest',
        acVersion: '0.8.11',
        name: 'example.com/app',
        labels: [
          {name: 'version', value: '1.2.3'},
          {name: 'os', value: 'linux'},
        ],
      }),
    )
    const {file, id} = await makeAci(dir, m)
    const r = await fetchFile(store, file, {globals})
    assert.equal(r.manifest.name, 'example.com/app')
    assert.equal(r.record.id, id)
    assert.deepEqual(store.resolve('example.com/app:1.2.3'), r.record)
    assert.deepEqual(store.manifestBytes(r.record.key), m, 'the manifest is kept byte for byte')
  })
})
