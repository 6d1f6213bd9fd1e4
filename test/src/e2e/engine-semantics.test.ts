// The semantics every engine holds alike (docs/stage1.md, "Semantics every engine holds"), checked on
// fly, nspawn and kvm with real pods: event handlers run as root in the app's root, in order; /etc/mtab; a
// --mount overrides an image mountPoint's path; `..` in a target stays inside the app's root; volumes over
// /proc, /sys and /dev are refused; `rkt enter` passes the caller's TERM; a sibling stopped because another
// app failed reports 0. And nspawn's propagate directory: no line about it, nothing left, the route kept.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {BASE, PodSandbox, sh, statusPairs, type PodImageSpec} from '../util/pods.js'

const ENGINES = ['fly', 'nspawn', 'kvm'] as const
type Engine = (typeof ENGINES)[number]

/** No network of the pod's own where the engine can do without (fly has none to refuse). */
const netFlags = (engine: Engine): string[] => (engine === 'fly' ? [] : ['--net=none'])

const PROPAGATE = '/run/systemd/nspawn/propagate'
const SCARY = /Attempted to remove disk file system/

/** A host directory every uid may write, with a file `order` every uid may append to. */
function sharedDir(ps: PodSandbox, name: string): string {
  const dir = path.join(ps.s.work, name)
  fs.mkdirSync(dir, {recursive: true})
  fs.chmodSync(dir, 0o777)
  fs.writeFileSync(path.join(dir, 'order'), '')
  fs.chmodSync(path.join(dir, 'order'), 0o666)
  return dir
}

/** An unprivileged app whose handlers record who ran them, and what they saw of the app's root. */
const HANDLERS: PodImageSpec = {
  ...BASE,
  name: 'example.com/semantics-handlers',
  app: {
    user: '1000',
    group: '1000',
    eventHandlers: [
      {
        name: 'pre-start',
        exec: ['/bin/sh', '-c', 'echo "pre-start $(id -u):$(id -g) $(cat /etc/marker)" >> /log/order'],
      },
      {name: 'post-stop', exec: ['/bin/sh', '-c', 'echo "post-stop $(id -u):$(id -g)" >> /log/order']},
    ],
  },
}

/** An image that asks for a volume at /data, and one whose /data leads to /proc. */
const MOUNT_POINT: PodImageSpec = {
  ...BASE,
  name: 'example.com/semantics-mountpoint',
  app: {mountPoints: [{name: 'data', path: '/data'}]},
}
const LINK_TO_PROC: PodImageSpec = {...BASE, name: 'example.com/semantics-link', symlinks: {'/data': '/proc'}}

