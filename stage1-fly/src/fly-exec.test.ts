// fly-exec (stage1-fly/native/fly-exec.c), the fly stage1's supervisor and enter helper, run for real: a
// busybox rootfs in a temp dir with /proc mounted (as the fly run entrypoint mounts it), real processes,
// real signals, real locks. Needs root (chroot, setuid) and `npm run build` (the binary and the addon).
import assert from 'node:assert/strict'
import {spawn, type ChildProcess, type StdioOptions} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {flock, LOCK_EX, LOCK_NB, MNT_DETACH, mount, umount2} from '@rkt/core/sys/native'
import {isRoot, skipUnless} from '@rkt/core/testing'

const flyExec = path.resolve(import.meta.dirname, '..', 'dist', 'fly-exec')
const skip = skipUnless(isRoot, 'needs root (chroot, setuid)')

let base = '' // temp dir: ROOT (the app's rootfs) and the host-side state files of each test
let root = ''
let procMounted = false
let seq = 0

interface Creds {
  cwd?: string
  uid?: number | string
  gid?: number
  groups?: string
  cgroups?: readonly string[]
}

interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function collect(child: ChildProcess): Promise<Result> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr}))
  })
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** One test's files: `dir` on the host (outside the root) and `t`, a scratch dir inside the root. */
class Case {
  readonly dir: string
  readonly t: string // in-root path
  readonly status: string
  readonly pidFile: string
  readonly pgidFile: string
  readonly started: string
  readonly ready: string
  readonly envFile: string

  constructor(env: string[] = []) {
    this.dir = path.join(base, `case${++seq}`)
    fs.mkdirSync(this.dir)
    this.t = `/tmp/case${seq}`
    fs.mkdirSync(this.host(this.t), {mode: 0o777})
    fs.chmodSync(this.host(this.t), 0o777)
    this.status = path.join(this.dir, 'status')
    this.pidFile = path.join(this.dir, 'pid')
    this.pgidFile = path.join(this.dir, 'pgid')
    this.started = path.join(this.dir, 'started')
    this.ready = path.join(this.dir, 'supervisor-status')
    this.envFile = path.join(this.dir, 'env')
    fs.writeFileSync(this.envFile, ['PATH=/bin', `T=${this.t}`, ...env].map((l) => `${l}\n`).join(''))
  }

  /** The host path of a path inside the root. */
  host(p: string): string {
    return path.join(root, p)
  }

  exists(inRoot: string): boolean {
    return fs.existsSync(this.host(inRoot))
  }

  /** The options run and enter share. */
  common(opts: Creds = {}): string[] {
    const a = ['--root', root, '--cwd', opts.cwd ?? '/', '--uid', `${opts.uid ?? 0}`, '--gid', `${opts.gid ?? 0}`]
    if (opts.groups !== undefined) a.push('--groups', opts.groups)
    for (const dir of opts.cgroups ?? []) a.push('--cgroup', dir)
    return [...a, '--env-file', this.envFile]
  }

  args(opts: Creds & {lockFd?: number} = {}): string[] {
    const a = ['run', ...this.common(opts), '--status', this.status, '--pid-file', this.pidFile]
    a.push('--pgid-file', this.pgidFile, '--started-file', this.started, '--ready-link', this.ready)
    if (opts.lockFd !== undefined) a.push('--lock-fd', `${opts.lockFd}`)
    return a
  }

  /** Starts `fly-exec run … -- /bin/sh -c script`. */
  run(
    script: string,
    opts: Parameters<Case['args']>[0] & {stdio?: StdioOptions; detached?: boolean} = {},
  ): ChildProcess {
    return spawn(flyExec, [...this.args(opts), '--', '/bin/sh', '-c', script], {
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    })
  }

  appPid(): number {
    return Number(fs.readFileSync(this.pidFile, 'utf8'))
  }
}

/** Fields of /proc/<pid>/status as strings ("Uid" → "1000\t1000\t1000\t1000"). */
function procStatus(pid: number | string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim())
  }
  return m
}

function ppid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

function pgid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

const shq = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

