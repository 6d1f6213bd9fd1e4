import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {RktError} from '../errors.js'
import {CorruptIndexError, INDEX_FORMAT, INDEX_VERSION, IndexFile} from './index-file.js'
import type {ImageRecord} from './index-file.js'

const self = fileURLToPath(import.meta.url)
const here = path.dirname(self)
// Children run against whatever this test runs from: the TypeScript sources (through tsx) or the compiled dist/.
const fromSource = self.endsWith('.ts')
const repoRoot = path.resolve(here, '../../..')

function tempIndex(t: {after(fn: () => void): void}): {dir: string; index: IndexFile} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-index-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  return {dir, index: new IndexFile(path.join(dir, 'index.json'), path.join(dir, 'index.lock'))}
}

function record(seed: string, extra: Partial<ImageRecord> = {}): ImageRecord {
  const id = `sha512-${crypto.createHash('sha512').update(seed).digest('hex')}`
  return {
    id,
    key: id.slice(0, 7 + 64),
    name: `example.com/${seed}`,
    labels: [{name: 'version', value: '1.0'}],
    size: 1024,
    importTime: 1_700_000_000_000,
    lastUsed: 1_700_000_000_000,
    treeStoreSize: 0,
    ...extra,
  }
}

function writeDoc(file: string, doc: unknown): void {
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
}

function assertCorrupt(index: IndexFile, what: RegExp): void {
  assert.throws(
    () => index.read(),
    (err: unknown) => {
      assert.ok(err instanceof CorruptIndexError, String(err))
      assert.equal(err.code, 'EINDEX')
      assert.ok(err.message.includes(index.file), err.message)
      assert.match(err.message, what)
      assert.match(err.hint ?? '', /rkt image rebuild-index/)
      return true
    },
  )
}

/** Runs an ES module script in a child node, from the sources or dist like this test. */
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

const moduleUrl = JSON.stringify(path.join(here, fromSource ? 'index-file.ts' : 'index-file.js'))

describe('IndexFile.read', () => {
  test('a missing index reads as empty', (t) => {
    const {dir, index} = tempIndex(t)
    assert.ok(index.missing())
    assert.deepEqual(index.read(), [])
    assert.deepEqual(fs.readdirSync(dir), [], 'reading creates nothing')
  })

  test('round-trips what was written', (t) => {
    const {index} = tempIndex(t)
    const recs = [record('a'), record('b', {labels: [], treeStoreSize: 7})]
    index.write(recs)
    assert.ok(!index.missing())
    assert.deepEqual(index.read(), recs)
    const doc = JSON.parse(fs.readFileSync(index.file, 'utf8')) as {format: string; version: number}
    assert.equal(doc.format, INDEX_FORMAT)
    assert.equal(doc.version, INDEX_VERSION)
  })

  test('corrupt JSON, an empty or truncated file fail closed with EINDEX naming rebuild-index (SEC-45)', (t) => {
    const {index} = tempIndex(t)
    index.write([record('a'), record('b')])
    const whole = fs.readFileSync(index.file)
    fs.writeFileSync(index.file, whole.subarray(0, Math.floor(whole.length / 2)))
    assertCorrupt(index, /not valid JSON/)
    writeDoc(index.file, '')
    assertCorrupt(index, /not valid JSON/)
    fs.writeFileSync(index.file, crypto.randomBytes(512))
    assertCorrupt(index, /not valid JSON/)
  })

  test('a JSON file that is not an index (wrong format tag, not an object) is EINDEX', (t) => {
    const {index} = tempIndex(t)
    writeDoc(index.file, {format: 'something else', version: 1, images: []})
    assertCorrupt(index, /not an image index/)
    writeDoc(index.file, {version: 1, images: []})
    assertCorrupt(index, /not an image index/)
    writeDoc(index.file, 'null')
    assertCorrupt(index, /not an image index/)
    writeDoc(index.file, '[1,2]')
    assertCorrupt(index, /not an image index/)
  })

  test('an index without a usable version is corrupt, not "from a newer rkt"', (t) => {
    const {index} = tempIndex(t)
    for (const version of [undefined, '1', null, 0, -1, 0.5]) {
      writeDoc(index.file, {format: INDEX_FORMAT, version, images: []})
      assertCorrupt(index, /version/)
    }
  })

  test('"images" not a list, or a malformed entry, is EINDEX naming the entry', (t) => {
    const {index} = tempIndex(t)
    writeDoc(index.file, {format: INDEX_FORMAT, version: 1, images: {}})
    assertCorrupt(index, /"images" is not a list/)
    const good = record('good')
    const bad: unknown[] = [
      null,
      'sha512-abc',
      {...good, id: '../../etc/passwd'},
      {...good, id: good.id.toUpperCase()},
      {...good, key: record('other').key}, // key of another ID
      {...good, key: '../../x'},
      {...good, name: 1},
      {...good, labels: 'x'},
      {...good, size: '1024'},
      {...good, lastUsed: undefined},
    ]
    for (const b of bad) {
      writeDoc(index.file, {format: INDEX_FORMAT, version: 1, images: [good, b]})
      assertCorrupt(index, /entry 1 is malformed/)
    }
  })

  test('an index from a newer version is refused with an error naming that version', (t) => {
    const {index} = tempIndex(t)
    writeDoc(index.file, {format: INDEX_FORMAT, version: INDEX_VERSION + 1, images: []})
    assert.throws(
      () => index.read(),
      (err: unknown) => {
        assert.ok(err instanceof RktError)
        assert.ok(!(err instanceof CorruptIndexError), 'a newer index is not corrupt: rebuilding would lose it')
        assert.equal(err.code, 'EINDEX')
        assert.match(err.message, new RegExp(`format version ${INDEX_VERSION + 1}\\b`))
        assert.match(err.hint ?? '', new RegExp(`up to ${INDEX_VERSION}\\b`))
        return true
      },
    )
  })

  test('an unreadable index (a directory in its place) is EINDEX, not "empty"', (t) => {
    const {index} = tempIndex(t)
    fs.mkdirSync(index.file)
    assertCorrupt(index, /cannot read it/)
  })
})