for (const engine of ENGINES) {
  describe(`engine semantics: ${engine}`, () => {
    test(`${engine}: pre-start and post-stop run as root in the app's root, around the app; /etc/mtab is /proc/self/mounts`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(HANDLERS)
      const log = sharedDir(ps, 'log')
      const uuidFile = path.join(ps.s.work, 'uuid')
      const app = 'echo "app $(id -u):$(id -g) $(readlink /etc/mtab) $(grep -c . /etc/mtab)" >> /log/order'
      const r = await ps.rkt([
        'run',
        ...netFlags(engine),
        `--uuid-file-save=${uuidFile}`,
        `--volume=log,kind=host,source=${log}`,
        img.name,
        '--mount=volume=log,target=/log',
        ...sh(app),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      const lines = fs.readFileSync(path.join(log, 'order'), 'utf8').split('\n')
      assert.equal(lines[0], 'pre-start 0:0 from the image', r.stderr)
      assert.match(
        lines[1]!,
        /^app 1000:1000 \/proc\/self\/mounts [1-9]\d*$/,
        'the app reads its mounts through /etc/mtab',
      )
      assert.equal(lines.slice(2).join('\n'), 'post-stop 0:0\n')
      if (engine === 'nspawn') {
        // nspawn removed its machine's propagate directory itself, silently.
        assert.doesNotMatch(r.stderr, SCARY)
        const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
        assert.equal(fs.existsSync(path.join(PROPAGATE, `rkt-${uuid}`)), false, 'nspawn left its propagate directory')
      }
    })

    test(`${engine}: a failing pre-start handler keeps the app from starting: status 254, rkt run 254`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image({
        ...BASE,
        name: 'example.com/semantics-failing-pre-start',
        app: {eventHandlers: [{name: 'pre-start', exec: ['/bin/sh', '-c', 'exit 7']}]},
      })
      const uuidFile = path.join(ps.s.work, 'uuid')
      const r = await ps.rkt(['run', ...netFlags(engine), `--uuid-file-save=${uuidFile}`, img.name, ...sh('echo ran')])
      assert.equal(r.exitCode, 254, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /the pre-start handler exited with 7/)
      const st = await ps.rkt(['status', fs.readFileSync(uuidFile, 'utf8').trim()])
      assert.deepEqual(
        statusPairs(st.stdout).filter(([k]) => k.startsWith('app-')),
        [['app-semantics-failing-pre-start', '254']],
      )
    })

    test(`${engine}: a --mount overrides the image mountPoint's path; ".." in a target stays inside the app's root`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(MOUNT_POINT)
      const data = sharedDir(ps, 'data')
      const up = sharedDir(ps, 'up')
      fs.writeFileSync(path.join(data, 'f'), 'the data volume\n')
      fs.writeFileSync(path.join(up, 'f'), 'the up volume\n')
      const uuidFile = path.join(ps.s.work, 'uuid')
      const r = await ps.rkt([
        'run',
        ...netFlags(engine),
        `--uuid-file-save=${uuidFile}`,
        `--volume=data,kind=host,source=${data}`,
        `--volume=up,kind=host,source=${up}`,
        '--volume=scratch,kind=empty',
        img.name,
        '--mount=volume=data,target=/override',
        '--mount=volume=up,target=/../../../../escape',
        '--mount=volume=scratch,target=/tmp/scratch',
        ...sh('cat /override/f /escape/f; [ -e /data/f ] && echo "also at /data" || echo "not at /data"'),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      assert.equal(r.stdout, 'the data volume\nthe up volume\nnot at /data')
      // Nothing was made or mounted above the app's root: `..` stopped at it.
      const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
      const pod = ps.podPath(uuid)
      for (const above of ['stage1/rootfs/escape', 'stage1/escape', 'escape'])
        assert.equal(fs.existsSync(path.join(pod, above)), false, `${above} was created`)
      const outside = readMountinfo().filter(
        (m) => m.mountPoint.endsWith('/escape') && !m.mountPoint.includes('/opt/stage2/'),
      )
      assert.deepEqual(outside, [])
      // Every engine mounts each volume at its target, so there is nothing to warn about (kvm in the guest).
      assert.doesNotMatch(r.stderr, /warning/, r.stderr)
    })

    test(`${engine}: volumes over /proc, /sys and /dev are refused, saying so (also through an image's symlink)`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const base = await ps.image(BASE)
      const link = await ps.image(LINK_TO_PROC)
      const dir = sharedDir(ps, 'v')
      const cases: [string, string, RegExp][] = [
        [base.name, '/proc', /targets \/proc: volumes cannot be mounted on \/, \/proc, \/sys, \/dev or below them/],
        [base.name, '/sys/kernel', /targets \/sys\/kernel: volumes cannot/],
        [base.name, '/dev', /targets \/dev: volumes cannot/],
        [link.name, '/data', /targets \/proc \(via symlinks in the image\): volumes cannot/],
      ]
      for (const [image, target, message] of cases) {
        const r = await ps.rkt([
          'run',
          ...netFlags(engine),
          `--volume=v,kind=host,source=${dir}`,
          image,
          `--mount=volume=v,target=${target}`,
          ...sh('echo ran'),
        ])
        assert.equal(r.exitCode, 254, `${target}: ${r.stderr}`)
        assert.match(r.stderr, message)
        assert.match(r.stderr, /mount the volume somewhere else in the app/)
        assert.equal(r.stdout, '')
      }
    })

    test(`${engine}: rkt enter gives the command the caller's TERM (vt100 without one) and the app's environment`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(BASE)
      const pod = await ps.start(['run', ...netFlags(engine), img.name, ...sh('touch /ready; exec sleep 600')], {
        readyFile: '/ready',
      })
      const enter = (env: Record<string, string | undefined>) =>
        ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'echo "$TERM $AC_APP_NAME"'], {env: env as Record<string, string>})
      const given = await enter({TERM: 'xterm-semantics'})
      assert.equal(given.exitCode, 0, given.stderr)
      assert.equal(given.stdout, 'xterm-semantics pod-base')
      const none = await enter({TERM: undefined})
      assert.equal(none.exitCode, 0, none.stderr)
      assert.equal(none.stdout, 'vt100 pod-base')
      if (engine === 'nspawn') {
        // nspawn's route for adding mounts to a running pod: a mount under the machine's propagate directory
        // reaches the container's /run/host/incoming.
        const machine = path.join(PROPAGATE, `rkt-${pod.uuid}`)
        const probe = path.join(machine, 'probe')
        fs.mkdirSync(probe)
        execFileSync('mount', ['-t', 'tmpfs', 'probe', probe])
        try {
          fs.writeFileSync(path.join(probe, 'hello'), 'through the route\n')
          const nspawnPid = fs.readFileSync(path.join(ps.podPath(pod.uuid), 'ppid'), 'utf8').trim()
          const supervisor = fs.readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim()
          // The container's root, as its PID 1 sees it in its mount namespace.
          const seen = fs.readFileSync(`/proc/${supervisor}/root/run/host/incoming/probe/hello`, 'utf8')
          assert.equal(seen, 'through the route\n')
        } finally {
          execFileSync('umount', [probe])
          fs.rmdirSync(probe)
        }
      }
      const stop = await ps.rkt(['stop', pod.uuid])
      assert.equal(stop.exitCode, 0, stop.stderr)
      const run = await pod.proc
      assert.equal(run.exitCode, 143, String(run.stderr))
      if (engine === 'nspawn') {
        assert.doesNotMatch(String(run.stderr), SCARY)
        assert.equal(fs.existsSync(path.join(PROPAGATE, `rkt-${pod.uuid}`)), false)
      }
    })

    if (engine !== 'fly') {
      test(`${engine}: when an app fails, a sibling stopped because of it reports 0; rkt run exits with the failure`, async (t) => {
        const ps = PodSandbox.create(t, {stage1: engine})
        const img = await ps.image(BASE)
        const uuidFile = path.join(ps.s.work, 'uuid')
        const r = await ps.rkt([
          'run',
          ...netFlags(engine),
          `--uuid-file-save=${uuidFile}`,
          img.name,
          '--name=ok',
          ...sh('exit 0'),
          '---',
          img.name,
          '--name=bad',
          ...sh('sleep 2; exit 5'),
          '---',
          img.name,
          '--name=sibling',
          ...sh('exec sleep 600'),
        ])
        assert.equal(r.exitCode, 5, r.stderr)
        const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
        const st = await ps.rkt(['status', uuid])
        const apps = statusPairs(st.stdout).filter(([k]) => k.startsWith('app-'))
        assert.deepEqual(apps, [
          ['app-ok', '0'],
          ['app-bad', '5'],
          ['app-sibling', '0'],
        ])
      })
    }
  })
}

test('fly: --hostname is said to be ignored (a fly pod has the host’s hostname)', async (t) => {
  const ps = PodSandbox.create(t, {stage1: 'fly'})
  const img = await ps.image(BASE)
  const r = await ps.rkt(['run', '--hostname=semantics', img.name, ...sh('echo ran')])
  assert.equal(r.exitCode, 0, r.stderr)
  assert.equal(r.stdout, 'ran')
  assert.match(r.stderr, /--hostname=semantics ignored: fly pods share the host’s hostname/)
})
