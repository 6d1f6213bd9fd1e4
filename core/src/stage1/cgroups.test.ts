// The pod's cgroups: detection of v1, hybrid and v2 hosts from mountinfo, the layout, limits, the
// descriptors handed to the supervisor, and the record gc trusts. Fake trees stand in for cgroupfs (a real
// one makes each cgroup's files itself: `populate` does that here); the last test uses this machine's real
// cgroup v1 hierarchies, as root.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {isRoot, skipUnless} from '../testing.js'
import {
  appCgroups,
  applyLimits,
  appDir,
  type CgroupHost,
  createPodCgroups,
  detectCgroups,
  enterPodCgroups,
  hierarchyFor,
  killPod,
  openAppFds,
  podDir,
  readPodCgroups,
  recordPodCgroups,
  removePodCgroups,
  sharesToWeight,
  stage1Dir,
} from './cgroups.js'

const UUID = '2f1a1f5c-4a7e-4c89-9b5e-6f2b0f3d9a10'
const dirs: string[] = []
after(() => {
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
})

/** A fake host: a root with mountinfo, /proc/self/cgroup and the cgroup directories given. */
function fakeHost(
  mountinfo: string,
  selfCgroup: string,
  files: Record<string, string>,
): {root: string; host: CgroupHost} {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-cgroups-'))
  dirs.push(root)
  fs.writeFileSync(path.join(root, 'mountinfo'), mountinfo)
  fs.writeFileSync(path.join(root, 'cgroup'), selfCgroup)
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), {recursive: true})
    fs.writeFileSync(path.join(root, f), text)
  }
  const host = detectCgroups({
    root,
    mountinfo: path.join(root, 'mountinfo'),
    selfCgroup: path.join(root, 'cgroup'),
  })
  return {root, host}
}

/** What the kernel would create in a new cgroup of each hierarchy. */
function populate(host: CgroupHost, apps: string[]): void {
  for (const h of host.hierarchies) {
    const made = [
      path.dirname(podDir(h, UUID)),
      podDir(h, UUID),
      stage1Dir(h, UUID),
      ...apps.map((a) => appDir(h, UUID, a)),
    ]
    for (const d of made) {
      const files =
        h.version === 2
          ? [
              'cgroup.procs',
              'cgroup.controllers',
              'cgroup.subtree_control',
              'memory.max',
              'memory.events',
              'cpu.max',
              'cpu.weight',
            ]
          : [
              'cgroup.procs',
              ...(h.controllers.includes('memory') ? ['memory.limit_in_bytes', 'memory.oom_control'] : []),
              ...(h.controllers.includes('cpu') ? ['cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.shares'] : []),
            ]
      for (const f of files) if (!fs.existsSync(path.join(d, f))) fs.writeFileSync(path.join(d, f), '')
      if (h.version === 2) fs.writeFileSync(path.join(d, 'cgroup.controllers'), 'cpu memory pids')
    }
  }
}

const read = (root: string, f: string): string => fs.readFileSync(path.join(root, f), 'utf8')

