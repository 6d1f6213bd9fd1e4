// The enter helper (native/enter.c, native/isolate.c) run for real from the host against the apps of
// a pod started as run.cjs starts it (systemd-nspawn, the supervisor as PID 1): the entered command must get
// exactly the app's isolation (rkt's CVE-2019-10144, -10145, -10147) and must not expose the helper
// (CVE-2019-5736). Needs root, systemd-nspawn, busybox-static, strace, cgroup v1 memory and `npm run build`.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess, type StdioOptions} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {skipUnless} from '@rkt/core/testing'

import {
  children,
  enterBin,
  MemoryCgroup,
  missingPrerequisites,
  Pod,
  procStatus,
  waitFor,
  type Result,
} from './test-pod.js'

const missing = missingPrerequisites()
if (!MemoryCgroup.available()) missing.push('the cgroup v1 memory controller')
if (!fs.existsSync('/usr/bin/strace')) missing.push('strace')
const skip = skipUnless(missing.length === 0, `needs ${missing.join(', ')}`)

let pod: Pod | undefined
let cgroup: MemoryCgroup | undefined
let enterCopy = '' // a copy of the helper, so that a failing CVE-2019-5736 test can't damage the build
let seq = 0

const wait = (app: string): string => `touch /shared/${app}-up; while [ ! -e /shared/go ]; do sleep 0.02; done`
// App b runs probes the test asks for: it tries to open /proc/<P>/exe for reading and for writing.
const probe = [
  'touch /shared/b-up',
  'while [ ! -e /shared/go ]; do',
  '  if [ -e /shared/probe ]; then',
  '    P=$(cat /shared/probe); rm /shared/probe',
  '    { grep Name /proc/$P/status; cat /proc/$P/exe > /dev/null && echo read; echo >> /proc/$P/exe && echo write; } > /shared/probe.tmp 2>&1',
  '    mv /shared/probe.tmp /shared/probed',
  '  fi',
  '  sleep 0.02',
  'done',
].join('\n')

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

function enter(app: string, cmd: string[], opts: {stdio?: StdioOptions; wrap?: string[]} = {}): ChildProcess {
  if (!pod) throw new Error('no pod')
  const args = ['--conf', path.join(pod.root, 'rkt/supervisor.conf'), '--app', app, '--pid', `${pod.appHostPid(app)}`]
  const [file, ...argv] = [...(opts.wrap ?? []), enterCopy, ...args, '--', ...cmd]
  // The caller's TERM is the one thing of its environment the command gets.
  const env = {...process.env, TERM: 'xterm-enter'}
  return spawn(file ?? '', argv, {stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], env})
}

const run = (app: string, script: string): Promise<Result> => collect(enter(app, ['sh', '-c', script]))

