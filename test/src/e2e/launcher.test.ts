// The CLI launcher (core/native/launch.c) end to end: bin/rkt and bin/actool as users run them. Which
// program it execs (strace), that it is found through any chain of symlinks, that the process it starts
// is the one the caller started (same PID, so signals and exit codes pass straight through), the
// NODE_EXTRA_CA_CERTS hand-over, what it costs at startup, and how the CLIs end when their output is a
// pipe nobody reads any more.
import assert from 'node:assert/strict'
import {spawn, spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {once} from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {FileLock} from '@rkt/core/sys/lock'

import {ACTOOL, requireTool, ROOT, RKT} from '../util/harness.js'

const DIST = path.join(ROOT, 'core', 'dist')

/** The environment of the user, without the CA hand-over variables (tests set them on purpose). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = {...process.env}
  delete env['NODE_EXTRA_CA_CERTS']
  delete env['RKT_NODE_EXTRA_CA_CERTS']
  return {...env, ...extra}
}

function run(file: string, args: string[], env = userEnv()): SpawnSyncReturns<string> {
  return spawnSync(file, args, {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000})
}

let tmp: string
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-launcher-test-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

/** One successful execve seen by strace. */
interface Exec {
  file: string
  argv: string[]
  env: string[]
}

/** Parses the quoted strings and string arrays of an strace execve line, from `i`. */
function parseExecve(line: string): Exec | undefined {
  const m = /^\d+\s+execve\(/.exec(line)
  if (!m || !/\) = 0$/.test(line)) return undefined
  let i = m[0].length
  const str = (): string => {
    assert.equal(line[i], '"', `a string at ${i} of ${line}`)
    let out = ''
    for (i++; line[i] !== '"'; i++) out += line[i] === '\\' ? line[++i] : line[i]
    i++
    return out
  }
  const arr = (): string[] => {
    const out: string[] = []
    assert.equal(line[i], '[', `an array at ${i} of ${line}`)
    i++
    while (line[i] !== ']') {
      out.push(str())
      if (line.startsWith(', ', i)) i += 2
    }
    i++
    return out
  }
  const file = str()
  i += 2
  const argv = arr()
  i += 2
  const env = arr()
  return {file, argv, env}
}

/** Runs a command under strace; returns its result and every execve that succeeded, in order. */
function traced(file: string, args: string[], env = userEnv()): {r: SpawnSyncReturns<string>; execs: Exec[]} {
  const log = path.join(tmp, `strace-${process.hrtime.bigint()}.txt`)
  const r = spawnSync('strace', ['-f', '-qq', '-v', '-s', '65536', '-e', 'trace=execve', '-o', log, file, ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
  const execs = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .map(parseExecve)
    .filter((e): e is Exec => e !== undefined)
  return {r, execs}
}

/** The node binary a stamp names (its first line). */
function stampNode(dist: string): string {
  return fs.readFileSync(path.join(dist, 'cli', 'rkt.blob.stamp'), 'utf8').split('\n')[0]!
}

const VERSION_LINES = [
  /^rkt Version: 1\.30\.0$/,
  /^appc Version: 0\.8\.11$/,
  /^Go Version: none \(Node\.js v\d+\.\d+\.\d+\)$/,
  /^Go OS\/Arch: linux\/\w+$/,
  /^Features: -TPM -SDJOURNAL$/,
]

function assertVersion(r: SpawnSyncReturns<string>): void {
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`)
  const lines = r.stdout.split('\n')
  assert.equal(lines.pop(), '', 'ends with a newline')
  assert.equal(lines.length, VERSION_LINES.length, r.stdout)
  lines.forEach((l, i) => assert.match(l, VERSION_LINES[i]!))
}

/** A copy of the built installation (launcher, CLI bundles and snapshots) under `dir`. */
function copyDist(dir: string): string {
  const dist = path.join(dir, 'dist')
  for (const sub of ['bin', 'cli', 'native']) fs.cpSync(path.join(DIST, sub), path.join(dist, sub), {recursive: true})
  return dist
}

describe('launcher', () => {
  let reference: string
  before(() => {
    const r = run(RKT, ['version'])
    assertVersion(r)
    reference = r.stdout
  })

  test('rkt version exits 0 with the five version lines', () => {
    const r = run(RKT, ['version'])
    assertVersion(r)
    assert.equal(r.stderr, '')
    assert.equal(run(RKT, ['--version']).stdout, r.stdout)
  })

  test('runs the snapshot when its stamp names this node', async (t) => {
    if (!(await requireTool(t, 'strace'))) return
    const {r, execs} = traced(RKT, ['version'])
    assert.equal(r.stdout, reference)
    assert.equal(execs.length, 2, 'the launcher, then node: nothing else')
    assert.equal(execs[0]!.file, RKT)
    assert.equal(execs[1]!.file, stampNode(DIST))
    assert.deepEqual(execs[1]!.argv, [
      stampNode(DIST),
      '--snapshot-blob',
      path.join(DIST, 'cli', 'rkt.blob'),
      '--',
      'version',
    ])
  })

  test('a copied installation runs its own snapshot, and its bundle when the stamp does not match', async (t) => {
    if (!(await requireTool(t, 'strace'))) return
    const dir = path.join(tmp, 'copy')
    const dist = copyDist(dir)
    const rkt = path.join(dir, 'rkt')
    fs.symlinkSync(path.join(dist, 'bin', 'launch'), rkt)
    const stamp = path.join(dist, 'cli', 'rkt.blob.stamp')
    const good = fs.readFileSync(stamp, 'utf8')

    const snap = traced(rkt, ['version'])
    assert.equal(snap.r.stdout, reference)
    assert.deepEqual(snap.execs.at(-1)!.argv.slice(1, 3), ['--snapshot-blob', path.join(dist, 'cli', 'rkt.blob')])

    const [node, identity] = good.split('\n') as [string, string]
    const [dev, ino, size, sec, nsec] = identity.split(' ')
    const mismatches: Record<string, string | undefined> = {
      'another size': `${node}\n${dev} ${ino} ${Number(size) + 1} ${sec} ${nsec}\n`,
      'another mtime': `${node}\n${dev} ${ino} ${size} ${sec} ${Number(nsec) + 1}\n`,
      'another binary': `/bin/sh\n${dev} ${ino} ${size} ${sec} ${nsec}\n`,
      'a relative path': `${path.basename(node)}\n${identity}\n`,
      'no identity line': `${node}\n`,
      garbage: '\0\0\0 not a stamp',
      'no stamp at all': undefined,
    }
    for (const [what, content] of Object.entries(mismatches)) {
      if (content === undefined) fs.rmSync(stamp)
      else fs.writeFileSync(stamp, content)
      const {r, execs} = traced(rkt, ['version'])
      assert.equal(r.stdout, reference, `${what}: same output from the bundle (${r.stderr})`)
      assert.deepEqual(execs.at(-1)!.argv, ['node', path.join(dist, 'cli', 'rkt.cjs'), 'version'], what)
      assert.ok(!execs.some((e) => e.argv.includes('--snapshot-blob')), `${what}: never the snapshot`)
    }

    // The bundle needs node on PATH; without it the launcher says so and fails like rkt fails.
    const noNode = run(rkt, ['version'], userEnv({PATH: '/nonexistent'}))
    assert.equal(noNode.status, 254)
    assert.match(noNode.stderr, /cannot start node/)
  })

  test('is found through a chain of symlinks and through PATH', () => {
    const chain = path.join(tmp, 'chain')
    fs.mkdirSync(path.join(chain, 'x'), {recursive: true})
    fs.symlinkSync(RKT, path.join(chain, 'x', 'rkt')) // /tmp/…/x/rkt -> <repo>/bin/rkt -> ../core/dist/bin/launch
    fs.symlinkSync('x/rkt', path.join(chain, 'rkt')) // and a relative link to that link
    assertVersion(run(path.join(chain, 'x', 'rkt'), ['version']))
    assertVersion(run(path.join(chain, 'rkt'), ['version']))
    // argv[0] without a slash, as a shell passes it
    const viaPath = spawnSync('rkt', ['version'], {
      env: userEnv({PATH: `${path.join(chain, 'x')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`}),
      encoding: 'utf8',
    })
    assertVersion(viaPath)
    assert.equal(viaPath.stdout, reference)
  })

  test('the name of the link picks the CLI', () => {
    const dir = path.join(tmp, 'names')
    fs.mkdirSync(dir)
    fs.symlinkSync(RKT, path.join(dir, 'actool')) // named actool, pointing at bin/rkt
    fs.symlinkSync(ACTOOL, path.join(dir, 'rkt-1.30')) // any other name is rkt
    const actool = run(path.join(dir, 'actool'), ['help'])
    assert.equal(actool.status, 0, actool.stderr)
    assert.match(actool.stdout, /\$ actool /)
    assert.doesNotMatch(actool.stdout, /\$ rkt /)
    assert.deepEqual(run(ACTOOL, ['help']).stdout, actool.stdout)
    assertVersion(run(path.join(dir, 'rkt-1.30'), ['version']))
  })

  describe('the process is the one the caller started', () => {
    /** Starts `rkt image rebuild-index` against a store whose index lock we hold: it waits, as node. */
    async function blockedRkt(
      dataDir: string,
    ): Promise<{child: ReturnType<typeof spawn>; lock: FileLock; output: () => string}> {
      fs.mkdirSync(path.join(dataDir, 'cas', 'db'), {recursive: true})
      const lock = FileLock.onFile(path.join(dataDir, 'cas', 'db', 'index.lock'), {exclusive: true, wait: false})
      const child = spawn(RKT, ['image', 'rebuild-index', `--dir=${dataDir}`], {
        env: userEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d))
      const pid = child.pid!
      // Blocked in flock(2): /proc/locks lists it as a waiter ("-> FLOCK … <pid> …").
      const waiter = new RegExp(`-> FLOCK\\s+\\S+\\s+\\S+\\s+${pid}\\s`)
      const deadline = Date.now() + 20_000
      while (!waiter.test(fs.readFileSync('/proc/locks', 'utf8'))) {
        if (child.exitCode !== null || Date.now() > deadline) {
          lock.release()
          child.kill('SIGKILL')
          assert.fail(`rkt did not wait for the index lock: exit ${child.exitCode}: ${out}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return {child, lock, output: () => out}
    }

    test('the launcher has become node: same PID', async () => {
      const {child, lock} = await blockedRkt(path.join(tmp, 'store-pid'))
      try {
        const pid = child.pid!
        assert.equal(fs.realpathSync(`/proc/${pid}/exe`), fs.realpathSync(stampNode(DIST)))
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
        assert.deepEqual(cmdline.slice(1), [
          '--snapshot-blob',
          path.join(DIST, 'cli', 'rkt.blob'),
          '--',
          'image',
          'rebuild-index',
          `--dir=${path.join(tmp, 'store-pid')}`,
        ])
        assert.equal(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s*(\d+)$/m)?.[1], String(process.pid))
      } finally {
        child.kill('SIGKILL')
        lock.release()
      }
    })

    test('a signal sent to the PID the caller got reaches rkt', async () => {
      const {child, lock} = await blockedRkt(path.join(tmp, 'store-signal'))
      try {
        const exited = once(child, 'exit')
        process.kill(child.pid!, 'SIGTERM')
        const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null]
        assert.equal(signal, 'SIGTERM', `exit ${code}`)
      } finally {
        lock.release()
      }
    })

    test('its exit status is the caller’s', async () => {
      const {child, lock, output} = await blockedRkt(path.join(tmp, 'store-exit'))
      const exited = once(child, 'exit')
      lock.release() // now it proceeds
      const [code] = (await exited) as [number | null]
      assert.equal(code, 0, output())
      assert.match(output(), /indexed 0 image/)

      assert.equal(run(RKT, ['no-such-command']).status, 2, 'usage errors exit 2')
      const missing = run(RKT, ['image', 'cat-manifest', 'sha512-0000', `--dir=${path.join(tmp, 'store-exit')}`])
      assert.equal(missing.status, 254, `failures exit 254: ${missing.stderr}`)
    })
  })

  test('NODE_EXTRA_CA_CERTS is handed over to the CLI, not read by node at startup', async (t) => {
    const env = userEnv({NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem'})
    const control = run(process.execPath, ['-e', '0'], env)
    assert.match(control.stderr, /Ignoring extra certs/, 'node itself reads the variable eagerly')

    const r = run(RKT, ['version'], env)
    assertVersion(r)
    assert.doesNotMatch(r.stderr, /Ignoring extra certs/)
    assert.equal(r.stderr, '')

    if (!(await requireTool(t, 'strace'))) return
    const {execs} = traced(RKT, ['version'], env)
    const nodeEnv = execs.at(-1)!.env
    assert.ok(nodeEnv.includes('RKT_NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem'), 'handed over under its other name')
    assert.ok(!nodeEnv.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')), 'and not seen by node at startup')
    assert.deepEqual(
      nodeEnv.filter((e) => !e.startsWith('RKT_NODE_EXTRA_CA_CERTS=')).sort(),
      execs[0]!.env.filter((e) => !e.startsWith('NODE_EXTRA_CA_CERTS=')).sort(),
      'the rest of the environment is passed unchanged',
    )
  })
})

describe('output to a pipe whose reader is gone', () => {
  /** Runs a CLI with its stdout a pipe already closed for reading (a FIFO opened, then closed, by its reader). */
  async function intoClosedPipe(file: string, args: string[]) {
    const fifo = path.join(tmp, `fifo-${process.hrtime.bigint()}`)
    spawnSync('mkfifo', [fifo])
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY)
    fs.closeSync(reader)
    const child = spawn(file, args, {env: userEnv(), stdio: ['ignore', writer, 'pipe']})
    fs.closeSync(writer)
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null]
    return {code, signal, stderr}
  }

  // As coreutils and Go programs (rkt among them): killed by SIGPIPE, silently; a shell reports 141.
  for (const [file, args] of [
    [RKT, ['image', 'list']],
    [RKT, ['list']],
    [RKT, ['version']],
    [ACTOOL, ['cat-manifest', path.join(DIST, 'stage1-images', 'stage1-fly.aci')]],
  ] as const) {
    test(`${path.basename(file)} ${args[0]} ${args[0] === 'image' ? args[1] : ''} dies of SIGPIPE without a word`, async () => {
      const dir = file === RKT ? [`--dir=${path.join(tmp, 'pipe-store')}`] : []
      const r = await intoClosedPipe(file, [...args, ...dir])
      assert.deepEqual(r, {code: null, signal: 'SIGPIPE', stderr: ''})
    })
  }

  test('any other write error on stdout is reported, and the command fails', () => {
    const full = fs.openSync('/dev/full', 'w')
    try {
      const r = spawnSync(RKT, ['version'], {env: userEnv(), encoding: 'utf8', stdio: ['ignore', full, 'pipe']})
      assert.equal(r.status, 254)
      assert.equal(r.stderr, 'rkt: cannot write to standard output: ENOSPC: no space left on device, write\n')
    } finally {
      fs.closeSync(full)
    }
  })
})
