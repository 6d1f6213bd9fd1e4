// Removing pods and what they leave (gc as in rkt: mark, then sweep after the grace period):
// `rkt rm`, `rkt gc` with its grace period, --mark-only and --expire-prepared, `rkt image gc` keeping what pods
// still use, and `rkt export` of an exited pod's app. Nothing may stay mounted, and nothing running or
// still to be run may be collected.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'

import {unmountTree} from '@rkt/core/sys/mounts'

import {requireTool} from '../util/harness.js'
import {alive, BASE, mountsUnder, PodSandbox, sh} from '../util/pods.js'

const LONG = sh('trap "exit 3" TERM; touch /tmp/ready; while :; do sleep 0.05; done')

/** Runs a pod to completion and returns its UUID. */
async function runPod(ps: PodSandbox, args: readonly string[], code = 0): Promise<string> {
  const file = path.join(ps.s.work, `uuid-${crypto.randomUUID()}`)
  const r = await ps.rkt(['run', `--uuid-file-save=${file}`, ...args])
  assert.equal(r.exitCode, code, r.stderr)
  return fs.readFileSync(file, 'utf8').trim()
}

/** Lines of `rkt list --no-legend` as [uuid prefix, state]. */
async function listStates(ps: PodSandbox): Promise<Map<string, string>> {
  const r = await ps.rkt(['list', '--no-legend', '--full'])
  assert.equal(r.exitCode, 0, r.stderr)
  const out = new Map<string, string>()
  for (const line of r.stdout.split('\n').filter((l) => l !== '')) {
    const cells = line.split(/\t+/)
    out.set(cells[0]!, cells[4]!)
  }
  return out
}