describe('IndexFile.write and update', () => {
  test('write is atomic: no temp file left beside the index, mode 0640', (t) => {
    const {dir, index} = tempIndex(t)
    index.write([record('a')])
    index.update((images) => {
      images.push(record('b'))
    })
    index.write([record('c')])
    assert.deepEqual(fs.readdirSync(dir).sort(), ['index.json', 'index.lock'])
    assert.equal(fs.statSync(index.file).mode & 0o777, 0o640)
  })

  test('update returns the callback result and persists its changes', (t) => {
    const {index} = tempIndex(t)
    index.write([record('a')])
    const n = index.update((images) => {
      images[0]!.lastUsed = 5
      images.push(record('b'))
      return images.length
    })
    assert.equal(n, 2)
    const recs = index.read()
    assert.equal(recs.length, 2)
    assert.equal(recs[0]!.lastUsed, 5)
  })

  test('update on a corrupt index throws and leaves the file as it was', (t) => {
    const {index} = tempIndex(t)
    writeDoc(index.file, '{"format": "rkt-ts image index", "version": 1, "images": [')
    const before = fs.readFileSync(index.file)
    let called = false
    assert.throws(
      () =>
        index.update(() => {
          called = true
        }),
      CorruptIndexError,
    )
    assert.equal(called, false)
    assert.deepEqual(fs.readFileSync(index.file), before)
  })

  test('concurrent updates from many processes: every record present, none lost or duplicated', async (t) => {
    const {dir, index} = tempIndex(t)
    const procs = 8
    const each = 5
    const script = (p: number): string => `
      import crypto from 'node:crypto'
      import {IndexFile} from ${moduleUrl}
      const index = new IndexFile(${JSON.stringify(index.file)}, ${JSON.stringify(index.lockFile)})
      for (let i = 0; i < ${each}; i++) {
        const id = 'sha512-' + crypto.createHash('sha512').update('p${p}-' + i).digest('hex')
        index.update((images) => {
          images.push({id, key: id.slice(0, 71), name: 'example.com/p${p}-' + i, labels: [], size: i,
            importTime: Date.now(), lastUsed: Date.now(), treeStoreSize: 0})
        })
      }
      console.log('done')`
    const results = await Promise.all(Array.from({length: procs}, (_, p) => runChild(script(p))))
    for (const r of results) assert.equal(r.stdout.trim(), 'done', r.stderr)
    const names = index
      .read()
      .map((r) => r.name)
      .sort()
    const expected = []
    for (let p = 0; p < procs; p++) for (let i = 0; i < each; i++) expected.push(`example.com/p${p}-${i}`)
    assert.deepEqual(names, expected.sort())
    assert.deepEqual(fs.readdirSync(dir).sort(), ['index.json', 'index.lock'])
  })

  test('a reader never sees a torn index while another process rewrites it (FI-04)', async (t) => {
    const {index} = tempIndex(t)
    index.write([])
    const script = `
      import crypto from 'node:crypto'
      import {IndexFile} from ${moduleUrl}
      const index = new IndexFile(${JSON.stringify(index.file)}, ${JSON.stringify(index.lockFile)})
      for (let i = 0; i < 150; i++) {
        const id = 'sha512-' + crypto.createHash('sha512').update('r' + i).digest('hex')
        index.update((images) => {
          images.push({id, key: id.slice(0, 71), name: 'example.com/' + 'x'.repeat(200) + i, labels: [],
            size: i, importTime: 0, lastUsed: 0, treeStoreSize: 0})
        })
      }`
    const child = runChild(script)
    let finished = false
    void child.then(() => (finished = true))
    let reads = 0
    let last = 0
    while (!finished) {
      const n = index.read().length // throws on a torn file
      assert.ok(n >= last, 'records never disappear')
      last = n
      reads++
      await new Promise((r) => setImmediate(r))
    }
    const r = await child
    assert.equal(r.code, 0, r.stderr)
    assert.equal(index.read().length, 150)
    assert.ok(reads > 1)
  })
})
