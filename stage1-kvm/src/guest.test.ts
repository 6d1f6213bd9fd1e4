import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {addedAppScript, guestAppCgroup, guestFds, limitFiles, startScript} from './guest.js'

describe('the guest start script', () => {
  test('cgroup v2 knobs of the limits', () => {
    assert.deepEqual(limitFiles({memory: 134217728n, cpuMilli: 500n, cpuShares: 1024}), [
      ['memory.max', '134217728'],
      ['cpu.max', '50000 100000'],
      ['cpu.weight', '39'],
    ])
  })
  test('per app: a cgroup with its limits, its fds where supervisor.conf says, then the supervisor', () => {
    const text = startScript({
      net: ['ip link set lo up'],
      mounts: [],
      pod: {},
      apps: [
        {name: 'a', limits: {memory: 134217728n}},
        {name: 'b', limits: {}},
      ],
      supervisorConf: '/rkt/supervisor.conf',
    })
    const lines = text.trimEnd().split('\n')
    assert.ok(lines.includes("echo '134217728' > /sys/fs/cgroup/pod/'a'/memory.max"))
    assert.deepEqual(guestFds(1), {cgroupFd: 5, oomFd: 6})
    assert.equal(
      lines.at(-2),
      "exec 3<>/sys/fs/cgroup/pod/'a'/cgroup.procs 4</sys/fs/cgroup/pod/'a'/memory.events 5<>/sys/fs/cgroup/pod/'b'/cgroup.procs 6</sys/fs/cgroup/pod/'b'/memory.events",
    )
    assert.equal(lines.at(-1), "exec /supervisor '/rkt/supervisor.conf'")
    assert.ok(lines.indexOf('set -e') < lines.indexOf('ip link set lo up'))
  })
  test("an added app's set-up: its cgroup under the pod's, with its limits, before its mounts", () => {
    const lines = addedAppScript({name: 'c', limits: {memory: 2n ** 27n}}, ['mount --bind /x /y'])
      .trimEnd()
      .split('\n')
    assert.deepEqual(lines.slice(1), [
      "mkdir -p /sys/fs/cgroup/pod/'c'",
      "echo '134217728' > /sys/fs/cgroup/pod/'c'/memory.max",
      'mount --bind /x /y',
    ])
    assert.equal(guestAppCgroup('c'), '/sys/fs/cgroup/pod/c')
  })
})
