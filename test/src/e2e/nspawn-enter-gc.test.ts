// `rkt enter`, `rkt stop` and `rkt gc` of nspawn pods. enter must put the command under exactly the app's
// confinement: capabilities, no_new_privs, seccomp and cgroups (regressions for rkt's CVE-2019-10144, -10145
// and -10147, which rkt never fixed), while no runtime binary it runs is reachable through /proc/<pid>/exe
// (runc's CVE-2019-5736) and no stage1 descriptor shows. stop ends the pod gracefully (every app gets
// SIGTERM) or by force; after gc nothing of the pod is left on the host: no mount, no cgroup, no process,
// also when the pod's nspawn was SIGKILLed.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ROOT, RKT} from '../util/harness.js'
import {
  alive,
  BASE,
  flockHolders,
  NSPAWN,
  podCgroups,
  PodSandbox,
  podTraces,
  procStatus,
  sh,
  waitFor,
  type PodImageSpec,
} from '../util/pods.js'

/** An image whose app asks for no_new_privs (there is no per-app flag for it: rkt takes it from the image). */
const NNP: PodImageSpec = {
  ...BASE,
  name: 'example.com/nspawn-nnp',
  app: {isolators: [{name: 'os/linux/no-new-privileges', value: true}]},
}

/** Confinement flags unlike every default, so that a copy of the defaults cannot pass for the app's. */
const CONFINED = [
  '--caps-retain=CAP_NET_ADMIN,CAP_KILL',
  '--seccomp=mode=remove,errno=EACCES,mkdir,mkdirat',
  '--memory=32M',
  '--cpu=250m',
]

/** Sleeps until SIGTERM, in a way a trap interrupts at once. */
const IDLE = 'while :; do sleep 1 & wait $!; done'

const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')

/** The innermost PID (NSpid's last field) of a host process, or undefined once gone. */
function nsPid(pid: number): number | undefined {
  try {
    const f = procStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      .get('NSpid')
      ?.split(/\s+/)
    return f ? Number(f[f.length - 1]) : undefined
  } catch {
    return undefined
  }
}