describe('rkt rm', () => {
  test('removes an exited pod: its directory, every mount under the data dir, its list entry', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    const uuid = await runPod(ps, [
      `--volume=v,kind=host,source=${host}`,
      '--volume=e,kind=empty',
      img.name,
      '--mount=volume=v,target=/v',
      '--mount=volume=e,target=/e',
      ...sh('echo x > /v/kept; echo y > /e/f'),
    ])
    const dir = ps.podPath(uuid)
    assert.ok(mountsUnder(dir).length > 0, 'an exited pod keeps its mounts until it is removed')

    const r = await ps.rkt(['rm', uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, `"${uuid}"`)
    assert.equal(ps.podDir(uuid), undefined)
    assert.deepEqual(mountsUnder(ps.data), [])
    assert.equal((await listStates(ps)).size, 0)
    assert.equal(fs.readFileSync(path.join(host, 'kept'), 'utf8'), 'x\n', 'the host volume keeps what the app wrote')

    const again = await ps.rkt(['rm', uuid])
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, /no matches found for/)
  })

  test('refuses a running pod (254, with a hint) and leaves it running; removes a prepared pod', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...LONG], {readyFile: '/tmp/ready'})
    const r = await ps.rkt(['rm', pod.uuid])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /is running: it cannot be removed/)
    assert.match(r.stderr, new RegExp(`stop it first: rkt stop ${pod.uuid}`))
    assert.ok(alive(pod.pid))
    assert.equal(ps.podState(pod.uuid), 'run')
    assert.ok(fs.existsSync(ps.appPath(pod.uuid, 'tmp/ready')), 'its mounts are in place')

    const prepared = (await ps.rkt(['prepare', '--quiet', img.name])).stdout
    const rmPrepared = await ps.rkt(['rm', prepared])
    assert.equal(rmPrepared.exitCode, 0, rmPrepared.stderr)
    assert.equal(ps.podDir(prepared), undefined)

    process.kill(pod.pid, 'SIGTERM')
    assert.equal((await pod.proc).exitCode, 3)
    const rmAfter = await ps.rkt(['rm', pod.uuid])
    assert.equal(rmAfter.exitCode, 0, rmAfter.stderr)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('rkt gc', () => {
  test('--grace-period=0s collects exited pods, never a running pod nor an unexpired prepared one', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const exited = await runPod(ps, [img.name, ...sh('exit 1')], 1)
    const running = await ps.start(['run', img.name, ...LONG], {readyFile: '/tmp/ready'})
    const prepared = (await ps.rkt(['prepare', '--quiet', img.name])).stdout

    const r = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, `Garbage collecting pod "${exited}"`)
    assert.match(r.stderr, new RegExp(`moving pod "${exited}" to garbage`))
    assert.equal(ps.podDir(exited), undefined)
    assert.equal(ps.podState(running.uuid), 'run')
    assert.equal(ps.podState(prepared), 'prepared')
    assert.ok(alive(running.pid), 'the running pod is untouched')
    assert.ok(fs.existsSync(ps.appPath(running.uuid, 'tmp/ready')), 'and so are its mounts')
    const states = await listStates(ps)
    assert.deepEqual(
      [...states.entries()].sort(),
      [
        [prepared, 'prepared'],
        [running.uuid, 'running'],
      ].sort(),
    )

    // The running pod still works: enter it, stop it, and then gc takes it.
    const enter = await ps.rkt(['enter', running.uuid, '/bin/sh', '-c', 'cat /etc/marker'])
    assert.equal(enter.stdout, 'from the image')
    assert.equal((await ps.rkt(['stop', running.uuid])).exitCode, 0)
    const r2 = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(r2.stdout, `Garbage collecting pod "${running.uuid}"`)
    assert.equal(ps.podState(prepared), 'prepared')
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('the default grace period marks exited pods ("exited garbage") and keeps them; a later gc with 0s sweeps', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuid = await runPod(ps, [img.name, ...sh('true')])
    const r = await ps.rkt(['gc'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '', 'nothing collected yet')
    assert.match(r.stderr, /still within grace period \(30m0s\)/)
    assert.equal(ps.podState(uuid), 'exited-garbage')
    assert.match((await ps.rkt(['status', uuid])).stdout, /^state=exited garbage$/m)
    assert.match((await ps.rkt(['status', uuid])).stdout, /^exited=true$/m)
    assert.equal((await listStates(ps)).get(uuid), 'exited garbage')

    const sweep = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(sweep.stdout, `Garbage collecting pod "${uuid}"`)
    assert.equal(ps.podDir(uuid), undefined)
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('--mark-only moves exited pods to exited-garbage and deletes nothing, whatever the grace period', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuid = await runPod(ps, [img.name, ...sh('echo kept > /kept')])
    const r = await ps.rkt(['gc', '--mark-only', '--grace-period=0s'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(ps.podState(uuid), 'exited-garbage')
    assert.equal(fs.readFileSync(ps.appPath(uuid, 'kept'), 'utf8'), 'kept\n', 'the pod is whole, still mounted')
    // A marked pod can still be exported and inspected.
    assert.equal((await ps.rkt(['cat-manifest', uuid])).exitCode, 0)
    const out = path.join(ps.s.work, 'marked.aci')
    const exp = await ps.rkt(['export', uuid, out])
    assert.equal(exp.exitCode, 0, exp.stderr)
    assert.equal((await ps.rkt(['rm', uuid])).exitCode, 0)
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('--expire-prepared collects old prepared pods; aborted prepares and stale embryos are collected', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const prepared = (await ps.rkt(['prepare', '--quiet', img.name])).stdout
    // An aborted prepare: a pod directory in prepare/ that nobody holds.
    const aborted = crypto.randomUUID()
    fs.mkdirSync(path.join(ps.data, 'pods', 'prepare', aborted))
    assert.equal((await listStates(ps)).get(aborted), 'aborted prepare')

    const keep = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(keep.exitCode, 0, keep.stderr)
    assert.equal(keep.stdout, `Garbage collecting pod "${aborted}"`)
    assert.equal(ps.podDir(aborted), undefined)
    assert.equal(ps.podState(prepared), 'prepared', 'prepared pods live 24 h by default')

    const expire = await ps.rkt(['gc', '--grace-period=0s', '--expire-prepared=0s'])
    assert.equal(expire.exitCode, 0, expire.stderr)
    assert.equal(expire.stdout, `Garbage collecting pod "${prepared}"`)
    assert.equal(ps.podDir(prepared), undefined)
    const bad = await ps.rkt(['gc', '--grace-period=soon'])
    assert.equal(bad.exitCode, 2)
  })
})

describe('concurrent gc (FI-14)', () => {
  test('two gc at once both succeed; every exited pod is deleted, nothing stays mounted', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pods: string[] = []
    for (let i = 0; i < 6; i++) pods.push(await runPod(ps, [img.name, ...sh('true')]))
    const both = await Promise.all([ps.rkt(['gc', '--grace-period=0s']), ps.rkt(['gc', '--grace-period=0s'])])
    for (const r of both) assert.equal(r.exitCode, 0, r.stderr)
    for (const r of both) assert.doesNotMatch(r.stderr, /ENOENT|no such file/)
    for (const uuid of pods) assert.equal(ps.podDir(uuid), undefined)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('a pod that cannot be removed does not stop the others', () => {
  /**
   * An app that builds a tree deeper than PATH_MAX: 2000 directories of 100-character names (a 202 kB path),
   * made 40 levels (4 kB) at a time: busybox's cd fails on a logical path longer than PATH_MAX (-P avoids it).
   */
  const DEEP = sh(
    `n=${'d'.repeat(100)}; c=$n; for j in $(seq 39); do c=$c/$n; done; ` +
      'i=0; while [ $i -lt 50 ]; do mkdir -p $c && cd -P $c || exit 1; i=$((i+1)); done',
  )

  interface ThreePods {
    readonly deep: string
    readonly stuck: string
    readonly plain: string
    /** Takes the immutable flag off, so that the stuck pod can go. */
    readonly unstick: () => Promise<unknown>
  }

  /** Three exited pods: one with a tree deeper than PATH_MAX, one with an immutable file, one ordinary. */
  async function threePods(t: TestContext, ps: PodSandbox): Promise<ThreePods> {
    await requireTool(t, 'chattr')
    const img = await ps.image(BASE)
    const deep = await runPod(ps, [img.name, ...DEEP])
    const stuck = await runPod(ps, [img.name, ...sh('true')])
    const plain = await runPod(ps, [img.name, ...sh('true')])
    // chattr +i: not even root can unlink the file, until the flag is taken off again.
    const manifest = (): string => path.join(ps.podPath(stuck), 'pod')
    await execa('chattr', ['+i', manifest()])
    const unstick = (): Promise<unknown> => execa('chattr', ['-i', manifest()])
    t.after(async () => {
      if (ps.podDir(stuck)) await unstick()
    })
    return {deep, stuck, plain, unstick}
  }

  test('gc removes every other pod, a tree deeper than PATH_MAX included, names the failure and its cause, exits 254', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {deep, stuck, plain, unstick} = await threePods(t, ps)
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 254, gc.stderr)
    for (const uuid of [deep, stuck, plain]) assert.match(gc.stdout, new RegExp(`Garbage collecting pod "${uuid}"`))
    assert.equal(ps.podDir(deep), undefined, 'the deep tree is removed')
    assert.equal(ps.podDir(plain), undefined)
    assert.equal(ps.podState(stuck), 'exited-garbage', 'the pod that failed stays marked, for a later gc')
    const failures = gc.stderr.split('\n').filter((l) => l.includes('cannot remove pod'))
    assert.equal(failures.length, 1, gc.stderr)
    assert.match(
      failures[0]!,
      new RegExp(`^rkt: cannot remove pod "${stuck}": .*EPERM: operation not permitted, unlinkat '.*/pod'$`),
    )
    assert.match(gc.stderr, /^rkt: 1 pod\(s\) could not be collected$/m)

    await unstick()
    const again = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(again.stdout, `Garbage collecting pod "${stuck}"`)
    assert.equal(ps.podDir(stuck), undefined)
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('rm of several pods removes every removable one, reports the other with its cause, exits 254', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {deep, stuck, plain, unstick} = await threePods(t, ps)
    const rm = await ps.rkt(['rm', deep, stuck, plain])
    assert.equal(rm.exitCode, 254, rm.stderr)
    assert.equal(rm.stdout, `"${deep}"\n"${plain}"`)
    assert.equal(ps.podDir(deep), undefined)
    assert.equal(ps.podDir(plain), undefined)
    assert.match(rm.stderr, new RegExp(`^rkt: cannot remove pod "${stuck}": .*EPERM: operation not permitted`, 'm'))
    assert.match(rm.stderr, /^rkt: failed to remove one or more pods$/m)
    await unstick()
    assert.equal((await ps.rkt(['rm', stuck])).exitCode, 0)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('a stage1 gc that fails keeps its pod', () => {
  /**
   * A CNI plugin chained after ptp that passes ADD's result on and refuses DEL while `refuse` exists, noting each
   * DEL in `log`: what a plugin whose teardown fails (a missing binary, a busy device) does to gc.
   */
  function stickyNetwork(ps: PodSandbox): {refuse: string; log: string} {
    const netd = path.join(ps.s.localConfig, 'net.d')
    const refuse = path.join(ps.s.work, 'refuse-del')
    const log = path.join(ps.s.work, 'del.log')
    fs.mkdirSync(netd, {recursive: true})
    fs.writeFileSync(
      path.join(netd, 'deldeny'),
      `#!${process.execPath}
const fs = require('fs')
const conf = JSON.parse(fs.readFileSync(0, 'utf8'))
const cmd = process.env.CNI_COMMAND
if (cmd === 'ADD') process.stdout.write(JSON.stringify(conf.prevResult))
if (cmd === 'DEL') {
  fs.appendFileSync(conf.log, 'DEL\\n')
  if (fs.existsSync(conf.refuse)) {
    process.stdout.write(JSON.stringify({cniVersion: conf.cniVersion, code: 11, msg: 'DEL refused'}))
    process.exit(1)
  }
}
`,
      {mode: 0o755},
    )
    fs.writeFileSync(
      path.join(netd, '10-sticky.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'sticky',
        plugins: [
          {type: 'ptp', ipam: {type: 'host-local', subnet: '10.213.43.0/24'}},
          {type: 'deldeny', refuse, log},
        ],
      }),
    )
    fs.writeFileSync(refuse, '')
    return {refuse, log}
  }

  test('a network that cannot be torn down: gc keeps the pod and its record, names the cause, and the next gc finishes', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const {refuse, log} = stickyNetwork(ps)
    const uuid = await runPod(ps, ['--net=sticky', img.name, ...sh('true')])
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 254, gc.stderr)
    assert.match(gc.stderr, /DEL refused/)
    assert.match(gc.stderr, new RegExp(`the stage1 gc of pod "${uuid}" failed .*: the pod is kept`))
    assert.equal(ps.podState(uuid), 'exited-garbage', 'the pod stays, for the next gc')
    assert.ok(fs.existsSync(path.join(ps.podPath(uuid), 'net-state.json')), 'with what its networks still need')

    fs.rmSync(refuse)
    const again = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(ps.podDir(uuid), undefined)
    assert.equal(fs.readFileSync(log, 'utf8'), 'DEL\nDEL\n', 'the second gc tore the network down')
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('rkt image gc and pods', () => {
  test('keeps the images and trees that pods use: a prepared pod still runs; once the pods are gone they go', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const prepared = (await ps.rkt(['prepare', '--quiet', img.name, ...sh('cat /etc/marker')])).stdout
    const exited = await runPod(ps, [img.name, ...sh('true')])
    const trees = () => fs.readdirSync(path.join(ps.data, 'cas', 'tree')).sort()
    const before = trees()
    assert.ok(before.length >= 2, 'the app and the stage1 are rendered')

    const gc = await ps.rkt(['image', 'gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.deepEqual(trees(), before, 'no tree a pod uses is removed')
    assert.ok(
      (await ps.s.images()).some((i) => img.id.startsWith(i.id)),
      'the app image stays listed',
    )

    const run = await ps.rkt(['run-prepared', prepared])
    assert.equal(run.exitCode, 0, run.stderr)
    assert.equal(run.stdout, 'from the image')
    // The exited pod can still be exported: its tree is there.
    assert.equal((await ps.rkt(['export', exited, path.join(ps.s.work, 'e.aci')])).exitCode, 0)

    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
    const after = await ps.rkt(['image', 'gc', '--grace-period=0s'])
    assert.equal(after.exitCode, 0, after.stderr)
    assert.deepEqual(trees(), [], 'with no pods left, every tree is collected')
    assert.deepEqual(await ps.s.images(), [])
  })
})

describe('rkt export', () => {
  test("the exported image holds the app's changes, and no /proc, /dev, /sys, /tmp or volume contents", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    fs.writeFileSync(path.join(host, 'host-file'), 'host data\n')
    const uuid = await runPod(ps, [
      `--volume=v,kind=host,source=${host}`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh(
        'echo made by the app > /made; rm /etc/marker; echo in tmpfs > /tmp/t; test -e /proc/1/status && test -e /dev/null',
      ),
    ])
    const out = path.join(ps.s.work, 'out.aci')
    const r = await ps.rkt(['export', uuid, out])
    assert.equal(r.exitCode, 0, r.stderr)

    const list = await execa('tar', ['tzf', out])
    const entries = String(list.stdout).split('\n').sort()
    assert.ok(entries.includes('manifest'))
    assert.ok(entries.includes('rootfs/made'))
    assert.ok(entries.includes('rootfs/bin/busybox'))
    assert.ok(!entries.includes('rootfs/etc/marker'), 'a file the app deleted is gone')
    for (const dir of ['proc', 'dev', 'sys', 'tmp', 'data']) {
      const inside = entries.filter((e) => e.startsWith(`rootfs/${dir}/`) && e !== `rootfs/${dir}/`)
      assert.deepEqual(inside, [], `nothing under /${dir} is archived`)
    }
    assert.ok(
      entries.includes('rootfs/proc/') && entries.includes('rootfs/dev/'),
      'the mount points themselves are kept',
    )
    const made = await execa('tar', ['xzOf', out, 'rootfs/made'])
    assert.equal(String(made.stdout), 'made by the app')
    const manifest = JSON.parse(String((await execa('tar', ['xzOf', out, 'manifest'])).stdout)) as {name: string}
    assert.equal(manifest.name, 'example.com/pod-base')

    // The export is a valid image: fetch it and run it.
    const fetched = await ps.rkt(['--insecure-options=image', 'fetch', '--full', out])
    assert.equal(fetched.exitCode, 0, fetched.stderr)
    const rerun = await ps.rkt(['run', fetched.stdout, ...sh('cat /made; test -e /etc/marker || echo no-marker')])
    assert.equal(rerun.stdout, 'made by the app\nno-marker')
    assert.deepEqual(fs.readdirSync(host), ['host-file'], 'the host volume is as it was')
  })

  test('--no-overlay pods (a copied rootfs) export the same way and leave no mounts after rm', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuid = await runPod(ps, ['--no-overlay', img.name, ...sh('echo copy > /made; test -e /proc/self/status')])
    assert.ok(!fs.existsSync(path.join(ps.podPath(uuid), 'overlay-prepared')))
    const out = path.join(ps.s.work, 'out.aci')
    assert.equal((await ps.rkt(['export', uuid, out])).exitCode, 0)
    const entries = String((await execa('tar', ['tzf', out])).stdout).split('\n')
    assert.ok(entries.includes('rootfs/made'))
    assert.deepEqual(
      entries.filter((e) => /^rootfs\/(proc|dev|sys|tmp)\/./.test(e)),
      [],
    )
    assert.equal((await ps.rkt(['rm', uuid])).exitCode, 0)
    assert.equal(ps.podDir(uuid), undefined)
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('a running pod cannot be exported; the output must be .aci and is not overwritten unless asked', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...LONG], {readyFile: '/tmp/ready'})
    const out = path.join(ps.s.work, 'out.aci')
    const r = await ps.rkt(['export', pod.uuid, out])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /is running: only exited pods can be exported/)
    assert.match(r.stderr, /stop it first/)
    assert.ok(!fs.existsSync(out))
    assert.ok(alive(pod.pid))

    assert.equal((await ps.rkt(['stop', pod.uuid])).exitCode, 0)
    assert.equal((await ps.rkt(['export', pod.uuid, path.join(ps.s.work, 'out.tar')])).exitCode, 2)
    assert.equal((await ps.rkt(['export', pod.uuid, out])).exitCode, 0)
    const exists = await ps.rkt(['export', pod.uuid, out])
    assert.equal(exists.exitCode, 254)
    assert.match(exists.stderr, /already exists/)
    assert.equal((await ps.rkt(['export', '--overwrite', pod.uuid, out])).exitCode, 0)
    assert.deepEqual(
      fs.readdirSync(path.join(ps.data, 'cas', 'tmp')).filter((f) => f.startsWith('export-')),
      [],
      'no export work directory is left',
    )
    assert.deepEqual(mountsUnder(path.join(ps.data, 'cas')), [])
  })
})

describe('after a reboot (FI-22): a pod whose mounts are all gone', () => {
  test('status and list still show the exit status; export and rm work; nothing stays mounted', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuid = await runPod(ps, [img.name, ...sh('echo made > /made; exit 5')], 5)
    const gone = await runPod(ps, [img.name, ...sh('true')])
    for (const u of [uuid, gone]) assert.deepEqual(unmountTree(ps.podPath(u)), [])

    const st = await ps.rkt(['status', uuid])
    assert.match(st.stdout, /^state=exited$/m)
    assert.match(st.stdout, /^app-pod-base=5$/m, "read from the overlay's upper directory, as rkt does")
    const json = JSON.parse((await ps.rkt(['status', '--format=json', uuid])).stdout) as {
      apps: {exit_code?: number; finished_at?: number}[]
    }
    assert.equal(json.apps[0]!.exit_code, 5)
    assert.ok(json.apps[0]!.finished_at)

    const out = path.join(ps.s.work, 'out.aci')
    const exp = await ps.rkt(['export', uuid, out])
    assert.equal(exp.exitCode, 0, exp.stderr)
    assert.equal(String((await execa('tar', ['xzOf', out, 'rootfs/made'])).stdout), 'made')

    assert.equal((await ps.rkt(['rm', uuid])).exitCode, 0)
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.equal(gc.stdout, `Garbage collecting pod "${gone}"`)
    assert.deepEqual(fs.readdirSync(path.join(ps.data, 'pods', 'exited-garbage')), [])
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})
