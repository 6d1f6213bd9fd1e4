// The native addon (core/native/rktsys.c) through its wrapper: locks across descriptions and processes,
// descriptors across exec, what a program started by execve inherits, xattrs, device nodes, syncfs, and
// the deletion of trees through directory descriptors.
// Child processes load the built addon themselves (process.dlopen), so the kernel sees real processes.
import {isRoot, skipUnless, skippingAllowed} from '../testing.js'
import assert from 'node:assert/strict'
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {getDistDir} from './dist.js'
import {
  execve,
  flock,
  getXattr,
  listXattrs,
  LOCK_EX,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  mknod,
  MNT_DETACH,
  mount,
  mountId,
  MS,
  removeTreeAt,
  setCloexec,
  setXattr,
  syncfs,
  umount2,
} from './native.js'

const ADDON = path.join(getDistDir(), 'native', 'rktsys.node')
const O_NONBLOCK = fs.constants.O_NONBLOCK
const SIGPIPE_BIT = 1n << 12n // /proc/<pid>/status masks: bit N-1 for signal N (SIGPIPE is 13)

let tmp: string
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rktsys-test-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) c.kill('SIGKILL')
})

/** Runs a CommonJS script in a child node that has the addon loaded as `sys`. */
function spawnNode(script: string, args: string[] = []): ChildProcess {
  const prelude =
    'const sys = (() => { const m = {exports: {}}; process.dlopen(m, process.env.RKT_ADDON); return m.exports })()\n'
  const child = spawn(process.execPath, ['-e', prelude + script, ...args], {
    env: {...process.env, RKT_ADDON: ADDON},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

/** Everything a child writes to stdout, and how it ended. */
async function finish(child: ChildProcess): Promise<{stdout: string; stderr: string; code: number | null}> {
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const [code] = (await once(child, 'close')) as [number | null]
  return {stdout, stderr, code}
}

/** The first line a child writes to stdout. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d: string): void => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        child.stdout!.off('data', onData)
        resolve(buf.slice(0, nl))
      }
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before writing a line: ${buf}`)))
  })
}

const HOLDER = `
const fs = require('fs')
const [file, op, kind] = process.argv.slice(1)
const flags = kind === 'dir' ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : fs.constants.O_RDONLY | fs.constants.O_CREAT
const r = sys.flock(fs.openSync(file, flags), Number(op))
process.stdout.write('flock ' + r + '\\n')
if (r === 0) setInterval(() => {}, 1 << 30)
`

/** A child process that holds flock(op) on `file` until killed. */
async function holder(file: string, op: number, kind: 'file' | 'dir' = 'file'): Promise<ChildProcess> {
  const child = spawnNode(HOLDER, [file, String(op), kind])
  assert.equal(await firstLine(child), 'flock 0')
  return child
}

/** What another process gets from flock(op | LOCK_NB) on `file`: 0 or -errno. */
async function tryInChild(file: string, op: number, kind: 'file' | 'dir' = 'file'): Promise<number> {
  const child = spawnNode(HOLDER, [file, String(op | LOCK_NB), kind])
  const line = await firstLine(child)
  child.kill('SIGKILL')
  return Number(line.split(' ')[1])
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  const [code, signal] = (await exited) as [number | null, string | null]
  assert.equal(signal, 'SIGKILL', `holder exited with ${code} before it was killed`)
}

const EAGAIN = {code: 'EAGAIN', syscall: 'flock'}

describe('flock', () => {
  test('exclusive excludes exclusive and shared between two open file descriptions of this process', () => {
    const file = path.join(tmp, 'two-ofd.lock')
    fs.writeFileSync(file, '')
    const a = fs.openSync(file, 'r')
    const b = fs.openSync(file, 'r')
    try {
      flock(a, LOCK_EX | LOCK_NB)
      assert.throws(() => flock(b, LOCK_EX | LOCK_NB), EAGAIN)
      assert.throws(() => flock(b, LOCK_SH | LOCK_NB), EAGAIN)
      flock(a, LOCK_UN)
      flock(a, LOCK_SH | LOCK_NB)
      flock(b, LOCK_SH | LOCK_NB) // shared locks coexist
      assert.throws(() => flock(a, LOCK_EX | LOCK_NB), EAGAIN) // and keep an exclusive one out
      flock(b, LOCK_UN)
      flock(a, LOCK_EX | LOCK_NB) // conversion once alone
    } finally {
      fs.closeSync(a)
      fs.closeSync(b)
    }
  })

  test('a lock held by another process excludes this one, and the other way round', async () => {
    const file = path.join(tmp, 'cross.lock')
    const ex = await holder(file, LOCK_EX)
    const fd = fs.openSync(file, 'r')
    try {
      assert.throws(() => flock(fd, LOCK_EX | LOCK_NB), EAGAIN)
      assert.throws(() => flock(fd, LOCK_SH | LOCK_NB), EAGAIN)
      await kill9(ex)

      const sh = await holder(file, LOCK_SH)
      flock(fd, LOCK_SH | LOCK_NB)
      assert.throws(() => flock(fd, LOCK_EX | LOCK_NB), EAGAIN)
      await kill9(sh)

      flock(fd, LOCK_EX | LOCK_NB)
      assert.equal(await tryInChild(file, LOCK_EX), -os.constants.errno.EAGAIN)
      assert.equal(await tryInChild(file, LOCK_SH), -os.constants.errno.EAGAIN)
      flock(fd, LOCK_UN)
      assert.equal(await tryInChild(file, LOCK_EX), 0)
    } finally {
      fs.closeSync(fd)
    }
  })

  test('the lock dies with a holder killed by SIGKILL', async () => {
    const file = path.join(tmp, 'killed.lock')
    const h = await holder(file, LOCK_EX)
    const fd = fs.openSync(file, 'r')
    try {
      assert.throws(() => flock(fd, LOCK_EX | LOCK_NB), EAGAIN)
      await kill9(h)
      flock(fd, LOCK_EX | LOCK_NB)
    } finally {
      fs.closeSync(fd)
    }
  })

  test('works on a directory descriptor', async () => {
    const dir = path.join(tmp, 'pod')
    fs.mkdirSync(dir)
    const open = (): number => fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
    const a = open()
    const b = open()
    try {
      flock(a, LOCK_EX | LOCK_NB)
      assert.throws(() => flock(b, LOCK_SH | LOCK_NB), EAGAIN)
      assert.equal(await tryInChild(dir, LOCK_SH, 'dir'), -os.constants.errno.EAGAIN)
      flock(a, LOCK_UN)
      const h = await holder(dir, LOCK_EX, 'dir')
      assert.throws(() => flock(b, LOCK_EX | LOCK_NB), EAGAIN)
      await kill9(h)
      flock(b, LOCK_EX | LOCK_NB)
    } finally {
      fs.closeSync(a)
      fs.closeSync(b)
    }
  })

  test('a bad descriptor or operation is an error with a code', () => {
    assert.throws(() => flock(-1, LOCK_EX), {code: 'EBADF', errno: -os.constants.errno.EBADF})
    const fd = fs.openSync(tmp, 'r')
    try {
      assert.throws(() => flock(fd, 0), {code: 'EINVAL'})
    } finally {
      fs.closeSync(fd)
    }
  })
})

describe('setCloexec', () => {
  /** Where fd `fd` of a freshly exec'd child points, or undefined if the child does not have it. */
  async function fdInExecdChild(fd: number): Promise<string | undefined> {
    const child = spawn('sleep', ['30'], {stdio: 'ignore'})
    children.add(child)
    await once(child, 'spawn') // libuv returns from spawn only once the child has exec'd
    try {
      return fs.readlinkSync(`/proc/${child.pid}/fd/${fd}`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    } finally {
      child.kill('SIGKILL')
      children.delete(child)
    }
  }

  test('a descriptor survives exec only while its close-on-exec flag is clear', async () => {
    const file = path.join(tmp, 'pod.lock')
    fs.writeFileSync(file, '')
    const fd = fs.openSync(file, 'r')
    try {
      assert.equal(await fdInExecdChild(fd), undefined, 'Node opens descriptors close-on-exec')
      setCloexec(fd, false)
      assert.equal(await fdInExecdChild(fd), file)
      setCloexec(fd, true)
      assert.equal(await fdInExecdChild(fd), undefined)
    } finally {
      fs.closeSync(fd)
    }
  })

  test('a bad descriptor is EBADF', () => {
    assert.throws(() => setCloexec(-1, true), {code: 'EBADF', syscall: 'fcntl'})
  })
})

describe('execve', () => {
  /** A snapshot of the kernel's view of a process: pid, signal masks, stdio status flags. */
  const SNAPSHOT = `
const fs = require('fs')
const snapshot = () => {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  const field = (f) => new RegExp('^' + f + ':\\\\s*([0-9a-f]+)$', 'm').exec(status)[1]
  const flags = [0, 1, 2].map((fd) => /flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1])
  return {pid: process.pid, sigIgn: field('SigIgn'), sigBlk: field('SigBlk'), sigCgt: field('SigCgt'), flags}
}
// Have Node open its stdio: on pipes libuv sets O_NONBLOCK, which a new program must not inherit.
void process.stdin, process.stdout, process.stderr
`
  interface Snapshot {
    pid: number
    sigIgn: string
    sigBlk: string
    sigCgt: string
    flags: string[]
  }

  const hex = (s: string): bigint => BigInt(`0x${s}`)
  const nonblocking = (octal: string): boolean => (parseInt(octal, 8) & O_NONBLOCK) !== 0

  test('the new program keeps the PID and gets default signals, no mask, blocking stdio and exactly the env given', async () => {
    // The shell reports on itself ($$) with builtins only: while it waits for a child, dash blocks every
    // signal for a moment, which a forked grep may catch. The environment comes last, NUL-separated.
    const report = [
      'read -r line; echo "stdin=$line"',
      'echo "to stderr" >&2',
      'echo "pid=$$"',
      'while read -r k v; do case $k in SigIgn:|SigBlk:) echo "$k $v" ;; esac; done </proc/$$/status',
      'for fd in 0 1 2; do while read -r k v; do [ "$k" = flags: ] && echo "fd$fd=$v"; done </proc/$$/fdinfo/$fd; done',
      'echo "environ:"',
      'cat /proc/$$/environ',
    ].join('; ')
    const env = ['A=1', 'SPACED=two words', 'EMPTY=', 'PATH=/usr/bin:/bin']
    const child = spawnNode(
      `${SNAPSHOT}
const before = snapshot()
fs.writeSync(1, JSON.stringify(before) + '\\n')
const r = sys.execve('/bin/sh', ['sh', '-c', process.argv[1]], JSON.parse(process.argv[2]))
fs.writeSync(1, 'execve returned ' + r + '\\n')
process.exit(3)
`,
      [report, JSON.stringify(env)],
    )
    child.stdin!.end('from the test\n')
    const {stdout, stderr, code} = await finish(child)
    assert.equal(code, 0, `child failed: ${stdout}${stderr}`)
    const nl = stdout.indexOf('\n')
    const before = JSON.parse(stdout.slice(0, nl)) as Snapshot
    const [shellPart, environ] = stdout.slice(nl + 1).split('environ:\n') as [string, string]
    const lines = Object.fromEntries(
      shellPart
        .trim()
        .split('\n')
        .map((l) => l.split(/[=:]\s*/, 2) as [string, string]),
    )

    // Preconditions: the Node child really had the state that must not leak, or this test proves nothing.
    assert.ok((hex(before.sigIgn) & SIGPIPE_BIT) !== 0n, `Node ignores SIGPIPE (SigIgn ${before.sigIgn})`)
    for (const fd of [0, 1, 2]) assert.ok(nonblocking(before.flags[fd]!), `Node made its stdio pipe ${fd} non-blocking`)

    // Node marks stdio close-on-exec: the program must still have all three.
    assert.equal(lines['stdin'], 'from the test')
    assert.equal(stderr, 'to stderr\n')
    assert.equal(before.pid, child.pid)
    assert.equal(Number(lines['pid']), child.pid, 'same PID after execve')
    assert.equal(hex(lines['SigIgn']!) & SIGPIPE_BIT, 0n, `SIGPIPE is default again (SigIgn ${lines['SigIgn']})`)
    assert.equal(hex(lines['SigBlk']!), 0n, 'no signal blocked')
    for (const fd of [0, 1, 2]) {
      assert.ok(lines[`fd${fd}`], `flags of fd ${fd}`)
      assert.equal(nonblocking(lines[`fd${fd}`]!), false, `fd ${fd} is blocking (flags ${lines[`fd${fd}`]})`)
    }
    assert.deepEqual(environ.split('\0').slice(0, -1), env, 'exactly the environment given')
  })

  test('a failing execve returns ENOENT and leaves Node as it was', async () => {
    const child = spawnNode(`${SNAPSHOT}
let usr2 = 0
process.on('SIGUSR2', () => usr2++)
const before = snapshot()
const r = sys.execve('/nonexistent/program', ['program'], ['A=1'])
const afterwards = snapshot()
process.kill(process.pid, 'SIGUSR2') // its handler must still be there
setTimeout(() => fs.writeSync(1, JSON.stringify({r, before, afterwards, usr2}) + '\\n'), 200)
`)
    const {stdout, stderr, code} = await finish(child)
    assert.equal(code, 0, `child failed: ${stdout}${stderr}`)
    const out = JSON.parse(stdout) as {r: number; before: Snapshot; afterwards: Snapshot; usr2: number}
    assert.equal(out.r, -os.constants.errno.ENOENT)
    assert.deepEqual(out.afterwards, out.before, 'signal dispositions, mask and stdio flags restored')
    assert.equal(out.usr2, 1, 'the SIGUSR2 handler still runs')
  })

  /** Where descriptors 3 and 4 point, and whether they are close-on-exec (fdinfo flags, octal). */
  const FDS = `
const where = () => [3, 4].map((fd) => {
  try {
    const flags = parseInt(/flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8)
    return fs.readlinkSync('/proc/self/fd/' + fd) + (flags & 0o2000000 ? ' cloexec' : '')
  } catch { return 'closed' }
})
`

  test('descriptors named in fds become 3, 4, … of the new program, even one that was itself at 3', async () => {
    const a = path.join(tmp, 'fd-a')
    fs.writeFileSync(a, '')
    // fds = [a, 3]: the descriptor Node had at 3 must reach 4, not be lost when a is placed at 3.
    const child = spawnNode(
      `${FDS}
const a = fs.openSync(process.argv[1], 'r')
fs.writeSync(1, JSON.stringify(where()) + '\\n')
const r = sys.execve('/bin/sh', ['sh', '-c', 'for fd in 3 4; do readlink /proc/$$/fd/$fd; done'], [], [a, 3])
fs.writeSync(1, 'execve returned ' + r + '\\n')
process.exit(3)
`,
      [a],
    )
    const {stdout, stderr, code} = await finish(child)
    assert.equal(code, 0, `child failed: ${stdout}${stderr}`)
    const [before, fd3, fd4] = stdout.trim().split('\n') as [string, string, string]
    const nodeHad3 = (JSON.parse(before) as string[])[0]!.replace(/ cloexec$/, '')
    assert.equal(fd3, a)
    assert.equal(fd4, nodeHad3)
  })

  test('a failing execve with fds puts back what Node had at 3, 4, … and Node keeps running', async () => {
    const a = path.join(tmp, 'fd-b')
    fs.writeFileSync(a, '')
    const child = spawnNode(
      `${FDS}
const a = fs.openSync(process.argv[1], 'r')
const before = where()
const r = sys.execve('/nonexistent/program', ['program'], [], [a, a])
const afterwards = where()
setTimeout(() => fs.writeSync(1, JSON.stringify({r, before, afterwards}) + '\\n'), 50)
`,
      [a],
    )
    const {stdout, stderr, code} = await finish(child)
    assert.equal(code, 0, `child failed: ${stdout}${stderr}`)
    const out = JSON.parse(stdout) as {r: number; before: string[]; afterwards: string[]}
    assert.equal(out.r, -os.constants.errno.ENOENT)
    assert.deepEqual(out.afterwards, out.before, "libuv's descriptors, close-on-exec flags included")
  })

  test('a bad descriptor in fds fails with EBADF before anything changes', () => {
    assert.throws(() => execve('/bin/true', ['true'], {}, [987654]), {code: 'EBADF', syscall: 'execve'})
    assert.throws(() => execve('/bin/true', ['true'], {}, [-1]), {code: 'EINVAL'})
  })

  test('errors through the wrapper carry code, syscall and path; a NUL in an argument is EINVAL', () => {
    assert.throws(() => execve('/nonexistent/program', ['program'], {A: '1', B: undefined}), {
      code: 'ENOENT',
      syscall: 'execve',
      path: '/nonexistent/program',
    })
    assert.throws(() => execve('/bin/true\0x', ['true'], {}), {code: 'EINVAL'})
    assert.throws(() => execve('/bin/true', ['true', 'a\0b'], {}), {code: 'EINVAL'})
    assert.throws(() => execve('/bin/true', ['true'], {A: 'x\0y'}), {code: 'EINVAL'})
    assert.throws(() => execve('/bin/true', [], {}), {code: 'EINVAL'})
  })
})

describe('xattrs', () => {
  test('set, get and list round-trip user.* attributes, binary values included', () => {
    const file = path.join(tmp, 'xattr-file')
    fs.writeFileSync(file, 'x')
    const binary = Buffer.from([0, 1, 2, 0xff, 0])
    setXattr(file, 'user.rkt.binary', binary)
    setXattr(file, 'user.rkt.empty', Buffer.alloc(0))
    setXattr(file, 'user.rkt.big', Buffer.alloc(3000, 'a'))
    assert.deepEqual(
      listXattrs(file)
        .filter((n) => n.startsWith('user.'))
        .sort(),
      ['user.rkt.big', 'user.rkt.binary', 'user.rkt.empty'],
    )
    assert.deepEqual(getXattr(file, 'user.rkt.binary'), binary)
    assert.deepEqual(getXattr(file, 'user.rkt.empty'), Buffer.alloc(0))
    assert.deepEqual(getXattr(file, 'user.rkt.big'), Buffer.alloc(3000, 'a'))
    setXattr(file, 'user.rkt.binary', Buffer.from('replaced'))
    assert.equal(getXattr(file, 'user.rkt.binary').toString(), 'replaced')
  })

  test('a file without attributes lists none', () => {
    const file = path.join(tmp, 'xattr-none')
    fs.writeFileSync(file, '')
    assert.deepEqual(
      listXattrs(file).filter((n) => n.startsWith('user.')),
      [],
    )
  })

  test('symlinks are not followed', () => {
    const file = path.join(tmp, 'xattr-target')
    const link = path.join(tmp, 'xattr-link')
    fs.writeFileSync(file, '')
    fs.symlinkSync(file, link)
    setXattr(file, 'user.a', Buffer.from('1'))
    assert.ok(listXattrs(file).includes('user.a'))
    assert.ok(!listXattrs(link).includes('user.a'), 'the link itself has no user.a')
    assert.throws(() => getXattr(link, 'user.a'), {code: 'ENODATA', path: link})
    // user.* attributes are not allowed on symlinks themselves: the call must not land on the target
    assert.throws(() => setXattr(link, 'user.b', Buffer.from('2')), {code: 'EPERM', path: link})
    assert.ok(!listXattrs(file).includes('user.b'))
  })

  test('errors carry .code, .syscall and .path', () => {
    const missing = path.join(tmp, 'no-such-file')
    assert.throws(() => listXattrs(missing), {code: 'ENOENT', syscall: 'llistxattr', path: missing})
    assert.throws(() => getXattr(missing, 'user.a'), {code: 'ENOENT', syscall: 'lgetxattr', path: missing})
    assert.throws(() => setXattr(missing, 'user.a', Buffer.from('')), {code: 'ENOENT', syscall: 'lsetxattr'})
    const file = path.join(tmp, 'xattr-errors')
    fs.writeFileSync(file, '')
    assert.throws(() => getXattr(file, 'user.absent'), {code: 'ENODATA', path: file})
    assert.throws(() => setXattr(file, 'nonamespace', Buffer.from('')), {code: 'ENOTSUP', path: file})
    assert.throws(() => getXattr(file, `user.${'n'.repeat(300)}`), {code: 'ENAMETOOLONG'})
  })

  test('an embedded NUL in a path or name is EINVAL, not a truncated path', () => {
    const file = path.join(tmp, 'xattr-nul')
    fs.writeFileSync(file, '')
    assert.throws(() => setXattr(`${file}\0ignored`, 'user.a', Buffer.from('1')), {code: 'EINVAL'})
    assert.throws(() => setXattr(file, 'user.a\0b', Buffer.from('1')), {code: 'EINVAL'})
    assert.ok(!listXattrs(file).includes('user.a'), 'nothing was set on the truncated path')
    assert.throws(() => listXattrs(`${file}\0ignored`), {code: 'EINVAL'})
    assert.throws(() => getXattr(`${file}\0ignored`, 'user.a'), {code: 'EINVAL'})
  })
})

describe('mknod', () => {
  const majorOf = (rdev: bigint): bigint => ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)
  const minorOf = (rdev: bigint): bigint => (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)

  test('creates a FIFO', () => {
    const fifo = path.join(tmp, 'fifo')
    mknod(fifo, fs.constants.S_IFIFO | 0o640, 0, 0)
    const st = fs.lstatSync(fifo)
    assert.ok(st.isFIFO())
    assert.equal(st.mode & 0o7137, 0, 'no permission beyond 0640')
  })

  test('creates character devices with the right major:minor (as root)', (t) => {
    if (process.getuid?.() !== 0 && skippingAllowed()) return t.skip('needs root (CAP_MKNOD)')
    for (const [major, minor] of [
      [1, 3],
      [511, 300000], // beyond the old 8-bit encoding in both halves
    ] as const) {
      const dev = path.join(tmp, `chr-${major}-${minor}`)
      mknod(dev, fs.constants.S_IFCHR | 0o600, major, minor)
      const st = fs.lstatSync(dev, {bigint: true})
      assert.ok(st.isCharacterDevice())
      assert.equal(majorOf(st.rdev), BigInt(major))
      assert.equal(minorOf(st.rdev), BigInt(minor))
    }
  })

  test('errors carry .code and .path; an embedded NUL is EINVAL', () => {
    const fifo = path.join(tmp, 'fifo-twice')
    mknod(fifo, fs.constants.S_IFIFO | 0o600, 0, 0)
    assert.throws(() => mknod(fifo, fs.constants.S_IFIFO | 0o600, 0, 0), {
      code: 'EEXIST',
      errno: -os.constants.errno.EEXIST,
      syscall: 'mknod',
      path: fifo,
    })
    const missingDir = path.join(tmp, 'missing', 'fifo')
    assert.throws(() => mknod(missingDir, fs.constants.S_IFIFO | 0o600, 0, 0), {code: 'ENOENT', path: missingDir})
    const truncated = path.join(tmp, 'fifo-nul')
    assert.throws(() => mknod(`${truncated}\0tail`, fs.constants.S_IFIFO | 0o600, 0, 0), {code: 'EINVAL'})
    assert.equal(fs.existsSync(truncated), false, 'nothing was created at the truncated path')
    assert.throws(() => mknod(path.join(tmp, 'x'.repeat(5000)), fs.constants.S_IFIFO | 0o600, 0, 0), {
      code: 'ENAMETOOLONG',
    })
  })
})

describe('syncfs', () => {
  test('succeeds on a directory descriptor', () => {
    const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
    try {
      syncfs(fd)
    } finally {
      fs.closeSync(fd)
    }
  })

  test('an invalid descriptor is EBADF', () => {
    assert.throws(() => syncfs(-1), {code: 'EBADF', syscall: 'syncfs'})
    const fd = fs.openSync(tmp, 'r')
    fs.closeSync(fd)
    assert.throws(() => syncfs(fd), {code: 'EBADF'})
  })
})

describe('mountId', () => {
  test(
    'two paths of one mount share it; a bind mount of the same filesystem has its own',
    {skip: skipUnless(isRoot, 'mounting needs root')},
    () => {
      const dir = path.join(tmp, 'mount-id')
      fs.mkdirSync(path.join(dir, 'sub'), {recursive: true})
      assert.equal(mountId(path.join(dir, 'sub')), mountId(tmp))
      mount(dir, dir, null, MS.BIND)
      try {
        assert.equal(fs.statSync(dir).dev, fs.statSync(tmp).dev, 'same st_dev')
        assert.notEqual(mountId(path.join(dir, 'sub')), mountId(tmp), 'another mount')
      } finally {
        umount2(dir, MNT_DETACH)
      }
      assert.throws(() => mountId(path.join(tmp, 'none')), {code: 'ENOENT', syscall: 'statx'})
    },
  )
})

describe('removeTreeAt', () => {
  /** Every entry under `dir` with its content or link target: what must stay as it was. */
  const snapshot = (dir: string): string[] =>
    (fs.readdirSync(dir, {recursive: true}) as string[]).sort().map((rel) => {
      const p = path.join(dir, rel)
      const st = fs.lstatSync(p)
      return st.isSymbolicLink()
        ? `${rel} -> ${fs.readlinkSync(p)}`
        : st.isDirectory()
          ? `${rel}/`
          : `${rel} ${fs.readFileSync(p, 'hex')}`
    })

  /** A directory outside the tree that the tree's symlinks point at. */
  function outside(name: string): {dir: string; before: string[]} {
    const dir = path.join(tmp, name)
    fs.mkdirSync(path.join(dir, 'sub'), {recursive: true})
    fs.writeFileSync(path.join(dir, 'precious'), 'host data')
    fs.writeFileSync(path.join(dir, 'sub', 'f'), 'more')
    return {dir, before: snapshot(dir)}
  }

  test('deletes files, directories, symlinks and FIFOs, never what a symlink points at', () => {
    const victim = outside('rt-victim')
    const top = path.join(tmp, 'rt-tree')
    fs.mkdirSync(path.join(top, 'a', 'b', 'c'), {recursive: true})
    fs.writeFileSync(path.join(top, 'a', 'f'), 'x')
    fs.writeFileSync(path.join(top, 'a', 'b', 'c', 'g'), 'y')
    fs.symlinkSync(victim.dir, path.join(top, 'to-dir'))
    fs.symlinkSync(path.join(victim.dir, 'precious'), path.join(top, 'a', 'to-file'))
    fs.symlinkSync(`${'../'.repeat(30)}${victim.dir.slice(1)}`, path.join(top, 'a', 'b', 'climbing'))
    mknod(path.join(top, 'a', 'fifo'), fs.constants.S_IFIFO | 0o600, 0, 0)
    removeTreeAt(tmp, 'rt-tree')
    assert.equal(fs.existsSync(top), false)
    assert.deepEqual(snapshot(victim.dir), victim.before)
  })

  test('a missing tree is no error; a symlink or file at the top is unlinked, never followed', () => {
    removeTreeAt(tmp, 'rt-missing')
    removeTreeAt(path.join(tmp, 'no-such-parent'), 'x')
    const victim = outside('rt-victim-top')
    fs.symlinkSync(victim.dir, path.join(tmp, 'rt-link'))
    removeTreeAt(tmp, 'rt-link')
    assert.equal(fs.lstatSync(path.join(tmp, 'rt-link'), {throwIfNoEntry: false}), undefined)
    assert.deepEqual(snapshot(victim.dir), victim.before)
    fs.writeFileSync(path.join(tmp, 'rt-file'), '')
    removeTreeAt(tmp, 'rt-file')
    assert.equal(fs.existsSync(path.join(tmp, 'rt-file')), false)
  })

  test('a name that is not one path component is EINVAL', () => {
    for (const name of ['', '.', '..', 'a/b', 'a\0b']) assert.throws(() => removeTreeAt(tmp, name), {code: 'EINVAL'})
  })

  test('a tree 3000 levels deep (a 300 kB path) goes, with a limit of 24 open descriptors', async () => {
    const name = 'd'.repeat(100)
    const top = path.join(tmp, 'rt-deep')
    fs.mkdirSync(top)
    const cwd = process.cwd()
    try {
      process.chdir(top)
      for (let i = 0; i < 3000; i++) {
        fs.mkdirSync(name)
        process.chdir(name)
        fs.writeFileSync('f', String(i))
      }
    } finally {
      process.chdir(cwd)
    }
    // A child with a descriptor limit a walk holding one descriptor per level could never live with.
    const child = spawn(
      'prlimit',
      [
        '--nofile=24',
        process.execPath,
        '-e',
        `const m = {exports: {}}; process.dlopen(m, process.env.RKT_ADDON)
         console.log(JSON.stringify(m.exports.removeTree(process.argv[1], 'rt-deep')))`,
        tmp,
      ],
      {env: {...process.env, RKT_ADDON: ADDON}, stdio: ['ignore', 'pipe', 'pipe']},
    )
    children.add(child)
    const {stdout, stderr, code} = await finish(child)
    assert.equal(code, 0, stderr)
    assert.equal(stdout.trim(), '0')
    assert.equal(fs.existsSync(top), false)
  })

  test(
    'errors carry errno, syscall and the failing path relative to the top; the rest stays for a retry',
    {skip: skipUnless(isRoot, 'chattr +i needs root')},
    () => {
      const top = path.join(tmp, 'rt-immutable')
      const file = path.join(top, 'x', 'y', 'stuck')
      fs.mkdirSync(path.dirname(file), {recursive: true})
      fs.writeFileSync(file, '')
      execFileSync('chattr', ['+i', file])
      try {
        assert.throws(() => removeTreeAt(tmp, 'rt-immutable'), {
          code: 'EPERM',
          errno: -os.constants.errno.EPERM,
          syscall: 'unlinkat',
          path: 'x/y/stuck',
          message: "EPERM: operation not permitted, unlinkat 'x/y/stuck'",
        })
        assert.ok(fs.existsSync(file))
      } finally {
        execFileSync('chattr', ['-i', file])
      }
      removeTreeAt(tmp, 'rt-immutable')
      assert.equal(fs.existsSync(top), false)
    },
  )

  describe('mounts', {skip: skipUnless(isRoot, 'mounting needs root')}, () => {
    /** With a tmpfs holding a file at `dir`: deleting `tmp/name` fails with EBUSY at `where`, the file kept. */
    function refusedAtTmpfs(dir: string, name: string, where: string): void {
      mount('tmpfs', dir, 'tmpfs', 0)
      try {
        fs.writeFileSync(path.join(dir, 'inside'), 'kept')
        assert.throws(() => removeTreeAt(tmp, name), {code: 'EBUSY', path: where})
        assert.equal(fs.readFileSync(path.join(dir, 'inside'), 'utf8'), 'kept')
      } finally {
        umount2(dir, MNT_DETACH)
      }
    }

    test('a mount inside (tmpfs, or a bind of the same filesystem: same st_dev) stops it with EBUSY, untouched', () => {
      const victim = outside('rt-victim-mnt')
      const top = path.join(tmp, 'rt-mounts')
      const tmpfs = path.join(top, 'a', 'tmpfs')
      const bind = path.join(top, 'b', 'bind')
      fs.mkdirSync(tmpfs, {recursive: true})
      refusedAtTmpfs(tmpfs, 'rt-mounts', 'a/tmpfs')
      fs.mkdirSync(bind, {recursive: true}) // (what the walk met before the mount may be gone)
      mount(victim.dir, bind, null, MS.BIND)
      try {
        assert.equal(fs.statSync(bind).dev, fs.statSync(top).dev, 'the bind mount has the same st_dev')
        assert.throws(() => removeTreeAt(tmp, 'rt-mounts'), {code: 'EBUSY', path: 'b/bind'})
        assert.deepEqual(snapshot(victim.dir), victim.before)
      } finally {
        umount2(bind, MNT_DETACH)
      }
      removeTreeAt(tmp, 'rt-mounts')
      assert.equal(fs.existsSync(top), false)
      assert.deepEqual(snapshot(victim.dir), victim.before)
    })

    test('a top that is itself a mount point is EBUSY, its content untouched', () => {
      const top = path.join(tmp, 'rt-mounted-top')
      fs.mkdirSync(top)
      refusedAtTmpfs(top, 'rt-mounted-top', '')
    })
  })
})
