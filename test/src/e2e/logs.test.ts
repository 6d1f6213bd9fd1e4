// `rkt logs` and the apps' loggers (stage1-supervisor/native/iomux.c): every engine keeps each app's stdout and
// stderr in the CRI format while a foreground `rkt run` still shows them; logs of exited and running pods
// (--follow, --tail, --since), the rotation bound, the kubernetes-log-path, and `rkt attach` to an app's streams.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RKT} from '../util/harness.js'
import {BASE, PodSandbox, sh, waitFor} from '../util/pods.js'

/** A CRI log line: RFC 3339 time with nanoseconds (UTC), the stream, F or P, the text. */
const CRI = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [FP] .*$/

const ENGINES = ['nspawn', 'fly', 'kvm'] as const

function logFile(ps: PodSandbox, uuid: string, app: string): string {
  return path.join(ps.podPath(uuid), 'stage1', 'rootfs', 'rkt', 'logs', `${app}.log`)
}

describe('rkt logs', () => {
  for (const engine of ENGINES) {
    test(`${engine}: an exited pod's stdout and stderr, kept in the CRI format and shown by rkt run as they came`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(BASE)
      const run = await ps.rkt([
        'run',
        '--uuid-file-save=uuid',
        img.name,
        ...sh('echo out-1; echo err-1 >&2; printf "no newline"; sleep 0.2; echo; echo out-2'),
      ])
      assert.equal(run.exitCode, 0, run.stderr)
      // The foreground run still shows what the app printed, unchanged.
      assert.match(run.stdout, /out-1\nno newline\nout-2/)
      assert.match(run.stderr, /err-1/)
      const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
      const raw = fs
        .readFileSync(logFile(ps, uuid, 'pod-base'), 'utf8')
        .trimEnd()
        .split('\n')
      for (const l of raw) assert.match(l, CRI)
      assert.ok(raw.some((l) => / stderr F err-1$/.test(l)))
      const logs = await ps.rkt(['logs', uuid])
      assert.equal(logs.exitCode, 0, logs.stderr)
      assert.equal(logs.stdout, 'out-1\nno newline\nout-2') // (execa strips the last newline)
      assert.equal(logs.stderr, 'err-1')
    })
  }

  test('nspawn --private-users: the logger, root of the pod, still writes the log', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const run = await ps.rkt(['run', '--private-users', '--uuid-file-save=uuid', img.name, ...sh('echo private')])
    assert.equal(run.exitCode, 0, run.stderr)
    const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
    const logs = await ps.rkt(['logs', uuid])
    assert.equal(logs.stdout, 'private', logs.stderr)
  })

  test('bwrap keeps no log: rkt logs says so and why', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(BASE)
    const run = await ps.rkt(['run', '--uuid-file-save=uuid', img.name, ...sh('echo hi')])
    assert.equal(run.exitCode, 0, run.stderr)
    const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
    const logs = await ps.rkt(['logs', uuid])
    assert.equal(logs.exitCode, 254)
    assert.match(logs.stderr, /kept no log for pod-base/)
    assert.match(logs.stderr, /a stage1 without a logger keeps none/)
  })

  test('nspawn: --follow prints the lines of a running pod as they come and ends when the pod exits', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const pod = await ps.start(
      ['run', img.name, ...sh('echo first; touch /ready; while [ ! -e /go ]; do sleep 0.1; done; echo second')],
      {readyFile: '/ready'},
    )
    const follow = execa(RKT, [...ps.s.globals, 'logs', '--follow', pod.uuid], {reject: false})
    let out = ''
    follow.stdout.on('data', (d: Buffer) => (out += d.toString()))
    assert.ok(await waitFor(() => out === 'first\n', 10_000), `follow printed ${JSON.stringify(out)}`)
    fs.writeFileSync(ps.appPath(pod.uuid, '/go'), '')
    const r = await follow
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(out, 'first\nsecond\n')
  })

  test('nspawn: --tail and --since choose lines; several apps are merged, each line naming its app', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const run = await ps.rkt([
      'run',
      '--uuid-file-save=uuid',
      img.name,
      '--name=a',
      ...sh('for i in 1 2 3 4 5; do echo a$i; done'),
      '---',
      img.name,
      '--name=b',
      ...sh('sleep 0.5; echo b1'),
    ])
    assert.equal(run.exitCode, 0, run.stderr)
    const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
    const tail = await ps.rkt(['logs', '--app=a', '--tail=2', uuid])
    assert.equal(tail.stdout, 'a4\na5', tail.stderr)
    const both = await ps.rkt(['logs', '--tail=2', uuid])
    assert.equal(both.stdout, '[a] a5\n[b] b1', both.stderr)
    const future = await ps.rkt(['logs', '--since=2999-01-01T00:00:00Z', uuid])
    assert.equal(future.stdout, '')
    const recent = await ps.rkt(['logs', '--app=b', '--since=1h', '--timestamps', uuid])
    assert.match(recent.stdout, /^\d{4}-\d\d-\d\dT\S+Z b1$/)
    const bad = await ps.rkt(['logs', '--since=yesterday', uuid])
    assert.equal(bad.exitCode, 254)
    assert.match(bad.stderr, /--since: "yesterday" is neither a time nor a duration/)
    const noApp = await ps.rkt(['logs', '--app=c', uuid])
    assert.equal(noApp.exitCode, 254)
    assert.match(noApp.stderr, /has no app named c/)
  })

  test('nspawn: the log is rotated at 10 MiB and keeps two files, the newest lines last', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    // 30 MB of 100-byte lines, then a last line: three times the bound.
    const script =
      'yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -n 300000; echo the-end'
    const run = await ps.rkt(['run', '--uuid-file-save=uuid', img.name, ...sh(script)])
    assert.equal(run.exitCode, 0, run.stderr)
    const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
    const file = logFile(ps, uuid, 'pod-base')
    const sizes = [file, `${file}.1`].map((f) => fs.statSync(f).size)
    for (const s of sizes) assert.ok(s <= 10 * 1024 * 1024, `a log file of ${s} bytes`)
    assert.ok(sizes[1]! > 9 * 1024 * 1024, `the rotated file has ${sizes[1]} bytes`)
    assert.ok(!fs.existsSync(`${file}.2`))
    const last = await ps.rkt(['logs', '--tail=1', uuid])
    assert.equal(last.stdout, 'the-end')
  })

  for (const engine of ENGINES) {
    test(`${engine}: the kubernetes-log-path annotations put the CRI log in the orchestrator's directory`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(BASE)
      const dir = path.join(ps.s.work, 'k8s-logs')
      fs.mkdirSync(dir)
      const manifest = {
        acKind: 'PodManifest',
        acVersion: '0.8.11',
        apps: [
          {
            name: 'web',
            image: {id: img.id, name: img.name},
            app: {exec: ['/bin/sh', '-c', 'echo hello k8s; echo oops >&2'], user: '0', group: '0'},
            annotations: [{name: 'coreos.com/rkt/experiment/kubernetes-log-path', value: 'web/0.log'}],
          },
        ],
        annotations: [{name: 'coreos.com/rkt/experiment/kubernetes-log-dir', value: dir}],
      }
      fs.writeFileSync(path.join(ps.s.work, 'pm.json'), JSON.stringify(manifest))
      const run = await ps.rkt(['run', '--uuid-file-save=uuid', '--pod-manifest=pm.json'])
      assert.equal(run.exitCode, 0, run.stderr)
      const lines = fs
        .readFileSync(path.join(dir, 'web', '0.log'), 'utf8')
        .trimEnd()
        .split('\n')
      assert.equal(lines.length, 2)
      for (const l of lines) assert.match(l, CRI)
      assert.ok(lines.some((l) => l.endsWith(' stdout F hello k8s')))
      assert.ok(lines.some((l) => l.endsWith(' stderr F oops')))
      const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
      const logs = await ps.rkt(['logs', uuid])
      assert.equal(logs.stdout, 'hello k8s', logs.stderr)
    })
  }
})