describe('nspawn: rkt enter', () => {
  test('the entered command has the app’s capabilities, no_new_privs, seccomp filter, cgroups and descriptors', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(NNP)
    const pod = await ps.start(
      [
        'run',
        NSPAWN,
        img.name,
        ...CONFINED,
        ...sh(
          `cat /proc/self/status > /app.status; cat /proc/self/cgroup > /app.cgroup; mkdir /tmp/x 2> /app.mkdir; touch /ready; ${IDLE}`,
        ),
      ],
      {readyFile: '/ready'},
    )
    const r = await ps.rkt([
      'enter',
      pod.uuid,
      '/bin/sh',
      '-c',
      'cat /proc/self/status; echo ---; cat /proc/self/cgroup; echo ---; mkdir /tmp/y 2>&1; true',
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const [status = '', cgroup = '', mkdir = ''] = r.stdout.split('---\n')
    const app = procStatus(fs.readFileSync(ps.appPath(pod.uuid, '/app.status'), 'utf8'))
    const entered = procStatus(status)
    assert.equal(app.get('CapEff'), '0000000000001020', 'the app has exactly the retained capabilities')
    for (const field of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'])
      assert.equal(
        entered.get(field),
        app.get(field),
        `${field} of the entered command is the app's (CVE-2019-10144/10145)`,
      )
    assert.equal(entered.get('NoNewPrivs'), '1')
    assert.equal(entered.get('Seccomp'), '2')
    assert.equal(
      cgroup,
      fs.readFileSync(ps.appPath(pod.uuid, '/app.cgroup'), 'utf8'),
      'the same cgroups, seen through the same cgroup namespace (CVE-2019-10147)',
    )
    assert.equal(
      mkdir.trimEnd(),
      fs.readFileSync(ps.appPath(pod.uuid, '/app.mkdir'), 'utf8').trimEnd().replace('/tmp/x', '/tmp/y'),
      'the app’s seccomp filter: mkdir fails with the same error',
    )
    assert.match(mkdir, /Permission denied/)
    // The command enter runs is ls itself: it lists what the enter helper left it, plus its directory.
    const fds = await ps.rkt(['enter', pod.uuid, '/bin/busybox', 'ls', '/proc/self/fd'])
    assert.equal(fds.exitCode, 0, fds.stderr)
    assert.equal(fds.stdout, '0\n1\n2\n3', 'no descriptor of the stage1 or of the enter helper')
  })

  test('the entered command is in the app’s cgroups on the host, and the app’s memory limit kills it (CVE-2019-10147)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', NSPAWN, img.name, ...CONFINED, ...sh(`touch /ready; ${IDLE}`)], {
      readyFile: '/ready',
    })
    const enter = execa(
      RKT,
      [...ps.s.globals, 'enter', pod.uuid, '/bin/sh', '-c', 'echo $$ > /entered; exec sleep 30'],
      {
        reject: false,
        stdin: 'ignore',
      },
    )
    try {
      assert.ok(await waitFor(() => fs.existsSync(ps.appPath(pod.uuid, '/entered'))), 'the entered command started')
      const inPod = Number(fs.readFileSync(ps.appPath(pod.uuid, '/entered'), 'utf8').trim())
      const appCgroups = podCgroups(pod.uuid).filter((d) => path.basename(d) === 'pod-base')
      assert.ok(appCgroups.length >= 2, `the app has cgroups (memory, cpu, …): ${appCgroups.join(' ')}`)
      for (const dir of appCgroups) {
        const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
        assert.ok(
          procs.some((p) => nsPid(p) === inPod),
          `the entered process (pid ${inPod} in the pod) is in ${dir}`,
        )
      }
    } finally {
      enter.kill('SIGTERM')
      await enter
    }
    const oom = await ps.rkt([
      'enter',
      pod.uuid,
      '/bin/busybox',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=200M',
      'count=1',
    ])
    assert.equal(oom.exitCode, 137, `200 MiB under the app's 32 MiB limit is OOM-killed: ${oom.stderr}`)
    assert.ok(alive(pod.pid), 'the pod lives on')
    assert.equal((await ps.statusJson(pod.uuid)).state, 'running')
  })

  test('no runtime binary is reachable through /proc/<pid>/exe from the app, during enters too (CVE-2019-5736)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // The attacker: root in the app, with appc's default capabilities. Round after round it reads every
    // process's exe link (busybox's readlink prints nothing when it may not), and opens every exe that is not
    // its own busybox; half a second later (when a short-lived runtime process would have gone) it tries to
    // write the binary through that descriptor, as the runc exploit did.
    const attacker = [
      'attack() {',
      '  for d in /proc/[0-9]*; do',
      '    p=${d#/proc/}; [ "$p" = "$$" ] && continue',
      '    x=$(readlink $d/exe 2>&1)',
      '    echo "exe $p $x" >> /attack.log',
      '    case "$x" in /bin/busybox|"") continue ;; esac',
      '    ( exec 5< "$d/exe" || exit 0; echo "opened $p" >> /attack.log; sleep 0.5; echo pwned >> /proc/self/fd/5 && echo "WROTE $p" >> /attack.log ) 2>/dev/null &',
      '  done',
      '}',
      'cat /proc/1/exe > /dev/null 2>> /pid1.log || echo no-read >> /pid1.log',
      'echo x >> /proc/1/exe 2>> /pid1.log || echo no-write >> /pid1.log',
      'touch /ready',
      'while [ ! -e /stop ]; do attack; done; wait; touch /done; sleep 1000',
    ].join('\n')
    const pod = await ps.start(['run', NSPAWN, img.name, ...sh(attacker)], {readyFile: '/ready'})
    const dir = ps.podPath(pod.uuid)
    const binaries = [
      path.join(dir, 'stage1', 'rootfs', 'supervisor'),
      path.join(dir, 'stage1', 'rootfs', 'enter'),
      path.join(ROOT, 'stage1-supervisor', 'dist', 'supervisor'),
      path.join(ROOT, 'stage1-supervisor', 'dist', 'enter'),
      fs.realpathSync(RKT),
      fs.realpathSync(process.execPath),
      fs.realpathSync('/usr/bin/systemd-nspawn'),
    ]
    const before = binaries.map(sha256)
    for (let i = 0; i < 12; i++) {
      const r = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', i % 3 === 0 ? 'sleep 0.3' : 'true'])
      assert.equal(r.exitCode, 0, r.stderr)
    }
    fs.writeFileSync(ps.appPath(pod.uuid, '/stop'), '')
    assert.ok(await waitFor(() => fs.existsSync(ps.appPath(pod.uuid, '/done')), 10_000), 'the attacker finished')
    assert.deepEqual(binaries.map(sha256), before, 'every runtime binary is unchanged')
    const log = fs.readFileSync(ps.appPath(pod.uuid, '/attack.log'), 'utf8').split('\n').filter(Boolean)
    assert.deepEqual(
      log.filter((l) => l.startsWith('WROTE')),
      [],
      'no write through an exe descriptor succeeded',
    )
    const targets = new Set(log.filter((l) => l.startsWith('exe ')).map((l) => l.split(' ').slice(2).join(' ')))
    assert.ok(targets.has('/bin/busybox'), 'the attacker could read its own processes’ exe links')
    assert.deepEqual(
      [...targets].filter((x) => x !== '/bin/busybox' && x !== ''),
      [],
      'the app sees no exe but its own binary',
    )
    const pid1 = fs.readFileSync(ps.appPath(pod.uuid, '/pid1.log'), 'utf8')
    assert.match(pid1, /no-read/, `the supervisor's binary cannot be read through /proc/1/exe: ${pid1}`)
    assert.match(pid1, /no-write/)
  })
})