describe('fly-exec', {skip}, () => {
  before(() => {
    assert.ok(fs.existsSync(flyExec), `${flyExec} is missing: run npm run build`)
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'fly-exec-test-'))
    root = path.join(base, 'rootfs')
    for (const d of ['bin', 'etc', 'proc', 'home/app']) fs.mkdirSync(path.join(root, d), {recursive: true})
    fs.mkdirSync(path.join(root, 'tmp'), {mode: 0o1777})
    fs.chmodSync(path.join(root, 'tmp'), 0o1777)
    fs.chownSync(path.join(root, 'home/app'), 1000, 1000)
    fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'))
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755)
    for (const a of ['sh', 'env', 'id', 'cat', 'sleep', 'touch', 'echo', 'readlink', 'kill', 'pwd', '[', 'test'])
      fs.symlinkSync('busybox', path.join(root, 'bin', a))
    fs.writeFileSync(
      path.join(root, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
    )
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n')
    mount('proc', path.join(root, 'proc'), 'proc', 0)
    procMounted = true
  })

  after(() => {
    if (!base) return
    if (procMounted) umount2(path.join(root, 'proc'), MNT_DETACH)
    fs.rmSync(base, {recursive: true, force: true})
  })

  for (const code of [0, 7]) {
    it(`passes exit code ${code} through and records it in the status file`, async () => {
      const c = new Case()
      const r = await collect(c.run(`echo hello; exit ${code}`))
      assert.deepEqual(r, {code, signal: null, stdout: 'hello\n', stderr: ''})
      assert.equal(fs.readFileSync(c.status, 'utf8'), `${code}`)
      assert.ok(fs.existsSync(c.started))
      assert.equal(fs.readlinkSync(c.ready), 'ready', 'the ready link says the supervisor is up')
    })
  }

  it('gives 128+N when the app is killed by signal N', async () => {
    const c = new Case()
    const r = await collect(c.run('kill -KILL $$'))
    assert.equal(r.code, 128 + 9)
    assert.equal(fs.readFileSync(c.status, 'utf8'), '137')
  })

  it('forwards SIGTERM sent to it to the app', async () => {
    const c = new Case()
    const child = c.run(`trap 'echo got > $T/marker; exit 3' TERM; touch $T/ready; while :; do sleep 0.05; done`)
    const done = collect(child)
    await waitFor('the app', () => c.exists(`${c.t}/ready`))
    child.kill('SIGTERM')
    const r = await done
    assert.equal(r.code, 3)
    assert.equal(fs.readFileSync(c.host(`${c.t}/marker`), 'utf8'), 'got\n')
    assert.equal(fs.readFileSync(c.status, 'utf8'), '3')
  })

  it('keeps the PID it was started with; the app is its chrooted child, named by the pid file', async () => {
    const c = new Case()
    const child = c.run(`touch $T/ready; while [ ! -e $T/go ]; do sleep 0.02; done`)
    const done = collect(child)
    await waitFor('the started file', () => fs.existsSync(c.started))
    const me = child.pid ?? -1
    const app = c.appPid()
    assert.match(fs.readFileSync(c.pidFile, 'utf8'), /^\d+\n$/)
    assert.notEqual(app, me)
    assert.equal(fs.realpathSync(`/proc/${me}/exe`), fs.realpathSync(flyExec))
    assert.equal(fs.readlinkSync(`/proc/${me}/root`), '/')
    assert.equal(ppid(app), me)
    assert.equal(fs.readlinkSync(`/proc/${app}/root`), fs.realpathSync(root))
    assert.equal(fs.readFileSync(c.pgidFile, 'utf8'), `${pgid(me)}\n`)
    assert.equal(pgid(app), pgid(me), 'the app stays in the caller’s process group')
    fs.writeFileSync(c.host(`${c.t}/go`), '')
    assert.equal((await done).code, 0)
  })

  it('gives the app its cwd, uid, gid and supplementary groups', async () => {
    const c = new Case()
    const script = 'id -u; id -g; pwd; readlink /proc/self/cwd; cat /proc/self/status'
    const r = await collect(c.run(script, {cwd: '/home/app', uid: 1000, gid: 1000, groups: '2000,27'}))
    assert.equal(r.code, 0, r.stderr)
    const [uid, gid, pwd, cwd, ...status] = r.stdout.split('\n')
    assert.deepEqual([uid, gid, pwd, cwd], ['1000', '1000', '/home/app', '/home/app'])
    const fields = new Map(status.map((l) => [l.split(':')[0], l.split(':')[1]?.trim() ?? '']))
    assert.equal(fields.get('Uid'), '1000\t1000\t1000\t1000')
    assert.equal(fields.get('Gid'), '1000\t1000\t1000\t1000')
    assert.equal(fields.get('Groups'), '27 2000', 'exactly --groups, sorted by the kernel')
  })

  it('sets no supplementary groups when --groups is absent', async () => {
    const c = new Case()
    const r = await collect(c.run('cat /proc/self/status', {uid: 1000, gid: 1000}))
    assert.match(r.stdout, /^Groups:\s*$/m)
  })

  it('gives the app exactly the env file’s environment', async () => {
    const env = ['FOO=bar baz', 'EMPTY=', 'EQ=a=b', 'UNICODE=héllo ✓', 'QUOTE=\'"$HOME']
    const c = new Case(env)
    const child = spawn(flyExec, [...c.args(), '--', '/bin/env'], {stdio: ['ignore', 'pipe', 'pipe']})
    const r = await collect(child)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, fs.readFileSync(c.envFile, 'utf8'))
  })

  it('holds the pod lock until the app exits and never hands the lock fd to the app', async () => {
    const c = new Case()
    const lockDir = path.join(c.dir, 'pod')
    fs.mkdirSync(lockDir)
    const fd = fs.openSync(lockDir, 'r')
    flock(fd, LOCK_EX)
    let child: ChildProcess
    try {
      child = c.run(`touch $T/ready; while [ ! -e $T/go ]; do sleep 0.02; done`, {
        lockFd: 3,
        stdio: ['ignore', 'pipe', 'pipe', fd],
      })
    } finally {
      fs.closeSync(fd) // fly-exec's copy (fd 3) now holds the lock alone
    }
    const done = collect(child)
    const tryLock = (): boolean => {
      const probe = fs.openSync(lockDir, 'r')
      try {
        flock(probe, LOCK_EX | LOCK_NB)
        return true
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'EAGAIN')
        return false
      } finally {
        fs.closeSync(probe)
      }
    }
    await waitFor('the started file', () => fs.existsSync(c.started))
    const app = c.appPid()
    const fds = fs.readdirSync(`/proc/${app}/fd`)
    assert.ok(!fds.includes('3'), `the app has fds ${fds.join(' ')}`)
    for (const f of fds) assert.notEqual(fs.readlinkSync(`/proc/${app}/fd/${f}`), lockDir)
    assert.equal(fs.readlinkSync(`/proc/${child.pid}/fd/3`), lockDir)
    assert.equal(tryLock(), false, 'the lock is held while the app runs')
    fs.writeFileSync(c.host(`${c.t}/go`), '')
    assert.equal((await done).code, 0)
    assert.equal(tryLock(), true, 'the lock is released when fly-exec exits')
  })

  it('refuses a working directory that leads out of the root through an inherited fd (CVE-2024-21626)', async () => {
    const c = new Case()
    const lockDir = path.join(c.dir, 'pod')
    fs.mkdirSync(lockDir)
    const fd = fs.openSync(lockDir, 'r')
    const other = fs.openSync(base, 'r')
    try {
      const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', fd, other]
      // The lock fd is closed before chdir; any other fd is caught by the getcwd check after it.
      const viaLock = await collect(c.run('pwd', {cwd: '/proc/self/fd/3', lockFd: 3, stdio}))
      assert.equal(viaLock.code, 254)
      assert.equal(
        viaLock.stderr,
        'fly-exec: can\'t chdir to "/proc/self/fd/3" in the app\'s root: No such file or directory\n',
      )
      const viaOther = await collect(c.run('pwd', {cwd: '/proc/self/fd/4', lockFd: 3, stdio}))
      assert.equal(viaOther.code, 254)
      assert.equal(viaOther.stdout, '')
      assert.match(viaOther.stderr, /^fly-exec: the working directory "\/proc\/self\/fd\/4" is outside the app's root/)
      assert.ok(!fs.existsSync(c.status))
    } finally {
      fs.closeSync(fd)
      fs.closeSync(other)
    }
  })

  it('exits 254 with a clear message and no status when chdir fails', async () => {
    const c = new Case()
    const r = await collect(c.run('exit 0', {cwd: '/nope'}))
    assert.equal(r.code, 254)
    assert.equal(r.stderr, 'fly-exec: can\'t chdir to "/nope" in the app\'s root: No such file or directory\n')
    assert.ok(!fs.existsSync(c.status))
    assert.ok(!fs.existsSync(c.pidFile))
    assert.ok(!fs.existsSync(c.started))
    assert.ok(!fs.existsSync(c.ready), 'not ready when the app never started')
  })

  it('exits 254 with a clear message and no status when exec fails', async () => {
    const c = new Case()
    const r = await collect(spawn(flyExec, [...c.args(), '--', '/bin/nope'], {stdio: ['ignore', 'pipe', 'pipe']}))
    assert.equal(r.code, 254)
    assert.equal(r.stderr, 'fly-exec: can\'t execute "/bin/nope": No such file or directory\n')
    assert.ok(!fs.existsSync(c.status))
  })

  it('rejects bad arguments with 254', async () => {
    const c = new Case()
    for (const [args, message] of [
      [['run', '--root', root], /missing -- PROG/],
      [[...c.args({uid: '-1'}), '--', '/bin/sh'], /invalid uid "-1"/],
      [[...c.args({cwd: 'home'}), '--', '/bin/sh'], /working directory "home" is not an absolute path/],
      [[...c.args(), '--', 'sh'], /program "sh" is not an absolute path/],
      [[...c.args(), '--lock-fd', '1', '--', '/bin/sh'], /lock fd can't be stdin/],
      [[...c.args({groups: '1,,2'}), '--', '/bin/sh'], /invalid --groups "1,,2"/],
      [['enter', ...c.common(), '--status', c.status, '--', '/bin/sh'], /unknown option "--status" for enter/],
    ] as const) {
      const r = await collect(spawn(flyExec, args, {stdio: ['ignore', 'pipe', 'pipe']}))
      assert.equal(r.code, 254, args.join(' '))
      assert.match(r.stderr, message)
    }
    assert.ok(!fs.existsSync(c.pgidFile), 'nothing is written before the arguments are checked')
  })

  it('enter becomes the command: same PID, chrooted, credentials applied', async () => {
    const c = new Case()
    const script = 'echo $$; touch $T/ready; while [ ! -e $T/go ]; do sleep 0.02; done; exit 9'
    const creds = c.common({cwd: '/home/app', uid: 1000, gid: 1000, groups: '2000'})
    const child = spawn(flyExec, ['enter', ...creds, '--', '/bin/sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const done = collect(child)
    await waitFor('the command', () => c.exists(`${c.t}/ready`))
    const pid = child.pid ?? -1
    assert.equal(fs.readlinkSync(`/proc/${pid}/root`), fs.realpathSync(root))
    assert.equal(fs.readlinkSync(`/proc/${pid}/cwd`), fs.realpathSync(c.host('/home/app')))
    assert.equal(fs.realpathSync(`/proc/${pid}/exe`), fs.realpathSync(c.host('/bin/busybox')))
    const st = procStatus(pid)
    assert.equal(st.get('Uid'), '1000\t1000\t1000\t1000')
    assert.equal(st.get('Gid'), '1000\t1000\t1000\t1000')
    assert.equal(st.get('Groups'), '2000')
    fs.writeFileSync(c.host(`${c.t}/go`), '')
    const r = await done
    assert.equal(r.code, 9)
    assert.equal(r.stdout, `${pid}\n`)
  })

  // Ctrl-C: the terminal's line discipline (the kernel, si_code SI_KERNEL) signals the whole foreground
  // process group, fly-exec and the app alike; fly-exec must not forward its copy. A kill(2) to the group
  // from a process can't be told apart from one to fly-exec alone (SI_USER), so a real pty is needed:
  // script(1) runs `sh -c 'trap : INT; fly-exec …; exit $?'` as the pty's session leader (a shell that
  // outlives Ctrl-C, as an interactive one does), so fly-exec and the app are in its foreground group.
  // fly-exec is stopped while Ctrl-C is typed and continued once the app has handled its own SIGINT: a
  // forwarded copy would come seconds later and be counted, not merged with the first by the app's shell.
  it('delivers a terminal Ctrl-C to the app once', async () => {
    const c = new Case()
    const app = [
      'n=0',
      "trap 'n=$((n+1)); touch $T/int$n' INT",
      "trap 'touch $T/usr1' USR1",
      'touch $T/ready',
      'while [ ! -e $T/go ]; do sleep 0.02; done',
      'echo $n > $T/count',
      'exit 5',
    ].join('\n')
    const cmd = `trap : INT; ${[flyExec, ...c.args(), '--', '/bin/sh', '-c', app].map(shq).join(' ')}; exit $?`
    const script = spawn('script', ['-qec', cmd, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {...process.env, SHELL: '/bin/sh'},
    })
    const done = collect(script)
    await waitFor('the app', () => c.exists(`${c.t}/ready`))
    const fly = ppid(c.appPid())
    assert.equal(fs.realpathSync(`/proc/${fly}/exe`), fs.realpathSync(flyExec))
    process.kill(fly, 'SIGSTOP')
    try {
      await waitFor('fly-exec to stop', () => procStatus(fly).get('State')?.startsWith('T') === true)
      script.stdin?.write('\x03')
      await waitFor('the app’s SIGINT trap', () => c.exists(`${c.t}/int1`))
    } finally {
      process.kill(fly, 'SIGCONT')
    }
    // Signals are taken lowest number first: once fly-exec has forwarded this SIGUSR1, it has dealt with
    // its pending SIGINT, and the app's shell runs pending traps in signal order too.
    process.kill(fly, 'SIGUSR1')
    await waitFor('the forwarded SIGUSR1', () => c.exists(`${c.t}/usr1`))
    fs.writeFileSync(c.host(`${c.t}/go`), '')
    const r = await done
    script.stdin?.end()
    assert.equal(r.code, 5, r.stdout + r.stderr)
    assert.equal(fs.readFileSync(c.host(`${c.t}/count`), 'utf8'), '1\n')
    assert.equal(fs.readFileSync(c.status, 'utf8'), '5')
  })

  it('with --cgroup: the app runs in it, and what it left running there is killed before the status is written', async () => {
    // Real cgroups of this host: the memory (v1) and unified (v2, with cgroup.kill) hierarchies.
    const cgroups = ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified']
      .filter((h) => fs.existsSync(h))
      .map((h) => path.join(h, `fly-exec-test-${process.pid}-${seq}`))
    assert.ok(cgroups.length > 0, 'this host mounts cgroup hierarchies')
    for (const d of cgroups) fs.mkdirSync(d)
    try {
      const c = new Case()
      const r = await collect(
        c.run('cat /proc/self/cgroup > $T/cgroup; sleep 600 & echo $! > $T/bg; (sleep 600 &); exit 0', {cgroups}),
      )
      assert.equal(r.code, 0, r.stderr)
      assert.equal(fs.readFileSync(c.status, 'utf8'), '0')
      const own = fs.readFileSync(c.host(`${c.t}/cgroup`), 'utf8')
      for (const d of cgroups) assert.ok(own.includes(`/${path.basename(d)}\n`), `in ${d}: ${own}`)
      const bg = Number(fs.readFileSync(c.host(`${c.t}/bg`), 'utf8'))
      assert.equal(fs.existsSync(`/proc/${bg}`), false, 'the background child is gone, reaped too')
      for (const d of cgroups) assert.equal(fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8'), '', `${d} is empty`)
    } finally {
      for (const d of cgroups) fs.rmdirSync(d)
    }
  })
})