const STREAMS = ['stdin', 'stdout', 'stderr'].map((s) => `--annotation=coreos.com/rkt/stage2/${s}=stream`)
/** rkt's per-app flags for the same (they set those annotations). */
const STREAM_FLAGS = ['--stdin=stream', '--stdout=stream', '--stderr=stream']

describe('rkt attach', () => {
  for (const engine of ['nspawn', 'fly'] as const) {
    test(`${engine}: attach sends stdin to an app run in stream mode and reads its stdout and stderr`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(BASE)
      const pod = await ps.start(
        [
          'run',
          img.name,
          ...(engine === 'fly' ? STREAMS : STREAM_FLAGS),
          ...sh('touch /ready; read line; echo got:$line; echo err:$line >&2'),
        ],
        {readyFile: '/ready'},
      )
      const list = await ps.rkt(['attach', '--mode=list', pod.uuid])
      assert.equal(list.exitCode, 0, list.stderr)
      const names = (JSON.parse(list.stdout) as {targets: {name: string}[]}).targets.map((x) => x.name)
      assert.deepEqual(names, ['stdin', 'stdout', 'stderr'])
      const r = await ps.rkt(['attach', pod.uuid], {input: 'hello\n'})
      assert.equal(r.exitCode, 0, r.stderr)
      assert.equal(r.stdout, 'got:hello')
      assert.equal(r.stderr, 'err:hello')
      // What went through the endpoints is in the log too.
      await pod.proc
      const logs = await ps.rkt(['logs', pod.uuid])
      assert.equal(logs.stdout, 'got:hello')
    })
  }

  test('nspawn: an app without stream mode cannot be attached to, and says how', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...sh('touch /ready; sleep 60')], {readyFile: '/ready'})
    const r = await ps.rkt(['attach', pod.uuid])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /app pod-base cannot be attached to: it has no attach endpoints/)
    assert.match(r.stderr, /coreos\.com\/rkt\/stage2\/stdin=stream/)
    const tty = await ps.rkt(['attach', '--mode=tty,stdin', pod.uuid])
    assert.equal(tty.exitCode, 254)
    assert.match(tty.stderr, /mixes a terminal and streams/)
  })

  test('kvm: stream mode is refused before the VM starts', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'kvm'})
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', img.name, ...STREAMS, ...sh('true')])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /the kvm stage1 cannot attach to apps' streams/)
  })
})