describe('nspawn: rkt stop', () => {
  test('stop: every app gets SIGTERM, rkt run exits with the failing app’s code, stop returns once the pod exited', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const shared = path.join(ps.s.work, 'shared')
    fs.mkdirSync(shared)
    const app = (name: string, code: number): string[] => [
      img.name,
      `--name=${name}`,
      '--mount=volume=shared,target=/shared',
      ...sh(`trap "echo TERM > /shared/${name}; exit ${code}" TERM; touch /shared/${name}-ready; ${IDLE}`),
    ]
    const pod = await ps.start([
      'run',
      NSPAWN,
      `--volume=shared,kind=host,source=${shared}`,
      ...app('a', 3),
      '---',
      ...app('b', 0),
    ])
    assert.ok(
      await waitFor(() => fs.existsSync(path.join(shared, 'a-ready')) && fs.existsSync(path.join(shared, 'b-ready'))),
    )
    const r = await ps.rkt(['stop', pod.uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, `"${pod.uuid}"`)
    const st = await ps.statusJson(pod.uuid)
    assert.equal(st.state, 'exited', 'stop returned after the pod exited')
    assert.deepEqual(
      st.apps?.map((a) => [a.name, a.exit_code]),
      [
        ['a', 3],
        ['b', 0],
      ],
    )
    assert.equal(fs.readFileSync(path.join(shared, 'a'), 'utf8'), 'TERM\n')
    assert.equal(fs.readFileSync(path.join(shared, 'b'), 'utf8'), 'TERM\n')
    assert.equal((await pod.proc).exitCode, 3)
  })

  test('stop --force ends a pod whose app ignores SIGTERM: 137, and none of its processes is left', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const pod = await ps.start(
      ['run', NSPAWN, img.name, ...sh('trap "" TERM; touch /ready; while :; do sleep 0.05; done')],
      {
        readyFile: '/ready',
      },
    )
    const dir = ps.podPath(pod.uuid)
    const r = await ps.rkt(['stop', '--force', pod.uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    const run = await pod.proc
    assert.equal(run.exitCode, 137, `rkt run ends as its SIGKILLed app did: ${String(run.stderr)}`)
    const st = await ps.statusJson(pod.uuid)
    assert.equal(st.state, 'exited')
    assert.deepEqual(
      st.apps?.map((a) => [a.state, a.exit_code]),
      [['exited', 137]],
      'status records the app’s end',
    )
    assert.deepEqual(podTraces(pod.uuid, dir).processes, [], 'no process of the pod is left')
  })
})

describe('nspawn: rkt gc', () => {
  test('after gc nothing of an exited pod is left: no directory, mount, cgroup or process', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      NSPAWN,
      `--uuid-file-save=${uuidFile}`,
      `--volume=v,kind=host,source=${host}`,
      '--volume=e,kind=empty',
      img.name,
      '--name=a',
      '--memory=64M',
      '--mount=volume=v,target=/v',
      '--mount=volume=e,target=/e',
      ...sh('echo a > /v/a; echo a > /e/a'),
      '---',
      img.name,
      '--name=b',
      '--cpu=100m',
      ...sh('true'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
    const dir = ps.podPath(uuid)
    assert.ok(podTraces(uuid, dir).mounts.length > 0, 'an exited pod keeps its mounts until gc (the check sees them)')
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(ps.podDir(uuid), undefined, 'the pod directory is gone')
    assert.deepEqual(podTraces(uuid, dir), {mounts: [], cgroups: [], processes: []})
    assert.equal(fs.readFileSync(path.join(host, 'a'), 'utf8'), 'a\n', 'the host volume keeps what the app wrote')
  })

  test('after the pod’s nspawn is SIGKILLed, gc still leaves nothing: no mount, cgroup or process', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const app = (name: string): string[] => [img.name, `--name=${name}`, '--memory=64M', ...sh(`touch /ready; ${IDLE}`)]
    const pod = await ps.start(['run', NSPAWN, ...app('a'), '---', ...app('b')])
    const dir = ps.podPath(pod.uuid)
    assert.ok(await waitFor(() => ['a', 'b'].every((a) => fs.existsSync(ps.appPath(pod.uuid, '/ready', a)))))
    assert.ok(podTraces(pod.uuid, dir).processes.length >= 4, 'nspawn, the supervisor and both apps are seen')
    process.kill(pod.pid, 'SIGKILL')
    assert.ok(await waitFor(() => flockHolders(dir).length === 0), 'the lock died with nspawn')
    const st = await ps.rkt(['status', pod.uuid])
    assert.match(st.stdout, /^state=exited$/m, st.stderr)
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(ps.podDir(pod.uuid), undefined, 'the pod directory is gone')
    assert.deepEqual(podTraces(pod.uuid, dir), {mounts: [], cgroups: [], processes: []})
  })
})
