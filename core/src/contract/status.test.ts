// podPid: the pod's process from `pid`, or from the only child of `ppid`, with real processes as parents.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, describe, test} from 'node:test'

import {PodPaths} from './paths.js'
import {podPid, readPidFile, writePidFile, writePodReady} from './status.js'

const procs: ChildProcess[] = []
const dirs: string[] = []
after(() => {
  for (const p of procs) p.kill('SIGKILL')
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
})

function podDir(): PodPaths {
  dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-podpid-')))
  return new PodPaths(dirs.at(-1)!)
}

/** A shell running `script`, once it has as many children as expected. */
async function parent(script: string, children: number): Promise<number> {
  const p = spawn('/bin/sh', ['-c', script], {stdio: 'ignore'})
  procs.push(p)
  const pid = p.pid!
  for (let i = 0; i < 200; i++) {
    const found = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)
    if (found.length === children) return pid
    await sleep(10)
  }
  throw new Error(`${script}: never had ${children} children`)
}

function childrenOf(pid: number): number[] {
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
}

describe('podPid', () => {
  test('the pid file when there is one', () => {
    const p = podDir()
    writePidFile(p.pid, 4242)
    writePidFile(p.ppid, 1)
    assert.equal(podPid(p), 4242)
  })

  test('else the only child of ppid, once it runs its own program; cached into pid with the mtime of ppid', async () => {
    const p = podDir()
    const sh = await parent(`exec 9<${p.root}; sleep 30 & wait`, 1) // 9: the pod lock's descriptor
    writePidFile(p.ppid, sh)
    const written = new Date(Date.now() + 1000) // after the parent started, as the run entrypoint writes it
    fs.utimesSync(p.ppid, written, written)
    const child = childrenOf(sh)[0]!
    // The child may still be the shell's fork for an instant before it execs sleep: poll.
    let found: number | undefined
    for (let i = 0; i < 100 && found === undefined; i++) {
      found = podPid(p)
      if (found === undefined) await sleep(10)
    }
    assert.equal(found, child)
    assert.equal(readPidFile(p.pid), child)
    assert.equal(fs.statSync(p.pid).mtimeMs, fs.statSync(p.ppid).mtimeMs, 'the start time rkt status shows')
  })

  test('nothing while the child is a fork still running the parent’s program, or there are several', async () => {
    const forked = podDir()
    const sh = await parent('(sleep 30; :) & wait', 1) // the subshell is a fork of sh
    writePidFile(forked.ppid, sh)
    assert.equal(podPid(forked), undefined)
    assert.equal(readPidFile(forked.pid), undefined, 'nothing cached')
    const two = podDir()
    writePidFile(two.ppid, await parent('sleep 30 & sleep 30 & wait', 2))
    assert.equal(podPid(two), undefined)
  })

  test('nothing when the ppid process does not hold the pod directory (a reused PID), or is gone', async () => {
    const reused = podDir()
    writePidFile(reused.ppid, await parent('sleep 30 & wait', 1))
    assert.equal(podPid(reused), undefined)
    const gone = podDir()
    writePidFile(gone.ppid, 999_999_999)
    assert.equal(podPid(gone), undefined)
    assert.equal(podPid(podDir()), undefined, 'neither file')
  })

  test('no clock involved: a ppid file that looks an hour older than its process (a stepped wall clock) is fine', async () => {
    const p = podDir()
    const sh = await parent(`exec 9<${p.root}; sleep 30 & wait`, 1)
    writePidFile(p.ppid, sh)
    const anHourAgo = new Date(Date.now() - 3600_000)
    fs.utimesSync(p.ppid, anHourAgo, anHourAgo)
    let found: number | undefined
    for (let i = 0; i < 100 && found === undefined; i++) {
      found = podPid(p)
      if (found === undefined) await sleep(10)
    }
    assert.equal(found, childrenOf(sh)[0])
  })
})

describe('writePodReady', () => {
  test('writes pid, then the ready link, replacing one an earlier run left', () => {
    const paths = podDir()
    fs.mkdirSync(path.dirname(paths.supervisorStatus), {recursive: true})
    fs.symlinkSync('starting', paths.supervisorStatus)
    writePodReady(paths, 4242)
    assert.equal(readPidFile(paths.pid), 4242)
    assert.equal(fs.readlinkSync(paths.supervisorStatus), 'ready')
    assert.deepEqual(fs.readdirSync(path.dirname(paths.supervisorStatus)), [path.basename(paths.supervisorStatus)])
  })
})
