// `--private-users` (stage1-nspawn/README.md "Private users"): the pod's root is an unprivileged range of host
// uids and gids, chosen by `rkt prepare` and kept in the pod. Read from inside real nspawn pods: the app's
// uid_map and gid_map, what it can do to host files (create in a writable volume, owned by the shifted uid;
// not read a root-only file), two pods at once on disjoint ranges, `rkt enter` in the same user namespace,
// cgroup limits and seccomp still applied, and nothing left after gc. The engines that cannot do it refuse.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ROOT} from '../util/harness.js'
import {BASE, NSPAWN, PodSandbox, podTraces, sh} from '../util/pods.js'

/** Sleeps until SIGTERM, in a way a trap interrupts at once. */
const IDLE = 'while :; do sleep 1 & wait $!; done'

/** A uid_map or gid_map line: inside, outside, count. */
interface IdMap {
  readonly inside: number
  readonly outside: number
  readonly count: number
}

function idMap(text: string): IdMap[] {
  return text
    .trim()
    .split('\n')
    .map((l) => {
      const [inside, outside, count] = l.trim().split(/\s+/).map(Number)
      return {inside: inside!, outside: outside!, count: count!}
    })
}

/** Asserts the map is one range putting the pod's root on an unprivileged host range, and returns it. */
function shiftedRange(text: string, what: string): IdMap {
  const maps = idMap(text)
  assert.equal(maps.length, 1, `${what}: one range (${text})`)
  const m = maps[0]!
  assert.equal(m.inside, 0, `${what} starts at the pod's root`)
  assert.ok(m.outside >= 65536, `${what}: the pod's root is host ${m.outside}, not a host system id (${text})`)
  assert.ok(m.count >= 65536, `${what}: at least 65536 ids (${text})`)
  return m
}

/** The flags of a private-users nspawn pod. */
const PRIVATE = ['--private-users', NSPAWN]

/** Writes the app's uid_map and gid_map to /maps (whole, so that its existence means it is complete). */
const SAVE_MAPS = 'cat /proc/self/uid_map /proc/self/gid_map > /maps.tmp && mv /maps.tmp /maps'

