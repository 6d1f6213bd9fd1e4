// The supervisor (native/supervisor.c, native/isolate.c) run for real as PID 1 of a systemd-nspawn
// container, as run.cjs runs it, with busybox apps. Each test asserts what an app or the host can observe.
// Needs root, systemd-nspawn, busybox-static and `npm run build`; the OOM test needs cgroup v1 memory.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {afterEach, describe, it} from 'node:test'

import {skippingAllowed, skipUnless} from '@rkt/core/testing'

import {children, encodeConf, MemoryCgroup, missingPrerequisites, Pod, procStatus, waitFor} from './test-pod.js'

const missing = missingPrerequisites()
const skip = skipUnless(missing.length === 0, `needs ${missing.join(', ')}`)

const pods: Pod[] = []
const cgroups: MemoryCgroup[] = []

function pod(...args: ConstructorParameters<typeof Pod>): Pod {
  const p = new Pod(...args)
  pods.push(p)
  return p
}

afterEach(async () => {
  for (const p of pods.splice(0)) await p.destroy()
  for (const c of cgroups.splice(0)) await c.destroy()
})

/** Whether a symlink is there (existsSync follows it, and "ready" points nowhere). */
const isLink = (file: string): boolean => fs.lstatSync(file, {throwIfNoEntry: false})?.isSymbolicLink() === true

