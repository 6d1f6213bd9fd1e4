// Pod cleanup and mounts must never reach the host (docs/security.md SEC-11, SEC-13, SEC-19, SEC-05):
// rm and gc never follow a symlink out of the pod (in a host volume, or made by the app), an image cannot
// turn the stage1's /dev, /proc, /sys or /tmp mounts or a volume target into a host path, removing a pod in
// a namespace whose mounts are shared leaves the namespace's own /dev/pts and /dev/shm mounted, and
// `stop --force` never kills the process group of whoever started `rkt run`.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {requireTool, RKT} from '../util/harness.js'
import {alive, BASE, mountsUnder, PodSandbox, sh, waitFor} from '../util/pods.js'

/** Every file, directory and symlink under `dir` with what it holds (content hash, link target). */
function snapshot(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const r = rel ? `${rel}/${name}` : name
      const st = fs.lstatSync(p)
      if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(p)}`)
      else if (st.isDirectory()) {
        out.push(`${r}/`)
        walk(p, r)
      } else out.push(`${r} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`)
    }
  }
  walk(dir, '')
  return out
}

/** A host directory the pods must never touch: a file, a subdirectory with a file. */
function makeVictim(base: string): {dir: string; before: string[]} {
  const dir = path.join(base, 'victim')
  fs.mkdirSync(path.join(dir, 'sub'), {recursive: true})
  fs.writeFileSync(path.join(dir, 'precious'), 'host data\n')
  fs.writeFileSync(path.join(dir, 'sub', 'deeper'), 'more host data\n')
  return {dir, before: snapshot(dir)}
}

/** A relative link that climbs from anywhere in a pod to `/` and then down to `target` (an absolute path). */
const climbTo = (target: string): string => `${'../'.repeat(40)}${target.slice(1)}`

describe('cleanup never follows symlinks out of the pod', () => {
  test('a host volume holding symlinks to host data: rm and gc leave the links, their targets and the volume whole', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const victim = makeVictim(ps.s.work)
    const vol = path.join(ps.s.work, 'vol')
    fs.mkdirSync(vol)
    fs.writeFileSync(path.join(vol, 'data'), 'volume data\n')
    fs.symlinkSync(victim.dir, path.join(vol, 'to-dir'))
    fs.symlinkSync(path.join(victim.dir, 'precious'), path.join(vol, 'to-file'))
    fs.symlinkSync(climbTo(victim.dir), path.join(vol, 'climbing'))
    const volBefore = snapshot(vol)

    const run = async (): Promise<string> => {
      const file = path.join(ps.s.work, `uuid-${crypto.randomUUID()}`)
      const r = await ps.rkt([
        'run',
        `--uuid-file-save=${file}`,
        `--volume=v,kind=host,source=${vol}`,
        img.name,
        '--mount=volume=v,target=/v',
        ...sh('ls /v >/dev/null'),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      return fs.readFileSync(file, 'utf8').trim()
    }
    const first = await run()
    assert.equal((await ps.rkt(['rm', first])).exitCode, 0)
    await run()
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.match(gc.stdout, /Garbage collecting pod/)

    assert.deepEqual(snapshot(victim.dir), victim.before)
    assert.deepEqual(snapshot(vol), volBefore)
    assert.deepEqual(fs.readdirSync(path.join(ps.data, 'pods', 'run')), [])
    assert.deepEqual(mountsUnder(ps.data), [])
  })

  test('symlinks the app makes in its rootfs, /tmp and an empty volume, aimed at host paths: rm deletes only the links', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const victim = makeVictim(ps.s.work)
    const script = [
      `ln -s ${victim.dir} /abs-dir`,
      `ln -s ${victim.dir}/precious /abs-file`,
      `ln -s ${climbTo(victim.dir)} /etc/climbing`,
      `mkdir -p /deep/er && ln -s ${victim.dir} /deep/er/link`,
      `ln -s ${victim.dir} /scratch/in-volume`,
      `ln -s ${victim.dir} /tmp/in-tmp`,
      // A directory replaced by a link between the app's writes and the cleanup.
      `rm -rf /etc && ln -s ${victim.dir} /etc`,
    ].join(' && ')
    const file = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      `--uuid-file-save=${file}`,
      '--volume=scratch,kind=empty',
      img.name,
      '--mount=volume=scratch,target=/scratch',
      ...sh(script),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const uuid = fs.readFileSync(file, 'utf8').trim()
    assert.equal(fs.readlinkSync(ps.appPath(uuid, 'abs-dir')), victim.dir, 'the links are in the pod')

    const rm = await ps.rkt(['rm', uuid])
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.equal(ps.podDir(uuid), undefined)
    assert.deepEqual(snapshot(victim.dir), victim.before)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('an image cannot aim the stage1’s mounts at the host', () => {
  for (const dir of ['/tmp', '/dev', '/proc', '/sys'])
    for (const kind of ['absolute', 'relative'] as const) {
      test(`an image whose ${dir} is an ${kind} symlink to a host directory is refused; nothing is mounted there`, async (t) => {
        const ps = PodSandbox.create(t, {stage1: 'fly'})
        const victim = makeVictim(ps.s.work)
        const img = await ps.image({
          ...BASE,
          name: `example.com/pod-link${dir.replace('/', '-')}-${kind}`,
          symlinks: {[dir]: kind === 'absolute' ? victim.dir : climbTo(victim.dir)},
        })
        const r = await ps.rkt(['run', img.name, ...sh('echo ran')])
        assert.equal(r.exitCode, 254)
        assert.match(r.stderr, new RegExp(`${dir} is a symlink: it must be a plain directory`))
        assert.equal(r.stdout, '')
        assert.deepEqual(mountsUnder(victim.dir), [], 'no mount on the host directory')
        assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
        assert.deepEqual(snapshot(victim.dir), victim.before)
        assert.deepEqual(mountsUnder(ps.data), [])
      })
    }

  test('a volume target through an image symlink to a host path lands inside the app root (SEC-13)', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const victim = makeVictim(ps.s.work)
    const img = await ps.image({...BASE, name: 'example.com/pod-link-target', symlinks: {'/data': victim.dir}})
    const vol = path.join(ps.s.work, 'vol')
    fs.mkdirSync(vol)
    fs.writeFileSync(path.join(vol, 'from-volume'), 'volume\n')
    const file = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      `--uuid-file-save=${file}`,
      `--volume=v,kind=host,source=${vol}`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh('cat /data/from-volume'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'volume', 'the app sees the volume through its own link')
    const uuid = fs.readFileSync(file, 'utf8').trim()
    assert.deepEqual(mountsUnder(victim.dir), [], 'the host directory the link names was not mounted on')
    assert.deepEqual(mountsUnder(ps.appPath(uuid, victim.dir.slice(1))), [ps.appPath(uuid, victim.dir.slice(1))])
    assert.equal((await ps.rkt(['rm', uuid])).exitCode, 0)
    assert.deepEqual(snapshot(victim.dir), victim.before)
  })
})

describe('mount propagation', () => {
  test('in a mount namespace whose mounts are shared, rm and gc of pods leave /dev/pts and /dev/shm mounted', async (t) => {
    if (!(await requireTool(t, 'unshare'))) return
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const rkt = [RKT, ...ps.s.globals].map((a) => `'${a}'`).join(' ')
    const u1 = path.join(ps.s.work, 'u1')
    const u2 = path.join(ps.s.work, 'u2')
    const devs = `grep -E ' /dev/(pts|shm) ' /proc/self/mountinfo`
    const script = [
      'set -e',
      'mount --make-rshared /',
      `echo "before: $(${devs} | wc -l) $(${devs} | grep -c shared:)"`,
      `${rkt} run --uuid-file-save=${u1} ${img.name} --exec=/bin/sh -- -c 'ls /dev/pts /dev/shm >/dev/null'`,
      `${rkt} run --uuid-file-save=${u2} ${img.name} --exec=/bin/sh -- -c 'ls /dev/pts /dev/shm >/dev/null'`,
      // Mounts under pods/ (not the pods/ fence itself, which stays).
      `echo "pods mounted: $(grep -c '${ps.data}/pods/' /proc/self/mountinfo)"`,
      `${rkt} rm $(cat ${u1}) >/dev/null`,
      `${rkt} gc --grace-period=0s >/dev/null 2>&1`,
      `echo "after: $(${devs} | wc -l) $(${devs} | grep -c shared:)"`,
      `echo "pods mounted: $(grep -c '${ps.data}/pods/' /proc/self/mountinfo || true)"`,
      'ls /dev/pts >/dev/null && echo "/dev/pts readable"',
    ].join('\n')
    const r = await execa('unshare', ['-m', '--propagation', 'unchanged', 'sh', '-c', script], {
      reject: false,
      stdin: 'ignore',
    })
    assert.equal(r.exitCode, 0, String(r.stderr))
    const lines = String(r.stdout).split('\n')
    const [, total, shared] = /^before: (\d+) (\d+)$/.exec(lines[0]!)!
    assert.ok(Number(total) >= 2, 'the namespace has /dev/pts and /dev/shm')
    assert.equal(shared, total, 'and they are shared, so an unmount in a pod would propagate to them')
    assert.ok(Number(/^pods mounted: (\d+)$/.exec(lines[1]!)![1]) > 0)
    assert.equal(lines[2], `after: ${total} ${shared}`, 'every /dev/pts and /dev/shm mount survived')
    assert.equal(lines[3], 'pods mounted: 0')
    assert.equal(lines[4], '/dev/pts readable')
    assert.deepEqual(mountsUnder(ps.data), [], 'and nothing leaked into this namespace')
  })
})

describe('stop --force and the caller', () => {
  test('stop --force of a pod started by a script without job control kills the pod, not the script', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const rkt = [RKT, ...ps.s.globals].map((a) => `'${a}'`).join(' ')
    // The script leads its own process group, and rkt run stays in it (no job control).
    const script = `${rkt} run --uuid-file-save=${uuidFile} ${img.name} --exec=/bin/sh -- -c 'trap "" TERM; while :; do sleep 0.05; done' & wait $!; echo "script survived, rkt exited $?"`
    const caller = execa('sh', ['-c', script], {reject: false, stdin: 'ignore', detached: true})
    t.after(() => {
      try {
        process.kill(-caller.pid!, 'SIGKILL')
      } catch {
        // ended
      }
    })
    let uuid = ''
    assert.ok(
      await waitFor(() => {
        uuid = fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''
        const dir = uuid && ps.podDir(uuid)
        return Boolean(dir && fs.existsSync(path.join(dir, 'pgid')) && fs.existsSync(path.join(dir, 'pid')))
      }, 10_000),
      'the pod started',
    )
    assert.equal(
      Number(fs.readFileSync(path.join(ps.podPath(uuid), 'pgid'), 'utf8')),
      caller.pid,
      'the pod is in the script’s group',
    )
    const stop = await ps.rkt(['stop', '--force', uuid])
    assert.equal(stop.exitCode, 0, stop.stderr)
    const r = await caller
    assert.equal(r.signal, undefined, 'the script was not killed')
    assert.equal(String(r.stdout), 'script survived, rkt exited 137')
    assert.ok(!alive(caller.pid!))
  })
})

describe('descriptors', () => {
  test('an entered command holds no descriptor into the data directory, and its root is the app’s', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...sh('touch /tmp/ready; while :; do sleep 0.05; done')], {
      readyFile: '/tmp/ready',
    })
    const enter = execa(RKT, [...ps.s.globals, 'enter', pod.uuid, '/bin/sh', '-c', 'touch /tmp/entered; sleep 5'], {
      reject: false,
      stdin: 'ignore',
    })
    t.after(() => enter.kill('SIGKILL'))
    assert.ok(await waitFor(() => fs.existsSync(ps.appPath(pod.uuid, 'tmp/entered'))))
    const pid = enter.pid!
    assert.equal(fs.readlinkSync(`/proc/${pid}/root`), ps.appPath(pod.uuid, '').replace(/\/$/, ''))
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        return ''
      }
    })
    assert.deepEqual(
      fds.filter((l) => l.startsWith(ps.data) || l.startsWith('/work')),
      [],
      'no pod directory, lock or rkt file descriptor leaks into the entered command',
    )
    enter.kill('SIGKILL')
    await enter
  })
})
