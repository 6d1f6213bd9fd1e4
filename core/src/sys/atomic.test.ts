// writeFileAtomic: the new content whole, or the old content and no temp file left behind.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {fsyncDir, tempPathFor, writeFileAtomic} from './atomic.js'

let tmp: string
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-atomic-test-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

function freshDir(name: string): string {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  return dir
}

describe('writeFileAtomic', () => {
  test('writes the content with the given mode and leaves no temp file', () => {
    const dir = freshDir('new')
    const file = path.join(dir, 'index.json')
    writeFileAtomic(file, '{"a":1}', 0o600)
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}')
    assert.equal(fs.statSync(file).mode & 0o777, 0o600)
    assert.deepEqual(fs.readdirSync(dir), ['index.json'])
  })

  test('replaces an existing file (default mode 0644, bytes as given)', () => {
    const dir = freshDir('replace')
    const file = path.join(dir, 'f')
    fs.writeFileSync(file, 'old', {mode: 0o600})
    writeFileAtomic(file, new Uint8Array([0, 1, 2]))
    assert.deepEqual(fs.readFileSync(file), Buffer.from([0, 1, 2]))
    assert.equal(fs.statSync(file).mode & 0o777, 0o644)
    assert.deepEqual(fs.readdirSync(dir), ['f'])
  })

  test('a failing rename (the target is a directory) leaves the target as it was and no temp file', () => {
    const dir = freshDir('rename-fails')
    const target = path.join(dir, 'target')
    fs.mkdirSync(target)
    fs.writeFileSync(path.join(target, 'inside'), 'kept')
    assert.throws(() => writeFileAtomic(target, 'new'), {code: 'EISDIR'})
    assert.ok(fs.statSync(target).isDirectory())
    assert.equal(fs.readFileSync(path.join(target, 'inside'), 'utf8'), 'kept')
    assert.deepEqual(fs.readdirSync(dir), ['target'])
  })

  test('a failing write (file size limit) keeps the old content and leaves no temp file', () => {
    const dir = freshDir('write-fails')
    const file = path.join(dir, 'f')
    fs.writeFileSync(file, 'old content')
    // Another process under RLIMIT_FSIZE: its writes beyond 4 KiB fail with EFBIG (Node ignores SIGXFSZ).
    const self = fileURLToPath(import.meta.url)
    const fromSource = self.endsWith('.ts')
    const module = path.join(path.dirname(self), fromSource ? 'atomic.ts' : 'atomic.js')
    const script = `
const {writeFileAtomic} = await import(process.argv[1])
try {
  writeFileAtomic(process.argv[2], Buffer.alloc(100000, 'n'))
  console.log('written')
} catch (err) {
  console.log(err.code)
}`
    const r = spawnSync(
      'prlimit',
      [
        '--fsize=4096',
        process.execPath,
        ...(fromSource ? ['--import', 'tsx'] : []),
        '--input-type=module',
        '-e',
        script,
        module,
        file,
      ],
      {cwd: path.dirname(self), encoding: 'utf8'},
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'EFBIG')
    assert.equal(fs.readFileSync(file, 'utf8'), 'old content')
    assert.deepEqual(fs.readdirSync(dir), ['f'])
  })

  test('a failing write in this process (bad data) keeps the old content and leaves no temp file', () => {
    const dir = freshDir('bad-data')
    const file = path.join(dir, 'f')
    fs.writeFileSync(file, 'old')
    assert.throws(() => writeFileAtomic(file, 42 as unknown as string), {code: 'ERR_INVALID_ARG_TYPE'})
    assert.equal(fs.readFileSync(file, 'utf8'), 'old')
    assert.deepEqual(fs.readdirSync(dir), ['f'])
  })

  test('temp names are hidden siblings, unique per call', () => {
    const file = path.join(tmp, 'x', 'name')
    const a = tempPathFor(file)
    const b = tempPathFor(file)
    assert.equal(path.dirname(a), path.dirname(file))
    assert.match(path.basename(a), new RegExp(`^\\.name\\.tmp-${process.pid}-[0-9a-f]{8}$`))
    assert.notEqual(a, b)
  })
})

describe('fsyncDir', () => {
  test('syncs a directory and fails on a missing one', () => {
    fsyncDir(tmp)
    assert.throws(() => fsyncDir(path.join(tmp, 'missing')), {code: 'ENOENT'})
  })
})