/** This machine's shape: v1 controllers, name=systemd, and cgroup2 at /sys/fs/cgroup/unified (hybrid). */
const HYBRID_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
156 155 0:32 / /var/lib/rkt/pods/run/x/stage1/rootfs/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`
const HYBRID_SELF = `9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/46cb
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`

describe('cgroups on a v1 (hybrid) host', () => {
  const make = () =>
    fakeHost(HYBRID_MOUNTINFO, HYBRID_SELF, {
      'sys/fs/cgroup/memory/process_api/46cb/cgroup.procs': '',
      'sys/fs/cgroup/cpu/cgroup.procs': '',
      'sys/fs/cgroup/pids/cgroup.procs': '',
      'sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb',
      'sys/fs/cgroup/unified/cgroup.subtree_control': '',
    })

  test('hybrid: memory, cpu, pids; cgroup2 and name=systemd (where nspawn mirrors it) for tracking', () => {
    const {root, host} = make()
    assert.equal(host.mode, 'hybrid')
    assert.deepEqual(
      host.hierarchies.map((h) => [
        h.version,
        path.relative(root, h.mount),
        h.controllers.join(','),
        path.relative(root, h.own),
      ]),
      [
        [1, 'sys/fs/cgroup/cpu', 'cpu', 'sys/fs/cgroup/cpu'],
        [1, 'sys/fs/cgroup/memory', 'memory', 'sys/fs/cgroup/memory/process_api/46cb'],
        [1, 'sys/fs/cgroup/pids', 'pids', 'sys/fs/cgroup/pids'],
        [2, 'sys/fs/cgroup/unified', 'hugetlb', 'sys/fs/cgroup/unified'],
        [1, 'sys/fs/cgroup/systemd', 'name=systemd', 'sys/fs/cgroup/systemd'],
      ],
      'the later bind of the memory hierarchy into a pod is not a hierarchy of its own',
    )
    assert.equal(hierarchyFor(host, 'memory')?.version, 1)
    assert.equal(hierarchyFor(host, 'cpu')?.mount, path.join(root, 'sys/fs/cgroup/cpu'))
  })

  test('layout: rkt/<uuid> and one cgroup per app; on v1 the pod dir itself holds nspawn; rkt.stage1 on v2', () => {
    const {root, host} = make()
    createPodCgroups(host, UUID, ['web', 'db'])
    populate(host, ['web', 'db'])
    const mem = 'sys/fs/cgroup/memory/process_api/46cb/rkt'
    assert.deepEqual(
      fs.readdirSync(path.join(root, mem, UUID)).filter((f) => !f.includes('.')),
      ['db', 'web'],
    )
    assert.deepEqual(fs.readdirSync(path.join(root, 'sys/fs/cgroup/unified/rkt', UUID)).sort(), [
      'cgroup.controllers',
      'cgroup.procs',
      'cgroup.subtree_control',
      'cpu.max',
      'cpu.weight',
      'db',
      'memory.events',
      'memory.max',
      'rkt.stage1',
      'web',
    ])
    enterPodCgroups(host, UUID, 4242)
    assert.equal(read(root, `${mem}/${UUID}/cgroup.procs`), '4242')
    assert.equal(read(root, `sys/fs/cgroup/unified/rkt/${UUID}/rkt.stage1/cgroup.procs`), '4242')
    assert.equal(read(root, `sys/fs/cgroup/unified/cgroup.subtree_control`), '', 'cgroup2 offers no controller here')
  })

  test('v1 limits: memory.limit_in_bytes, cpu.cfs_quota_us over cfs_period_us, cpu.shares; pod and app', () => {
    const {root, host} = make()
    createPodCgroups(host, UUID, ['web'])
    populate(host, ['web'])
    const warnings: string[] = []
    applyLimits(host, UUID, 'web', {memory: 26214400n, cpuMilli: 800n, cpuShares: 512}, (m) => warnings.push(m))
    applyLimits(host, UUID, undefined, {memory: 1n << 30n}, (m) => warnings.push(m))
    const app = appDir(hierarchyFor(host, 'memory')!, UUID, 'web')
    assert.equal(fs.readFileSync(path.join(app, 'memory.limit_in_bytes'), 'utf8'), '26214400')
    const cpu = appDir(hierarchyFor(host, 'cpu')!, UUID, 'web')
    assert.equal(fs.readFileSync(path.join(cpu, 'cpu.cfs_period_us'), 'utf8'), '100000')
    assert.equal(fs.readFileSync(path.join(cpu, 'cpu.cfs_quota_us'), 'utf8'), '80000')
    assert.equal(fs.readFileSync(path.join(cpu, 'cpu.shares'), 'utf8'), '512')
    assert.equal(read(root, `sys/fs/cgroup/memory/process_api/46cb/rkt/${UUID}/memory.limit_in_bytes`), '1073741824')
    assert.deepEqual(warnings, [])
  })

  test('the supervisor’s descriptors: cgroup.procs of each hierarchy, memory.oom_control for OOM kills', () => {
    const {host} = make()
    createPodCgroups(host, UUID, ['web'])
    populate(host, ['web'])
    const fds = openAppFds(host, UUID, 'web')
    try {
      assert.deepEqual(
        fds.procs.map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`)),
        host.hierarchies.map((h) => path.join(appDir(h, UUID, 'web'), 'cgroup.procs')),
      )
      assert.equal(
        fs.readlinkSync(`/proc/self/fd/${fds.oom!}`),
        path.join(appDir(hierarchyFor(host, 'memory')!, UUID, 'web'), 'memory.oom_control'),
      )
    } finally {
      for (const fd of [...fds.procs, fds.oom!]) fs.closeSync(fd)
    }
  })

  test('a limit without its controller is not dropped silently', () => {
    const {host} = fakeHost('35 31 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n', '8:pids:/\n', {
      'sys/fs/cgroup/pids/cgroup.procs': '',
    })
    assert.equal(host.mode, 'v1')
    createPodCgroups(host, UUID, ['web'])
    const warnings: string[] = []
    applyLimits(host, UUID, 'web', {memory: 1n, cpuShares: 2}, (m) => warnings.push(m))
    assert.deepEqual(warnings, [
      'resource/memory ignored: no memory cgroup controller for the pod on this host',
      'os/linux/cpu-shares ignored: no cpu cgroup controller for the pod on this host',
    ])
  })

  test('the record: what run made, and only pod cgroups of this host are read back', () => {
    const {root, host} = make()
    const file = path.join(root, 'cgroups')
    recordPodCgroups(file, host, UUID)
    const warnings: string[] = []
    const warn = (m: string): number => warnings.push(m)
    assert.deepEqual(
      readPodCgroups(file, host, UUID, warn),
      host.hierarchies.map((h) => podDir(h, UUID)),
    )
    assert.deepEqual(warnings, [])
    fs.writeFileSync(
      file,
      [
        path.join(root, 'sys/fs/cgroup/pids/rkt', UUID), // fine
        '/etc', // not a cgroup
        path.join(root, 'sys/fs/cgroup/pids/rkt/other-uuid'), // another pod's
        `${root}/sys/fs/cgroup/pids/rkt/../rkt/${UUID}`, // not normalized
        path.join(root, `sys/fs/cgroup/pids/x/${UUID}`), // not under rkt/
        `relative/rkt/${UUID}`,
      ].join('\n'),
    )
    assert.deepEqual(readPodCgroups(file, host, UUID, warn), [path.join(root, 'sys/fs/cgroup/pids/rkt', UUID)])
    assert.equal(warnings.length, 5, 'each line ignored is named')
    assert.deepEqual(readPodCgroups(path.join(root, 'absent'), host, UUID, warn), [])
  })
})

