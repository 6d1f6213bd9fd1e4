import assert from 'node:assert/strict'
import {test} from 'node:test'

import {leftovers, type HostState} from './host-state.js'

const empty: HostState = {mounts: [], cgroups: [], netns: [], iptables: [], processes: []}

test('leftovers: only what is new and names a pod or the data directory, but for the kept mounts', () => {
  const uuid = '0f8e5a3c-1111-2222-3333-444455556666'
  const before: HostState = {...empty, mounts: [`/ /srv/old-${uuid}`], processes: ['1 init (root /, cwd /)']}
  const after: HostState = {
    mounts: [
      `/ /srv/old-${uuid}`,
      '/ /tmp/s/data/pods',
      `/ /tmp/s/data/pods/run/${uuid}/stage1/rootfs`,
      '/ /mnt/other',
    ],
    cgroups: [`/sys/fs/cgroup/memory/rkt/${uuid}`, '/sys/fs/cgroup/memory/user.slice'],
    netns: ['cni-1234'],
    iptables: [
      `-A POSTROUTING -s 172.16.28.2/32 -m comment --comment "id: \\"${uuid}\\"" -j CNI-x`,
      '-A FORWARD -j ACCEPT',
    ],
    processes: ['1 init (root /, cwd /)', '77 sleep 1000 (root /tmp/s/data/pods/run/x/stage1/rootfs, cwd /)'],
  }
  const found = leftovers(before, after, [uuid, '/tmp/s/data'], (m) => m.endsWith(' /tmp/s/data/pods'))
  assert.deepEqual(found, [
    `mounts: / /tmp/s/data/pods/run/${uuid}/stage1/rootfs`,
    `cgroups: /sys/fs/cgroup/memory/rkt/${uuid}`,
    `iptables: -A POSTROUTING -s 172.16.28.2/32 -m comment --comment "id: \\"${uuid}\\"" -j CNI-x`,
    'processes: 77 sleep 1000 (root /tmp/s/data/pods/run/x/stage1/rootfs, cwd /)',
  ])
  assert.deepEqual(
    leftovers(after, after, [uuid], () => false),
    [],
  )
})