describe('supervisor', {skip}, () => {
  it('checks its prerequisites', () => assert.deepEqual(missing, []))

  it('exits with the first failing app’s code after SIGTERM to the others', async () => {
    const p = pod([
      {name: 'fails', script: 'while [ ! -e /shared/ready ]; do sleep 0.02; done; exit 3'},
      {
        name: 'waits',
        script: "trap 'echo term > /shared/term; exit 0' TERM; touch /shared/ready; while :; do sleep 0.02; done",
      },
    ])
    const r = await p.run()
    assert.equal(r.code, 3, r.stderr)
    assert.equal(p.rkt('status/fails'), '3')
    assert.equal(p.rkt('status/waits'), '0')
    assert.equal(p.sharedFile('term'), 'term\n', 'the other app got SIGTERM')
  })

  it('exits 0 when every app exits 0, and writes the status files', async () => {
    const t0 = Date.now() - 1000 // mtimes have a coarser clock
    const p = pod([
      {name: 'one', script: 'echo $$ > /shared/one'},
      {name: 'two', script: 'sleep 0.2; echo $$ > /shared/two'},
    ])
    const r = await p.run()
    assert.deepEqual([r.code, r.stderr], [0, ''])
    for (const app of ['one', 'two']) {
      assert.equal(p.rkt(`status/${app}`), '0')
      assert.equal(p.rkt(`pids/${app}`), p.sharedFile(app)?.trim(), 'the pid file names the app in the pod')
      const created = fs.statSync(path.join(p.root, 'rkt/status', `${app}-created`))
      const started = fs.statSync(path.join(p.root, 'rkt/status', `${app}-started`))
      assert.equal(created.size + started.size, 0)
      assert.ok(created.mtimeMs >= t0 && started.mtimeMs >= created.mtimeMs)
      assert.ok(!fs.existsSync(path.join(p.root, 'rkt/status', `${app}.oom`)))
    }
    assert.equal(fs.readlinkSync(path.join(p.root, 'rkt/supervisor-status')), 'ready')
    // Its own marker (docs/stage1.md): the apps die with it. No temp file is left.
    const dotFiles = fs.readdirSync(path.join(p.root, 'rkt/status')).filter((f) => f.startsWith('.'))
    assert.deepEqual(dotFiles, ['.apps-die-with-supervisor'], 'no temp files')
  })

  it('gives 128+N for an app killed by signal N', async () => {
    const p = pod([{name: 'a', script: 'kill -USR1 $$'}])
    const r = await p.run()
    assert.equal(r.code, 128 + 10)
    assert.equal(p.rkt('status/a'), '138')
  })

  it('is ready only once every app has started, and says so with a symlink', async () => {
    const p = pod([
      {name: 'a', script: 'while [ ! -e /shared/go ]; do sleep 0.02; done'},
      {
        name: 'b',
        script: 'while [ ! -e /shared/go ]; do sleep 0.02; done',
        extra: [
          ['pre-start', '/bin/sh'],
          ['pre-start', '-c'],
          ['pre-start', 'while [ ! -e /shared/pre ]; do sleep 0.02; done'],
        ],
      },
    ]).start()
    await waitFor('app a', () => p.rkt('pids/a') !== undefined)
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(p.rkt('pids/b'), undefined, 'b waits for its pre-start handler')
    assert.ok(!isLink(path.join(p.root, 'rkt/supervisor-status')))
    fs.writeFileSync(path.join(p.shared, 'pre'), '')
    await waitFor('ready', () => isLink(path.join(p.root, 'rkt/supervisor-status')))
    assert.equal(fs.readlinkSync(path.join(p.root, 'rkt/supervisor-status')), 'ready')
    assert.match(p.rkt('pids/b') ?? '', /^\d+$/)
    fs.writeFileSync(path.join(p.shared, 'go'), '')
    assert.equal((await p.wait()).code, 0)
  })

  it('reaps orphaned grandchildren', async () => {
    // The orphan re-parents to PID 1 when its parent subshell exits, then exits itself.
    const p = pod([
      {
        name: 'a',
        script: '( (sleep 0.1; touch /shared/orphan-done) & ); while [ ! -e /shared/go ]; do sleep 0.02; done',
      },
    ]).start()
    await p.waitShared('orphan-done')
    await new Promise((r) => setTimeout(r, 200))
    const sup = p.supervisorPid()
    const zombies = children(sup).filter((pid) => procStatus(pid).get('State')?.startsWith('Z'))
    assert.deepEqual(zombies, [])
    assert.equal(children(sup).length, 1, 'only the app is left')
    fs.writeFileSync(path.join(p.shared, 'go'), '')
    assert.equal((await p.wait()).code, 0)
  })

  it('SIGTERMs the apps on SIGTERM and SIGKILLs them after the grace period', async () => {
    const grace = 1000
    const p = pod(
      [
        {name: 'stubborn', script: "trap '' TERM; touch /shared/s; while :; do sleep 0.02; done"},
        {name: 'polite', script: "trap 'exit 0' TERM; touch /shared/p; while :; do sleep 0.02; done"},
      ],
      {grace},
    ).start()
    await p.waitShared('s')
    await p.waitShared('p')
    const t0 = performance.now()
    p.child?.kill('SIGTERM') // nspawn passes it on (--kill-signal=SIGTERM), as when `rkt run` gets it
    const r = await p.wait()
    const elapsed = performance.now() - t0
    assert.equal(r.code, 137, r.stderr)
    assert.equal(p.rkt('status/stubborn'), '137')
    assert.equal(p.rkt('status/polite'), '0')
    assert.ok(elapsed >= grace, `killed after ${elapsed} ms`)
    assert.ok(elapsed < 2 * grace + 1000, `killed after ${elapsed} ms`)
    assert.ok(!fs.existsSync(path.join(p.root, 'rkt/status/stubborn.oom')), 'a SIGKILL is not an OOM kill')
  })

  it('exits 143 when stopped while an app dies of the SIGTERM', async () => {
    const p = pod([{name: 'a', script: 'touch /shared/up; exec sleep 100'}]).start()
    await p.waitShared('up')
    process.kill(p.supervisorPid(), 'SIGTERM') // as `rkt stop` does
    assert.equal((await p.wait()).code, 143)
    assert.equal(p.rkt('status/a'), '143')
  })

  it('runs pre-start before the app and post-stop after it, as root in the app’s root', async () => {
    const handler = (what: string): [string, string][] => [
      [what, '/bin/sh'],
      [what, '-c'],
      [what, `echo ${what} $(id -u) $(cat /marker) >> /shared/log`],
    ]
    const p = pod([
      {
        name: 'a',
        script: 'echo main $(id -u) >> /shared/log; exit 4',
        uid: 1000,
        gid: 1000,
        extra: [...handler('pre-start'), ...handler('post-stop')],
      },
    ])
    fs.writeFileSync(path.join(p.appRoot('a'), 'marker'), 'in-a')
    const r = await p.run()
    assert.equal(r.code, 4)
    assert.equal(p.sharedFile('log'), 'pre-start 0 in-a\nmain 1000\npost-stop 0 in-a\n')
    assert.equal(p.rkt('status/a'), '4', 'the app’s status, not the handler’s')
  })

  it('fails the app (254) when its pre-start handler fails, and ends the pod', async () => {
    const p = pod([
      {
        name: 'a',
        script: 'touch /shared/main',
        extra: [
          ['pre-start', '/bin/sh'],
          ['pre-start', '-c'],
          ['pre-start', 'while [ ! -e /shared/b-up ]; do sleep 0.02; done; exit 7'],
        ],
      },
      {name: 'b', script: "trap 'exit 0' TERM; touch /shared/b-up; while :; do sleep 0.02; done"},
    ])
    const r = await p.run()
    assert.equal(r.code, 254)
    assert.match(r.stderr, /^supervisor: app "a": the pre-start handler exited with 7$/m)
    assert.equal(p.sharedFile('main'), undefined, 'the app never ran')
    assert.equal(p.rkt('status/a'), '254')
    assert.equal(p.rkt('status/a-started'), undefined)
    assert.equal(p.rkt('status/b'), '0')
  })

  it('reports an app that can’t be started with status 254 and a message', async () => {
    const p = pod([{name: 'a', argv: ['/bin/nope']}])
    const r = await p.run()
    assert.equal(r.code, 254)
    assert.equal(
      r.stderr,
      'supervisor: app "a": can\'t start the app: can\'t execute "/bin/nope": No such file or directory\n',
    )
    assert.equal(p.rkt('status/a'), '254')
    assert.equal(p.rkt('status/a-started'), undefined)
    assert.equal(p.rkt('pids/a'), undefined)
  })

  it('refuses an image whose /proc is a symlink (CVE-2019-19921)', async () => {
    const p = pod([{name: 'a', script: 'true'}])
    fs.symlinkSync('/etc', path.join(p.appRoot('a'), 'proc'))
    const r = await p.run()
    assert.equal(r.code, 254)
    assert.match(
      r.stderr,
      /^supervisor: app "a": can't start the app: "\/proc" in the app's root must be a directory: Not a directory$/m,
    )
  })

  it('places the app in its cgroup, shows it only its own subtree, read-only, and reports an OOM kill', async (t) => {
    if (!MemoryCgroup.available()) {
      const reason = 'needs the cgroup v1 memory controller'
      if (skippingAllowed()) return t.skip(reason)
      assert.fail(reason)
    }
    const cg = new MemoryCgroup(32 * 1024 * 1024)
    cgroups.push(cg)
    const script = [
      'grep memory /proc/self/cgroup > /shared/cgroup',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /shared/limit',
      'mkdir /sys/fs/cgroup/memory/x 2> /shared/mkdir',
      "awk '$5 ~ /^\\/sys/' /proc/self/mountinfo > /shared/mounts",
      'touch /shared/up; while [ ! -e /shared/go ]; do sleep 0.02; done',
      `x=$(head -c 200000000 /dev/zero | tr '\\0' a)`,
      'echo survived > /shared/survived',
    ].join('\n')
    const p = pod(
      [
        {
          name: 'hog',
          script,
          extra: [
            ['cgroup-fd', '3'],
            ['oom-fd', '4'],
          ],
        },
      ],
      {fds: [cg.procsFd, cg.oomFd]},
    )
    p.start()
    await p.waitShared('up')
    const app = p.appHostPid('hog')
    assert.ok(cg.pids().includes(app), 'the app is in its cgroup')
    assert.equal(fs.readlinkSync(`/proc/${p.supervisorPid()}/fd/3`), path.join(cg.dir, 'cgroup.procs'))
    assert.deepEqual(fs.readdirSync(`/proc/${app}/fd`), ['0', '1', '2'], 'no fd leaks into the app')
    fs.writeFileSync(path.join(p.shared, 'go'), '')
    const r = await p.wait()
    assert.equal(r.code, 137, r.stderr)
    assert.equal(p.rkt('status/hog'), '137')
    assert.equal(p.rkt('status/hog.oom'), '', 'the OOM kill is reported')
    assert.equal(p.sharedFile('survived'), undefined)
    assert.match(fs.readFileSync(path.join(cg.dir, 'memory.oom_control'), 'utf8'), /^oom_kill [1-9]/m)
    assert.match(p.sharedFile('cgroup') ?? '', /^\d+:memory:\/$/m, 'its cgroup is its namespace’s root')
    assert.equal(p.sharedFile('limit'), `${32 * 1024 * 1024}\n`, 'its /sys/fs/cgroup/memory is its own cgroup')
    assert.match(p.sharedFile('mkdir') ?? '', /Read-only file system/)
    const mounts = (p.sharedFile('mounts') ?? '').trim().split('\n')
    assert.ok(mounts.length > 2)
    for (const m of mounts) assert.match(m, /^\S+ \S+ \S+ \S+ \/sys\S* ro,/, 'every /sys mount is read-only')
  })

  it('sets the capability sets: all = caps for root, ambient too for another user', async () => {
    // The user's filter is installed without no_new_privs: while CAP_SYS_ADMIN is still effective.
    const filter: [string, string][] = [
      ['seccomp', 'remove'],
      ['seccomp-errno', '1'],
      ['syscall', 'chmod'],
    ]
    const p = pod([
      {name: 'root', script: 'cat /proc/self/status > /shared/root'},
      {name: 'user', script: 'cat /proc/self/status > /shared/user', uid: 1000, gid: 1000, caps: '400', extra: filter},
    ])
    assert.equal((await p.run()).code, 0)
    const root = procStatus(0, p.sharedFile('root'))
    for (const f of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd']) assert.equal(root.get(f), '00000000a80425fb', f)
    assert.equal(root.get('CapAmb'), '0000000000000000')
    const user = procStatus(0, p.sharedFile('user'))
    for (const f of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(user.get(f), '0000000000000400', f)
    assert.equal(user.get('NoNewPrivs'), '0')
    assert.equal(Number(user.get('Seccomp_filters')), Number(root.get('Seccomp_filters')) + 1)
  })

  it('sets no_new_privs and a seccomp filter only when asked', async () => {
    const check =
      'cat /proc/self/status > /shared/$N; touch /tmp/f; chmod 600 /tmp/f 2> /shared/$N.chmod; echo $? >> /shared/$N.chmod; touch /shared/$N.done'
    // Its filter kills (no errno): it fails once the others are done, not to end the pod under them.
    const killed =
      'while [ ! -e /shared/plain.done ] || [ ! -e /shared/strict.done ]; do sleep 0.02; done; exec chmod 600 /bin/busybox'
    const remove: [string, string][] = [
      ['seccomp', 'remove'],
      ['seccomp-errno', '1'],
    ]
    for (const s of ['chmod', 'fchmod', 'fchmodat', 'no_such_syscall']) remove.push(['syscall', s])
    const p = pod([
      {name: 'plain', script: check, env: ['PATH=/bin', 'N=plain'], extra: [['no-new-privs', '0']]},
      {name: 'strict', script: check, env: ['PATH=/bin', 'N=strict'], extra: [['no-new-privs', '1'], ...remove]},
      {
        name: 'killed',
        script: killed,
        extra: [
          ['seccomp', 'remove'],
          ['syscall', 'chmod'],
          ['syscall', 'fchmodat'],
        ],
      },
    ])
    const r = await p.run()
    assert.equal(r.code, 128 + 31, 'without an errno, the filter kills with SIGSYS')
    assert.equal(p.rkt('status/killed'), '159')
    const plain = procStatus(0, p.sharedFile('plain'))
    const strict = procStatus(0, p.sharedFile('strict'))
    assert.equal(plain.get('NoNewPrivs'), '0')
    assert.equal(strict.get('NoNewPrivs'), '1')
    assert.equal(strict.get('Seccomp'), '2')
    assert.equal(
      Number(strict.get('Seccomp_filters')),
      Number(plain.get('Seccomp_filters')) + 1,
      'one filter more than nspawn’s',
    )
    assert.equal(p.sharedFile('plain.chmod'), '0\n')
    assert.equal(p.sharedFile('strict.chmod'), 'chmod: /tmp/f: Operation not permitted\n1\n')
  })

  it('allows only a retain set, plus what is needed to exec', async () => {
    // What busybox needs to start, cat a file and exit (static glibc), and nothing for chmod. Not capset and
    // execve either: the supervisor adds them, or the app could not even start.
    const set = 'brk arch_prctl set_tid_address set_robust_list rseq prlimit64 readlinkat mprotect getuid geteuid'
    const more = 'getpid getppid open openat read write close fstat newfstatat sendfile exit_group exit rt_sigaction'
    const extra: [string, string][] = [
      ['seccomp', 'retain'],
      ['seccomp-errno', '38'],
    ]
    for (const s of `${set} ${more} uname ioctl`.split(' ')) extra.push(['syscall', s])
    const cat = await pod([{name: 'cat', argv: ['/bin/cat', '/proc/self/status'], extra}]).run()
    assert.equal(cat.code, 0, cat.stderr)
    assert.match(cat.stdout, /^Seccomp:\s+2$/m)
    const chmod = await pod([{name: 'chmod', argv: ['/bin/chmod', '600', '/bin/busybox'], extra}]).run()
    assert.equal(chmod.code, 1)
    assert.equal(chmod.stderr, 'chmod: /bin/busybox: Function not implemented\n')
  })

  it('gives the app its user, groups, working directory, environment and oom_score_adj', async () => {
    const env = ['PATH=/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=line1\nline2']
    const p = pod([
      {
        name: 'a',
        script:
          'id -u; id -g; pwd; cat /proc/self/oom_score_adj; grep Groups /proc/self/status; readlink /proc/self/fd/0; env',
        uid: 1000,
        gid: 1000,
        env,
        extra: [
          ['groups', '2000,27'],
          ['cwd', '/home/app'],
          ['oom-score-adj', '500'],
        ],
      },
    ])
    const r = await p.run()
    assert.equal(r.code, 0, r.stderr)
    const [uid, gid, pwd, oom, groups, stdin, ...rest] = r.stdout.split('\n').map((l) => l.trimEnd())
    assert.deepEqual(
      [uid, gid, pwd, oom, groups, stdin],
      ['1000', '1000', '/home/app', '500', 'Groups:\t27 2000', '/dev/null'],
    )
    // busybox sh adds PWD and SHLVL to what it was given
    const shell = new Set(['PWD=/home/app', 'SHLVL=1'])
    const got = rest.join('\n').trim()
    assert.deepEqual(
      got
        .split(/\n(?=[A-Z_]+=)/)
        .filter((l) => !shell.has(l))
        .sort(),
      [...env].sort(),
    )
  })

  it('gives an interactive app the supervisor’s stdin, the others /dev/null', async () => {
    const p = pod([
      {name: 'tty', script: 'read line; echo "got $line"', extra: [['interactive', '1']]},
      {name: 'other', script: 'cat; echo other done'},
    ]).start()
    p.child?.stdin?.end('hello\n')
    const r = await p.wait()
    assert.equal(r.code, 0)
    assert.deepEqual(r.stdout.split('\n').sort(), ['', 'got hello', 'other done'])
  })

  it('gives an interactive app the terminal (rkt run --interactive)', async () => {
    const script = 'tty; read line; echo "got $line"; exit 5'
    const p = pod([{name: 'a', script, extra: [['interactive', '1']]}], {tty: true}).start()
    await waitFor('the app', () => p.rkt('pids/a') !== undefined)
    const app = procStatus(p.appHostPid('a'))
    assert.match(app.get('State') ?? '', /^[RS]/, 'not stopped by SIGTTOU')
    p.child?.stdin?.write('hello\r')
    const r = await p.wait()
    assert.equal(r.code, 5, r.stdout)
    assert.match(r.stdout, /^\/dev\/(console|pts\/\d+)\r?$/m, 'stdin is a terminal')
    assert.match(r.stdout, /^got hello\r?$/m)
  })

  it('gives the app only the standard /dev, a /tmp, and masked or read-only kernel files', async () => {
    const script = [
      'ls -A /dev; echo',
      'ls -A /dev/shm /proc/acpi /sys/firmware',
      'stat -c "%n %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty',
      'for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done',
      'wc -c < /proc/timer_list; wc -c < /proc/keys',
      'echo x 2>/dev/null > /proc/sys/kernel/hostname || echo sys ro',
      'echo x 2>/dev/null > /proc/sysrq-trigger || echo sysrq ro',
      'touch /tmp/t && echo tmp rw',
      'grep " /tmp " /proc/self/mountinfo | grep -c tmpfs',
      'touch /rootfile && echo root rw',
    ].join('\n')
    const p = pod([{name: 'a', script}])
    const r = await p.run()
    assert.equal(r.code, 0, r.stderr)
    const [dev, rest] = [r.stdout.slice(0, r.stdout.indexOf('\n\n')), r.stdout.slice(r.stdout.indexOf('\n\n') + 2)]
    const standard = [
      'fd',
      'full',
      'null',
      'ptmx',
      'pts',
      'random',
      'shm',
      'stderr',
      'stdin',
      'stdout',
      'tty',
      'urandom',
    ]
    assert.deepEqual(dev?.split('\n'), [...standard, 'zero'])
    assert.match(rest ?? '', /^\/dev\/shm:\n\n\/proc\/acpi:\n\n\/sys\/firmware:\n/)
    for (const node of ['null 1:3', 'zero 1:5', 'full 1:7', 'random 1:8', 'urandom 1:9', 'tty 5:0'])
      assert.match(rest ?? '', new RegExp(`^/dev/${node} 666$`, 'm'))
    const links = ['pts/ptmx', '/proc/self/fd', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2']
    assert.match(rest ?? '', new RegExp(`^${links.join('\n')}\n0\n0\nsys ro\nsysrq ro\ntmp rw\n1\nroot rw\n$`, 'm'))
    assert.ok(fs.existsSync(path.join(p.appRoot('a'), 'rootfile')))
    assert.ok(!fs.existsSync(path.join(p.appRoot('a'), 'tmp/t')), '/tmp is a tmpfs')
  })

  it('makes the root read-only with readonly-rootfs, /tmp still writable', async () => {
    const p = pod([{name: 'a', script: 'touch /x; touch /tmp/x && echo tmp rw', extra: [['readonly-rootfs', '1']]}])
    const r = await p.run()
    assert.deepEqual([r.code, r.stdout], [0, 'tmp rw\n'])
    assert.match(r.stderr, /touch: \/x: Read-only file system/)
    assert.ok(!fs.existsSync(path.join(p.appRoot('a'), 'x')))
  })

  it('leaves the kernel files alone with mask-paths 0', async () => {
    const p = pod([
      {
        name: 'a',
        script: 'wc -c < /proc/timer_list; grep -c " /proc/sys " /proc/self/mountinfo',
        extra: [['mask-paths', '0']],
      },
    ])
    const r = await p.run()
    const [timers, sysMounts] = r.stdout.trim().split('\n').map(Number)
    assert.ok((timers ?? 0) > 0)
    assert.equal(sysMounts, 0)
  })

  it('is not dumpable: an app can’t open /proc/1/exe', async () => {
    const p = pod([{name: 'a', script: 'cat /proc/1/exe > /dev/null; echo x >> /proc/1/exe; ls -l /proc/1/fd/0; true'}])
    const r = await p.run()
    assert.equal(r.code, 0)
    assert.match(r.stderr, /cat: can't open '\/proc\/1\/exe': Permission denied/)
    assert.match(r.stderr, /can't (create|open) \/proc\/1\/exe: Permission denied/)
    assert.match(r.stderr, /ls: \/proc\/1\/fd\/0: cannot read link: Permission denied/)
  })

  it('rejects a bad configuration with 254 and a message naming the problem', async () => {
    const base = [
      ['version', '1'],
      ['app', 'a'],
      ['root', '/opt/stage2/a/rootfs'],
      ['arg', '/bin/true'],
      ['uid', '0'],
      ['gid', '0'],
    ] as const
    const cases: [Buffer, RegExp][] = [
      [encodeConf([...base, ['caps', '0'], ['bogus', 'x']]), /unknown key "bogus"/],
      [encodeConf([...base, ['caps', '0'], ['uid', '1']]), /app "a": "uid" given twice/],
      [encodeConf([...base]), /app "a": no "caps"/],
      [encodeConf([['app', 'a']]), /the first record must be "version", not "app"/],
      [encodeConf([...base, ['caps', 'zz']]), /app "a": invalid caps "zz"/],
      [Buffer.concat([encodeConf([...base]), Buffer.from('caps')]), /truncated/],
      [encodeConf([...base, ['caps', '0'], ['seccomp', 'maybe']]), /app "a": seccomp must be none, remove or retain/],
    ]
    for (const [conf, message] of cases) {
      const p = pod([{name: 'a'}], {conf})
      const r = await p.run()
      assert.equal(r.code, 254, r.stderr)
      assert.match(r.stderr, new RegExp(`^supervisor: /rkt/supervisor.conf: ${message.source}`))
      assert.equal(p.rkt('status/a-created'), undefined, 'nothing is started')
    }
  })
})