describe('cgroups on a v2 host (fake tree only: not verified end to end here)', () => {
  const V2_MOUNTINFO =
    '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n'
  const make = () =>
    fakeHost(V2_MOUNTINFO, '0::/system.slice/rkt.service\n', {
      'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma',
      'sys/fs/cgroup/cgroup.subtree_control': '',
      'sys/fs/cgroup/system.slice/cgroup.controllers': 'cpu memory pids',
      'sys/fs/cgroup/system.slice/rkt.service/cgroup.controllers': 'cpu memory pids',
      'sys/fs/cgroup/system.slice/rkt.service/cgroup.subtree_control': '',
      'sys/fs/cgroup/system.slice/rkt.service/cgroup.procs': '',
    })
  const svc = 'sys/fs/cgroup/system.slice/rkt.service'

  test('detected as v2: one hierarchy, this process’s cgroup, the root’s controllers', () => {
    const {root, host} = make()
    assert.equal(host.mode, 'v2')
    assert.equal(host.hierarchies.length, 1)
    assert.equal(host.hierarchies[0]!.own, path.join(root, svc))
    assert.equal(hierarchyFor(host, 'memory')?.version, 2)
  })

  test('the apps’ cgroups are every child of the pod but the stage1’s', () => {
    const {host} = make()
    createPodCgroups(host, UUID, ['web', 'db'])
    const h = host.hierarchies[0]!
    assert.deepEqual(appCgroups([podDir(h, UUID), '/nonexistent']).sort(), [
      appDir(h, UUID, 'db'),
      appDir(h, UUID, 'web'),
    ])
  })

  test('nspawn goes in the rkt.stage1 leaf; then memory, cpu and pids are enabled down to the apps', () => {
    const {root, host} = make()
    createPodCgroups(host, UUID, ['web'])
    populate(host, ['web'])
    enterPodCgroups(host, UUID, 4242)
    assert.equal(read(root, `${svc}/rkt/${UUID}/rkt.stage1/cgroup.procs`), '4242')
    assert.equal(read(root, `${svc}/rkt/${UUID}/cgroup.procs`), '', 'no process in an inner node')
    for (const d of [svc, `${svc}/rkt`, `${svc}/rkt/${UUID}`]) {
      assert.equal(read(root, `${d}/cgroup.subtree_control`), '+memory+cpu+pids', d)
    }
  })

  test('v2 limits: memory.max, cpu.max "quota period", cpu.weight from shares', () => {
    const {root, host} = make()
    createPodCgroups(host, UUID, ['web'])
    populate(host, ['web'])
    applyLimits(host, UUID, 'web', {memory: 26214400n, cpuMilli: 1500n, cpuShares: 1024}, () => assert.fail())
    const app = `${svc}/rkt/${UUID}/web`
    assert.equal(read(root, `${app}/memory.max`), '26214400')
    assert.equal(read(root, `${app}/cpu.max`), '150000 100000')
    assert.equal(read(root, `${app}/cpu.weight`), String(sharesToWeight(1024)))
    assert.equal(sharesToWeight(2), 1)
    assert.equal(sharesToWeight(262144), 10000)
    assert.equal(sharesToWeight(1024), 39)
  })

  test('the OOM descriptor reads memory.events', () => {
    const {host} = make()
    createPodCgroups(host, UUID, ['web'])
    populate(host, ['web'])
    const fds = openAppFds(host, UUID, 'web')
    try {
      assert.equal(fds.procs.length, 1)
      assert.match(fs.readlinkSync(`/proc/self/fd/${fds.oom!}`), /\/rkt\/[^/]+\/web\/memory\.events$/)
    } finally {
      for (const fd of [...fds.procs, fds.oom!]) fs.closeSync(fd)
    }
  })
})

