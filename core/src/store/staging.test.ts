// Staging files and their cleanup: a file whose owner is alive (holds its lock) stays, a file whose owner
// died (SIGKILL drops the lock with the process) goes. The owner here is another process that inherited
// the staging file's descriptor, so it holds the very lock StagingFile.create took.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {cleanStaleStaging, StagingFile} from './staging.js'

let tmp: string
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-staging-test-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) c.kill('SIGKILL')
})

/** Creates a staging file and hands it (descriptor and lock) to a new process; this process lets go. */
async function stagedByOtherProcess(dir: string): Promise<{file: string; owner: ChildProcess}> {
  const s = StagingFile.create(dir)
  const owner = spawn('sleep', ['600'], {stdio: ['ignore', 'ignore', 'inherit', s.fd]})
  children.add(owner)
  await once(owner, 'spawn')
  s.close()
  return {file: s.path, owner}
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  children.delete(child)
}

function tmpDir(name: string): string {
  const dir = path.join(tmp, name)
  fs.mkdirSync(dir)
  return dir
}

describe('cleanStaleStaging', () => {
  test('keeps a staging file whose owner is alive, removes it once the owner is SIGKILLed', async () => {
    const dir = tmpDir('live-then-killed')
    const {file, owner} = await stagedByOtherProcess(dir)
    assert.equal(cleanStaleStaging(dir), 0)
    assert.ok(fs.existsSync(file), 'a live fetch keeps its staging file')
    await kill9(owner)
    assert.equal(cleanStaleStaging(dir), 1)
    assert.equal(fs.existsSync(file), false)
  })

  test('sorts live from dead among several', async () => {
    const dir = tmpDir('mixed')
    const live = await stagedByOtherProcess(dir)
    const dead = await stagedByOtherProcess(dir)
    const closed = StagingFile.create(dir)
    closed.close() // its writer exited normally without discarding it
    await kill9(dead.owner)
    assert.equal(cleanStaleStaging(dir), 2)
    assert.deepEqual(fs.readdirSync(dir), [path.basename(live.file)])
    await kill9(live.owner)
  })

  test('a staging file held by this process itself is kept (the lock is per open file description)', () => {
    const dir = tmpDir('own')
    const s = StagingFile.create(dir)
    try {
      fs.writeSync(s.fd, 'partial')
      s.sync()
      assert.equal(cleanStaleStaging(dir), 0)
      assert.ok(fs.existsSync(s.path))
    } finally {
      s.discard()
    }
    assert.equal(fs.existsSync(s.path), false)
  })

  test('does not follow symlinks and copes with a missing directory', () => {
    const dir = tmpDir('symlink')
    const outside = path.join(tmp, 'outside')
    fs.writeFileSync(outside, 'not ours')
    fs.symlinkSync(outside, path.join(dir, 'stage-link'))
    assert.equal(cleanStaleStaging(dir), 0)
    assert.ok(fs.existsSync(outside))
    assert.equal(cleanStaleStaging(path.join(tmp, 'missing')), 0)
  })

  test('a FIFO left in the staging directory neither hangs the sweep nor is removed', async () => {
    const dir = tmpDir('fifo')
    const {mknod} = await import('../sys/native.js')
    mknod(path.join(dir, 'stage-fifo'), 0o010600, 0, 0)
    assert.equal(cleanStaleStaging(dir), 0)
    assert.ok(fs.existsSync(path.join(dir, 'stage-fifo')))
  })
})