describe('nspawn: --private-users', () => {
  test('the app’s uid_map and gid_map put its root on a host range of ≥ 65536 ids, not host root', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // Also: a server binds port 80 in the pod's (CNI) network, though the host owns that namespace.
    const listen = 'httpd -f -p 80 -h / & p=$!; sleep 0.3; kill $p && echo LISTENED'
    const script = `cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map; echo ---; id -u; ${listen}`
    const r = await ps.rkt(['run', ...PRIVATE, img.name, ...sh(script)])
    assert.equal(r.exitCode, 0, r.stderr)
    const [uid = '', gid = '', rest = ''] = r.stdout.split('---\n')
    const u = shiftedRange(uid, 'uid_map')
    assert.deepEqual(shiftedRange(gid, 'gid_map'), u, 'gids are shifted alike')
    assert.deepEqual(
      rest.trim().split('\n'),
      ['0', 'LISTENED'],
      'the app is root inside the pod, and serves on port 80',
    )
  })

  test('rkt prepare --private-users chooses the range and records it; run-prepared runs the pod on it; so does --no-overlay', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const made = sh('cat /proc/self/uid_map; touch /made && ls -ln /made /etc/marker')
    const p = await ps.rkt(['prepare', '--quiet', ...PRIVATE, img.name, ...made])
    assert.equal(p.exitCode, 0, p.stderr)
    const uuid = p.stdout.trim()
    const recorded = fs.readFileSync(path.join(ps.podPath(uuid), 'private-users-prepared'), 'utf8').trim()
    assert.match(recorded, /^\d+:\d+$/, 'the pod records first:count')
    const r = await ps.rkt(['run-prepared', uuid])
    assert.equal(r.exitCode, 0, r.stderr)
    const m = shiftedRange(r.stdout.split('\n')[0]!, 'uid_map')
    assert.equal(`${m.outside}:${m.count}`, recorded, 'the range chosen at prepare time')
    assert.match(r.stdout, /^-rw-r--r-- +1 0 +0 .*\/made$/m, 'the app owns what it makes in its root')
    assert.equal(fs.statSync(ps.appPath(uuid, '/made')).uid, m.outside, 'owned on the host by the shifted root')

    assert.match(r.stdout, /^-rw-r--r-- +1 0 +0 .*\/etc\/marker$/m, 'the image is the pod root’s')

    const copy = await ps.rkt(['run', '--no-overlay', ...PRIVATE, img.name, ...made])
    assert.equal(copy.exitCode, 0, copy.stderr)
    shiftedRange(copy.stdout.split('\n')[0]!, 'uid_map with --no-overlay')
    assert.match(copy.stdout, /^-rw-r--r-- +1 0 +0 .*\/made$/m, 'the pod’s root writes its copied root')
    assert.match(copy.stdout, /^-rw-r--r-- +1 0 +0 .*\/etc\/marker$/m, 'the copied image is the pod root’s')
  })

  test('host volumes: a file the pod’s root makes is owned by the shifted uid; a root-only host file stays unreadable', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const vol = path.join(ps.s.work, 'vol')
    fs.mkdirSync(vol)
    fs.chmodSync(vol, 0o777)
    const secret = path.join(ps.s.work, 'secret')
    fs.writeFileSync(secret, 'host root only\n', {mode: 0o600})
    const volumes = [
      `--volume=vol,kind=host,source=${vol}`,
      `--volume=secret,kind=host,source=${secret},readOnly=true`,
      '--mount=volume=vol,target=/vol',
      '--mount=volume=secret,target=/secret',
    ]
    const script = 'cat /proc/self/uid_map; mkdir /vol/d; echo hi > /vol/d/f; cat /secret && echo READ-SECRET; true'
    const r = await ps.rkt(['run', ...PRIVATE, ...volumes, img.name, ...sh(script)])
    assert.equal(r.exitCode, 0, r.stderr)
    const m = shiftedRange(r.stdout.split('\n')[0]!, 'uid_map')
    for (const f of ['d', 'd/f']) {
      const st = fs.statSync(path.join(vol, f))
      assert.deepEqual([st.uid, st.gid], [m.outside, m.outside], `${f} is owned on the host by the pod's root range`)
    }
    assert.doesNotMatch(r.stdout, /READ-SECRET/)
    assert.match(r.stderr, /\/secret'?: Permission denied/, 'the pod’s root is no root to host files')
    // Without --private-users the same pod reads it: the refusal above is the user namespace's doing.
    const plain = await ps.rkt(['run', NSPAWN, ...volumes, img.name, ...sh('cat /secret')])
    assert.equal(plain.exitCode, 0, plain.stderr)
    assert.equal(plain.stdout.trim(), 'host root only')
  })

  test('two pods at once get disjoint ranges; rkt enter sees the app’s uid_map; limits and seccomp apply; gc leaves nothing', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const probe = [
      SAVE_MAPS,
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /limit',
      'grep Seccomp: /proc/self/status > /seccomp',
      'mkdir /tmp/x 2> /mkdir; touch /ready',
      IDLE,
    ].join('; ')
    const start = () =>
      ps.start(
        [
          'run',
          ...PRIVATE,
          img.name,
          '--memory=48Mi',
          '--seccomp=mode=remove,errno=EACCES,mkdir,mkdirat',
          ...sh(probe),
        ],
        {readyFile: '/ready'},
      )
    const [a, b] = [await start(), await start()]
    const maps = (uuid: string) => fs.readFileSync(ps.appPath(uuid, '/maps'), 'utf8')
    const ra = shiftedRange(maps(a.uuid).split('\n')[0]!, 'pod a')
    const rb = shiftedRange(maps(b.uuid).split('\n')[0]!, 'pod b')
    assert.ok(
      ra.outside + ra.count <= rb.outside || rb.outside + rb.count <= ra.outside,
      `disjoint ranges: ${ra.outside}+${ra.count} and ${rb.outside}+${rb.count}`,
    )

    const read = (f: string): string => fs.readFileSync(ps.appPath(a.uuid, f), 'utf8').trim()
    assert.equal(read('/limit'), String(48 * 1024 * 1024), 'the memory limit is the app’s')
    assert.match(read('/seccomp'), /^Seccomp:\s+2$/)
    assert.match(read('/mkdir'), /Permission denied/, 'the app’s seccomp filter (EACCES), though it is root in the pod')

    const e = await ps.rkt(['enter', a.uuid, '/bin/sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u'])
    assert.equal(e.exitCode, 0, e.stderr)
    assert.equal(
      e.stdout.trim(),
      `${maps(a.uuid)}0`.trim(),
      'the entered command is in the app’s user namespace, as root',
    )
    const m = await ps.rkt(['enter', a.uuid, '/bin/sh', '-c', 'mkdir /tmp/y 2>&1; grep Seccomp: /proc/self/status'])
    assert.match(m.stdout, /Permission denied/, 'and under its seccomp filter')

    const dirs = [a, b].map((p) => ps.podPath(p.uuid))
    for (const p of [a, b]) assert.equal((await ps.rkt(['stop', p.uuid])).exitCode, 0)
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    for (const [i, p] of [a, b].entries()) {
      assert.equal(ps.podDir(p.uuid), undefined, 'the pod directory is gone')
      assert.deepEqual(podTraces(p.uuid, dirs[i]!), {mounts: [], cgroups: [], processes: []})
    }
  })
})

describe('--private-users on the other engines', () => {
  for (const engine of ['fly', 'kvm'] as const) {
    test(`${engine} refuses it: exit 254, naming the flag and the nspawn stage1; gc leaves nothing`, async (t) => {
      const ps = PodSandbox.create(t)
      const img = await ps.image(BASE)
      const aci = path.join(ROOT, 'core', 'dist', 'stage1-images', `stage1-${engine}.aci`)
      const uuidFile = path.join(ps.s.work, 'uuid')
      const r = await ps.rkt([
        'run',
        `--uuid-file-save=${uuidFile}`,
        '--private-users',
        `--stage1-path=${aci}`,
        img.name,
        ...sh('echo RAN'),
      ])
      assert.equal(r.exitCode, 254, r.stderr)
      assert.doesNotMatch(r.stdout, /RAN/)
      assert.match(r.stderr, new RegExp(`--private-users is not supported by the ${engine} stage1`))
      assert.match(r.stderr, /stage1-nspawn/, 'the fix: the nspawn stage1')
      const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
      const dir = ps.podPath(uuid)
      assert.deepEqual(podTraces(uuid, dir).processes, [], 'no process is left')
      const gc = await ps.rkt(['gc', '--grace-period=0s'])
      assert.equal(gc.exitCode, 0, gc.stderr)
      assert.deepEqual(podTraces(uuid, dir), {mounts: [], cgroups: [], processes: []})
    })
  }
})
