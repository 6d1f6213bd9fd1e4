// A wall clock stepped after a pod started (NTP's first sync, an operator's `date -s`) must not make rkt
// lose the pod's process: `rkt status` once showed no pid and `rkt enter` said the app had not started,
// because the pod's process was recognised by comparing a file's mtime with a start time computed from
// the boot time, which moves with the wall clock. The clock is really stepped here (forward a minute, then
// back), on the engines whose pod process is found through `ppid`.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {describe, test} from 'node:test'

import {BASE, PodSandbox, sh, statusPairs} from '../util/pods.js'

const ENGINES = ['nspawn', 'kvm'] as const

/** Steps the wall clock by `seconds` (CLOCK_REALTIME; the monotonic and boot clocks do not move). */
const stepClock = (seconds: number): void => {
  execFileSync('date', ['-s', `${seconds >= 0 ? '+' : ''}${seconds} seconds`], {stdio: 'ignore'})
}

describe('a stepped wall clock', () => {
  for (const engine of ENGINES) {
    test(`${engine}: status and enter still find the pod's process after the clock jumps a minute ahead`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image(BASE)
      const pod = await ps.start(['run', '--net=none', 'example.com/pod-base:1.0', ...sh('sleep 600')], {
        detached: true,
      })
      stepClock(60)
      try {
        const status = await ps.rkt(['status', pod.uuid])
        assert.equal(status.exitCode, 0, status.stderr)
        const pid = statusPairs(status.stdout).find(([k]) => k === 'pid')?.[1]
        assert.match(pid ?? '', /^[1-9]\d*$/, `rkt status shows the pod's pid: ${status.stdout}`)
        const enter = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'echo inside'])
        assert.equal(enter.exitCode, 0, enter.stderr)
        assert.match(enter.stdout, /inside/)
      } finally {
        stepClock(-60)
      }
    })
  }
})