describe('cgroups on this machine (root, cgroup v1 memory hierarchy)', () => {
  const real = detectCgroups()
  const skip = skipUnless(isRoot && hierarchyFor(real, 'memory')?.version === 1, 'needs root and cgroup v1 memory')

  test(
    'a process in an app cgroup is killed and the pod’s cgroups removed, as gc does after a SIGKILLed pod',
    {skip},
    async () => {
      const uuid = crypto.randomUUID()
      createPodCgroups(real, uuid, ['app'])
      const pods = real.hierarchies.map((h) => podDir(h, uuid))
      try {
        applyLimits(real, uuid, 'app', {memory: 64n << 20n}, () => assert.fail())
        const mem = appDir(hierarchyFor(real, 'memory')!, uuid, 'app')
        assert.equal(fs.readFileSync(path.join(mem, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 << 20))
        // A "pod process": a shell that moves itself into the app's cgroups, then forks a sleeper.
        const writes = real.hierarchies.map((h) => `echo $$ > ${path.join(appDir(h, uuid, 'app'), 'cgroup.procs')}`)
        const sh = spawn('/bin/sh', ['-c', `${writes.join('; ')}; sleep 60 & wait`], {stdio: 'ignore'})
        const exited = new Promise((r) => sh.once('exit', r))
        for (let i = 0; i < 200; i++) {
          const procs = fs.readFileSync(path.join(mem, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)
          if (procs.length === 2) break
          await new Promise((r) => setTimeout(r, 10))
        }
        assert.equal(fs.readFileSync(path.join(mem, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length, 2)
        assert.deepEqual(await killPod(pods), [])
        await exited
        assert.deepEqual(await removePodCgroups(pods), [])
        for (const p of pods) assert.ok(!fs.existsSync(p), `${p} removed`)
      } finally {
        await killPod(pods)
        await removePodCgroups(pods)
      }
    },
  )
})