describe('enter', {skip}, () => {
  before(async () => {
    assert.deepEqual(missing, [])
    cgroup = new MemoryCgroup(64 * 1024 * 1024)
    const remove: [string, string][] = [
      ['seccomp', 'remove'],
      ['seccomp-errno', '1'],
    ]
    for (const s of ['chmod', 'fchmod', 'fchmodat']) remove.push(['syscall', s])
    pod = new Pod(
      [
        {
          name: 'a',
          script: wait('a'),
          uid: 1000,
          gid: 1000,
          caps: '400',
          env: ['PATH=/bin', 'FOO=bar baz'],
          extra: [['groups', '2000'], ['cwd', '/home/app'], ['no-new-privs', '1'], ['cgroup-fd', '3'], ...remove],
        },
        {name: 'b', script: probe},
      ],
      {fds: [cgroup.procsFd]},
    )
    fs.writeFileSync(path.join(pod.appRoot('a'), 'marker'), 'in-a')
    fs.writeFileSync(path.join(pod.appRoot('b'), 'marker'), 'in-b')
    enterCopy = path.join(pod.dir, 'enter')
    fs.copyFileSync(enterBin, enterCopy)
    fs.chmodSync(enterCopy, 0o755)
    pod.start()
    await pod.waitShared('a-up')
    await pod.waitShared('b-up')
  })

  after(async () => {
    if (pod) {
      fs.writeFileSync(path.join(pod.shared, 'go'), '')
      await Promise.race([pod.wait(), new Promise((r) => setTimeout(r, 2000))])
      await pod.destroy()
    }
    await cgroup?.destroy()
  })

  it('gives the command the app’s credentials, capabilities, no_new_privs, seccomp, cgroups and namespaces', async () => {
    const p = pod as Pod
    const hostDir = fs.openSync(p.dir, 'r')
    let child: ChildProcess
    try {
      const script = `touch /shared/entered${++seq}; while [ ! -e /shared/release${seq} ]; do sleep 0.02; done`
      child = enter('a', ['sh', '-c', script], {stdio: ['ignore', 'pipe', 'pipe', hostDir]})
    } finally {
      fs.closeSync(hostDir)
    }
    const done = collect(child)
    await p.waitShared(`entered${seq}`)
    const [cmd] = children(child.pid ?? -1)
    assert.ok(cmd, 'the helper waits for the command')
    const app = p.appHostPid('a')
    const mine = procStatus(cmd)
    const its = procStatus(app)
    for (const f of ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'])
      assert.equal(mine.get(f), its.get(f), f)
    assert.equal(mine.get('CapEff'), '0000000000000400')
    assert.equal(fs.readFileSync(`/proc/${cmd}/cgroup`, 'utf8'), fs.readFileSync(`/proc/${app}/cgroup`, 'utf8'))
    assert.ok(cgroup?.pids().includes(cmd), 'in the app’s memory cgroup')
    for (const ns of ['ipc', 'uts', 'net', 'pid', 'cgroup', 'mnt'])
      assert.equal(fs.readlinkSync(`/proc/${cmd}/ns/${ns}`), fs.readlinkSync(`/proc/${app}/ns/${ns}`), ns)
    assert.deepEqual(fs.readdirSync(`/proc/${cmd}/fd`), ['0', '1', '2'], 'no host fd reaches the command')
    fs.writeFileSync(path.join(p.shared, `release${seq}`), '')
    assert.deepEqual(await done, {code: 0, signal: null, stdout: '', stderr: ''})
  })

  it('runs the command in the app’s root, working directory, environment (with the caller’s TERM) and pid namespace', async () => {
    const inPod = (pod as Pod).rkt('pids/a')
    const r = await run(
      'a',
      `cat /marker; echo; pwd; grep PPid /proc/$$/status; cat /proc/1/cmdline; echo; test -d /proc/${inPod} && echo app; env`,
    )
    assert.equal(r.code, 0, r.stderr)
    const [marker, cwd, ppid, init, app, ...env] = r.stdout.trim().split('\n')
    assert.deepEqual(
      [marker, cwd, ppid, init, app],
      ['in-a', '/home/app', 'PPid:\t0', '/supervisor\0/rkt/supervisor.conf\0', 'app'],
    )
    // busybox sh adds PWD and SHLVL
    assert.deepEqual(env.filter((l) => !/^(PWD|SHLVL)=/.test(l)).sort(), [
      'FOO=bar baz',
      'PATH=/bin',
      'TERM=xterm-enter',
    ])
    assert.equal((await run('b', 'cat /marker')).stdout, 'in-b')
  })

  it('applies the app’s seccomp filter', async () => {
    const a = await run('a', 'chmod 700 /tmp')
    assert.equal(a.code, 1)
    assert.equal(a.stderr, 'chmod: /tmp: Operation not permitted\n')
    assert.equal((await run('b', 'chmod 1777 /tmp')).code, 0)
  })

  it('exits with the command’s code, 128+N for signal N, 254 for its own errors', async () => {
    assert.equal((await run('a', 'exit 42')).code, 42)
    assert.equal((await run('a', 'kill -TERM $$')).code, 143)
    const nope = await collect(enter('a', ['nope']))
    assert.deepEqual([nope.code, nope.stderr], [254, 'enter: can\'t execute "nope": No such file or directory\n'])
  })

  it('forwards SIGTERM to the command', async () => {
    const child = enter('b', [
      'sh',
      '-c',
      `trap 'exit 7' TERM; touch /shared/trap${++seq}; while :; do sleep 0.02; done`,
    ])
    const done = collect(child)
    await (pod as Pod).waitShared(`trap${seq}`)
    child.kill('SIGTERM')
    assert.equal((await done).code, 7)
  })

  it('rejects bad arguments with 254', async () => {
    const p = pod as Pod
    const conf = path.join(p.root, 'rkt/supervisor.conf')
    const pid = `${p.appHostPid('a')}`
    for (const [args, message] of [
      [['--conf', conf, '--app', 'zz', '--pid', pid, '--', 'true'], /^enter: no app "zz" in /],
      [['--conf', conf, '--app', 'a', '--pid', 'x1', '--', 'true'], /^enter: invalid pid "x1"/],
      [['--conf', conf, '--app', 'a', '--pid', pid], /^enter: usage: /],
      [['--conf', conf, '--bogus', 'a', '--pid', pid, '--', 'true'], /^enter: unknown option "--bogus"/],
      [
        ['--conf', `${conf}.nope`, '--app', 'a', '--pid', pid, '--', 'true'],
        /^enter: can't open ".*\.nope": No such file/,
      ],
    ] as const) {
      const r = await collect(spawn(enterCopy, args, {stdio: ['ignore', 'pipe', 'pipe']}))
      assert.equal(r.code, 254, args.join(' '))
      assert.match(r.stderr, message)
    }
  })

  // CVE-2019-5736: a process in the pod opens /proc/<helper>/exe, the host's binary, and writes to it once
  // it is free. The helper itself is outside the pod's pid namespace; its child is inside from the fork to
  // the execve, and strace holds it there (2 s in execve) while app b, root with the default caps, tries.
  it('can’t be reached from the pod while it joins it (CVE-2019-5736)', async () => {
    const p = pod as Pod
    const wrap = [
      'strace',
      '-f',
      '-qq',
      '-o',
      '/dev/null',
      '-e',
      'trace=execve',
      '-e',
      'inject=execve:delay_enter=2000000',
    ]
    const child = enter('b', ['/bin/busybox', 'grep', 'PPid', '/proc/self/status'], {wrap}) // one execve: strace delays each
    const done = collect(child)
    const helper = (): number | undefined => children(child.pid ?? -1)[0]
    // strace delays each execve by 2 s, the helper's re-execution from its sealed copy included.
    await waitFor(
      'the helper',
      () => helper() !== undefined && procStatus(helper() ?? 0).get('Name') === 'enter',
      10000,
    )
    await waitFor('its child', () => children(helper() ?? -1).length > 0, 10000)
    const cmd = children(helper() ?? -1)[0] ?? -1
    await new Promise((r) => setTimeout(r, 200)) // isolate's work before the execve
    const nspid = procStatus(cmd).get('NSpid')?.split('\t')
    fs.writeFileSync(path.join(p.shared, 'probe'), nspid?.[nspid.length - 1] ?? '')
    const probed = await p.waitShared('probed')
    assert.equal(procStatus(cmd).get('Name'), 'enter', 'the child had not exec’d yet')
    assert.match(probed, /^Name:\s+enter$/m, 'the probe saw the helper’s child')
    assert.match(probed, /cat: can't open '\/proc\/\d+\/exe': Permission denied/)
    assert.match(probed, /can't (create|open) \/proc\/\d+\/exe: Permission denied/)
    assert.doesNotMatch(probed, /^(read|write)$/m)
    const r = await done
    assert.deepEqual([r.code, r.stdout], [0, 'PPid:\t0\n'], 'the helper is not in the pod')
    assert.deepEqual(fs.readFileSync(enterCopy), fs.readFileSync(enterBin))
  })
})
