// What confines an app under the nspawn stage1 (docs/security.md ISO-01..07, ISO-11/12, SEC-05, SEC-17),
// read from inside the app: capabilities (appc's default set, or exactly the retained ones), no_new_privs
// (off by default, on with the image's isolator), seccomp, read-only /proc/sys and /sys, masked paths, its
// own PID namespace, the memory limit (an OOM kill that `status` reports) and the CPU limit in its own
// cgroup, two apps of one pod confined differently, and no descriptor of the stage1 in any app.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {BASE, NSPAWN, PodSandbox, procStatus, sh} from '../util/pods.js'

/** appc's default capability set (rkt's stage1/init/common/pod.go getAppCapabilities), as /proc prints it. */
const APPC_CAPS = '00000000a80425fb'
const NET_ADMIN = '0000000000001000'

/** Splits the output of several commands separated by `echo ---`. */
const sections = (out: string): string[] => out.split(/^---$/m).map((s) => s.replace(/^\n|\n$/g, ''))

describe('nspawn: capabilities, no_new_privs and seccomp', () => {
  test('by default: appc’s capability set (not nspawn’s), NoNewPrivs 0, seccomp on (mode 2)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', NSPAWN, img.name, ...sh('cat /proc/self/status')])
    assert.equal(r.exitCode, 0, r.stderr)
    const st = procStatus(r.stdout)
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) assert.equal(st.get(set), APPC_CAPS, set)
    assert.equal(st.get('CapAmb'), '0000000000000000', 'a root app gets no ambient capabilities')
    assert.equal(st.get('NoNewPrivs'), '0', 'rkt’s default: no_new_privs off')
    assert.equal(st.get('Seccomp'), '2', 'a seccomp filter is installed')
  })

  test('--caps-retain=CAP_NET_ADMIN leaves exactly that; the image’s no-new-privileges isolator sets NoNewPrivs 1', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image({
      ...BASE,
      name: 'example.com/nspawn-nnp',
      app: {isolators: [{name: 'os/linux/no-new-privileges', value: true}]},
    })
    const r = await ps.rkt(['run', NSPAWN, img.name, '--caps-retain=CAP_NET_ADMIN', ...sh('cat /proc/self/status')])
    assert.equal(r.exitCode, 0, r.stderr)
    const st = procStatus(r.stdout)
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) assert.equal(st.get(set), NET_ADMIN, set)
    assert.equal(st.get('NoNewPrivs'), '1')
    assert.equal(st.get('Seccomp'), '2')
  })

  test('two apps of one pod with different --caps-retain and --seccomp: different CapEff, different syscall results', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // Each app: its CapEff, then whether mkdir (removed by a's filter, with EACCES) and chown (needs CAP_CHOWN,
    // which only b keeps) work.
    const probe = (name: string): string[] =>
      sh(
        `exec > /${name}.out 2>&1; grep CapEff /proc/self/status; mkdir /tmp/d && echo mkdir-ok; touch /tmp/f; chown 1:1 /tmp/f && echo chown-ok; true`,
      )
    const r = await runSaving(ps, [
      'run',
      NSPAWN,
      img.name,
      '--name=a',
      '--caps-retain=CAP_NET_ADMIN',
      '--seccomp=mode=remove,errno=EACCES,mkdir,mkdirat',
      ...probe('a'),
      '---',
      img.name,
      '--name=b',
      '--caps-retain=CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER',
      ...probe('b'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const a = appFile(ps, r.uuid, 'a', '/a.out')
    const b = appFile(ps, r.uuid, 'b', '/b.out')
    assert.match(a, /^CapEff:\s+0000000000001000$/m)
    assert.match(b, /^CapEff:\s+000000000000000b$/m)
    assert.match(a, /mkdir: can't create directory '\/tmp\/d': Permission denied/, 'a’s filter returns EACCES')
    assert.doesNotMatch(a, /mkdir-ok/)
    assert.match(b, /mkdir-ok/, 'b has no such filter')
    assert.match(a, /chown: \/tmp\/f: Operation not permitted/, 'a lacks CAP_CHOWN')
    assert.doesNotMatch(a, /chown-ok/)
    assert.match(b, /chown-ok/, 'b keeps CAP_CHOWN')
  })
})

/** A file an app wrote in its rootfs, read on the host (after the pod exited: it stays until gc). */
function appFile(ps: PodSandbox, uuid: string, app: string, file: string): string {
  return fs.readFileSync(ps.appPath(uuid, file, app), 'utf8')
}

/** `rkt run --uuid-file-save=…` ARGS…: the result and the pod's UUID. */
async function runSaving(
  ps: PodSandbox,
  args: readonly string[],
): Promise<{exitCode: number; stdout: string; stderr: string; uuid: string}> {
  const file = path.join(ps.s.work, `uuid-${Date.now()}-${Math.random()}`)
  const r = await ps.rkt([args[0]!, `--uuid-file-save=${file}`, ...args.slice(1)])
  const uuid = fs.readFileSync(file, 'utf8').trim()
  return {...r, uuid}
}

describe('nspawn: the kernel’s interfaces and the pod’s processes', () => {
  test('/proc/sys, /sys and /sys/fs/cgroup are read-only; masked paths read empty', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // Only what this kernel has (no /proc/kcore or /proc/sysrq-trigger here), and masked files that are not
    // empty on the host, so that reading them empty in the app means they were masked.
    const exists = (p: string): boolean => fs.existsSync(p)
    const readOnly = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs', '/sys'].filter(exists)
    const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/latency_stats']
      .filter(exists)
      .filter((f) => fs.readFileSync(f).length > 0)
    assert.ok(masked.includes('/proc/timer_list'), 'the host shows /proc/timer_list')
    assert.ok(fs.readdirSync('/sys/firmware').length > 0, 'the host has /sys/firmware entries')
    const r = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      ...sh(
        [
          'echo 1 > /proc/sys/kernel/ns_last_pid && echo WROTE-proc-sys',
          'echo never > /sys/kernel/mm/transparent_hugepage/enabled && echo WROTE-sys',
          'mkdir /sys/fs/cgroup/memory/x && echo MADE-cgroup',
          'echo ---',
          `for m in ${[...readOnly, '/sys/fs/cgroup/memory'].join(' ')}; do awk -v m=$m '$5 == m { split($6, o, ","); print m, o[1] }' /proc/self/mountinfo | tail -n 1; done`,
          'echo ---',
          `for f in ${masked.join(' ')}; do echo "$f $(wc -c < $f)"; done; echo "/sys/firmware $(ls -A /sys/firmware | wc -l)"`,
        ].join('; '),
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const [errors = '', modes = '', empty = ''] = sections(r.stdout)
    assert.equal(errors, '', 'no write succeeded')
    assert.match(r.stderr, /\/proc\/sys\/kernel\/ns_last_pid: Read-only file system/)
    assert.match(r.stderr, /\/sys\/kernel\/mm\/transparent_hugepage\/enabled: Read-only file system/)
    assert.match(r.stderr, /can't create directory '\/sys\/fs\/cgroup\/memory\/x': Read-only file system/)
    assert.deepEqual(
      modes.split('\n'),
      [...readOnly, '/sys/fs/cgroup/memory'].map((m) => `${m} ro`),
      'each is mounted read-only in the app',
    )
    assert.deepEqual(empty.split('\n'), [...masked.map((f) => `${f} 0`), '/sys/firmware 0'], 'masked paths read empty')
  })

  test('the app sees only the pod’s processes: PID 1 is the supervisor, no host process is visible', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      ...sh('for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm)"; done'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const procs = r.stdout
    const seen = procs.split('\n').map((l) => l.split(' '))
    assert.deepEqual(seen[0], ['1', 'supervisor'])
    const comms = new Set(seen.map((p) => p[1]))
    assert.deepEqual(
      [...comms].filter((c) => !['supervisor', 'iomux', 'sh', 'cat'].includes(c!)),
      [],
      `only the supervisor, the app’s logger and the app: ${procs}`,
    )
    assert.ok(seen.length <= 4, procs)
  })

  test('--memory=32Mi: allocating 200 MiB is OOM-killed (137) and status says so; the limit is in the app’s cgroup', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await runSaving(ps, [
      'run',
      NSPAWN,
      img.name,
      '--memory=32Mi',
      ...sh(
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep memory /proc/self/cgroup; exec dd if=/dev/zero of=/dev/null bs=200M count=1',
      ),
    ])
    assert.equal(r.exitCode, 137, `the app was killed by SIGKILL: ${r.stderr}`)
    const lines = r.stdout.split('\n')
    assert.equal(lines[0], String(32 * 1024 * 1024), 'the app’s own memory.limit_in_bytes')
    assert.match(lines[1] ?? '', /^\d+:memory:\/$/, 'the app’s cgroup is the root of its cgroup namespace')
    assert.doesNotMatch(r.stderr, /records out/, 'dd never finished')
    const st = await ps.statusJson(r.uuid)
    const app = st.apps?.[0]
    assert.equal(app?.exit_code, 137)
    assert.equal(app?.['oom_killed'], true, `status --format=json reports the OOM kill: ${JSON.stringify(app)}`)
    const text = await ps.rkt(['status', r.uuid])
    assert.match(text.stdout, /^oom-killed=pod-base$/m, 'and so does the key=value status')
    assert.match(text.stdout, /^app-pod-base=137$/m)
  })

  test('--cpu=500m: the app’s cpu cgroup has a 50 ms quota per 100 ms period', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      '--cpu=500m',
      ...sh('cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '50000\n100000')
    const unlimited = await ps.rkt(['run', NSPAWN, img.name, ...sh('cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us')])
    assert.equal(unlimited.exitCode, 0, unlimited.stderr)
    assert.equal(unlimited.stdout, '-1', 'no --cpu: no quota')
  })
})

describe('nspawn: descriptors (SEC-05)', () => {
  test('no stage1 descriptor (the pod lock, cgroup files) in any app; the supervisor’s cannot be opened', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // Each app is ls itself (no shell, which opens descriptors of its own): it lists what the supervisor
    // left it, plus the directory it reads. Its output is one short write, never split by the other app's.
    const ls = ['--exec=/bin/busybox', '--', 'ls', '/proc/self/fd']
    const two = await ps.rkt(['run', NSPAWN, img.name, '--name=a', ...ls, '---', img.name, '--name=b', ...ls])
    assert.equal(two.exitCode, 0, two.stderr)
    assert.equal(two.stdout, '0\n1\n2\n3\n0\n1\n2\n3', 'each app has stdin, stdout, stderr; ls its directory')
    // What those are; and that the supervisor's descriptors (cgroup files opened on the host) are out of the
    // app's reach: their numbers show in /proc/1/fd, but none can be read as a link, opened or written.
    const r = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      ...sh(
        [
          'for f in 0 1 2; do readlink /proc/self/fd/$f; done',
          'n=0',
          'for f in /proc/1/fd/*; do n=$((n+1)); readlink $f && echo "READ-LINK $f"; { true < $f; } 2>/dev/null && echo "OPENED $f"; { true >> $f; } 2>/dev/null && echo "WROTE $f"; done',
          'echo "pid1-fds $n"',
          'cat /proc/1/environ > /dev/null 2>&1 || echo no-environ',
        ].join('; '),
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const lines = r.stdout.split('\n')
    assert.equal(lines[0], '/dev/null', 'stdin is /dev/null')
    // The test runner's pipes to rkt (libuv makes them socket pairs), passed on as they are.
    assert.match(lines[1] ?? '', /^(pipe|socket):\[\d+\]$/, 'stdout is rkt’s')
    assert.match(lines[2] ?? '', /^(pipe|socket):\[\d+\]$/, 'stderr is rkt’s')
    assert.match(lines[3] ?? '', /^pid1-fds ([3-9]|\d\d+)$/, `the supervisor's descriptors were tried: ${r.stdout}`)
    assert.deepEqual(lines.slice(4), ['no-environ'], 'none could be read, opened or written')
  })
})
