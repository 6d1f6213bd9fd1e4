// A host volume never copies another pod's mounts. Volumes are bound recursively; a pod whose volume covers
// the data directory (here its parent, as /var/lib or / would) once copied every other pod's mounts into
// the host's mount table (overlays, volumes, network namespaces: 342 for one pod), and those copies outlived
// the pods and kept their namespaces busy (`EBUSY … netns` at their gc). The pods directory is now an
// unbindable mount, which the kernel leaves out of any recursive bind. Checked on each engine for the pod
// with the volume, beside two nspawn pods on the default network (each with its netns mount).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import {describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {BASE, NSPAWN, PodSandbox, sh, statusPairs} from '../util/pods.js'

const ENGINES = ['nspawn', 'fly', 'kvm'] as const

/** Mount lines (of the host, or of a process's namespace) that name one of `uuids` below `under`. */
function copiesOf(uuids: readonly string[], under: string, mountinfo = '/proc/self/mountinfo'): string[] {
  return readMountinfo(mountinfo)
    .filter((m) => m.mountPoint.startsWith(`${under}/`) || under === '/')
    .filter((m) => uuids.some((u) => m.mountPoint.includes(u) || m.root.includes(u)) || m.fsType === 'nsfs')
    .map((m) => `${m.mountPoint} (${m.fsType})`)
}

/**
 * The host's mounts but for the tmpfs the first nspawn pod on a host without a tmpfs /run puts under nspawn's
 * propagate directory, which stays for every pod to come (stage1-nspawn/README.md "Process chain").
 */
const hostMounts = (): number => readMountinfo().filter((m) => m.mountPoint !== '/run/systemd/nspawn/propagate').length

describe('a volume over the data directory copies no other pod’s mounts', () => {
  for (const engine of ENGINES) {
    test(`${engine}: the host's and the pod's mount tables hold no copy; the others' gc works; the count comes back`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image(BASE)
      // The first pod of a data directory makes its pods directory a mount: the baseline comes after that.
      const warm = await ps.rkt(['prepare', '--quiet', NSPAWN, 'example.com/pod-base:1.0'])
      assert.equal(warm.exitCode, 0, warm.stderr)
      assert.equal((await ps.rkt(['rm', warm.stdout.trim()])).exitCode, 0)
      const baseline = hostMounts()

      const sleeper = ['run', NSPAWN, 'example.com/pod-base:1.0', ...sh('sleep 600')]
      const others = [await ps.start(sleeper, {detached: true}), await ps.start(sleeper, {detached: true})]
      const otherUuids = others.map((o) => o.uuid)
      for (const u of otherUuids) assert.ok(fs.existsSync(`${ps.podPath(u)}/netns`), 'the other pods have networks')

      const net = engine === 'fly' ? [] : ['--net=none']
      const pod = await ps.start(
        [
          'run',
          ...net,
          `--volume=data,kind=host,source=${ps.s.dir}`,
          'example.com/pod-base:1.0',
          '--mount=volume=data,target=/host',
          ...sh('touch /ready; sleep 600'),
        ],
        {detached: true, readyFile: 'ready'},
      )
      const podDir = ps.podPath(pod.uuid)
      // Asked inside the app: kvm's app root is a disk in the VM, not on the host.
      const there = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', `test -d /host/data/pods/run/${otherUuids[0]}`])
      assert.equal(there.exitCode, 0, `the volume is there: ${there.stderr}`)
      assert.deepEqual(copiesOf(otherUuids, podDir), [], "copies of the other pods' mounts on the host")
      if (engine === 'nspawn') {
        // The container's own mount namespace (its supervisor's) and the app's hold none either.
        const status = statusPairs((await ps.rkt(['status', pod.uuid])).stdout)
        const supervisor = Number(status.find(([k]) => k === 'pid')?.[1])
        assert.deepEqual(copiesOf(otherUuids, '/', `/proc/${supervisor}/mountinfo`), [])
      }

      // The other pods go first, while the volume pod still runs: nothing of theirs is busy.
      for (const o of others) assert.equal((await ps.rkt(['stop', o.uuid])).exitCode, 0)
      const gc1 = await ps.rkt(['gc', '--grace-period=0s'])
      assert.equal(gc1.exitCode, 0, gc1.stderr)
      for (const u of otherUuids) assert.equal(ps.podDir(u), undefined, `pod ${u} was collected`)

      assert.equal((await ps.rkt(['stop', pod.uuid])).exitCode, 0)
      const gc2 = await ps.rkt(['gc', '--grace-period=0s'])
      assert.equal(gc2.exitCode, 0, gc2.stderr)
      assert.equal(hostMounts(), baseline, 'the host has as many mounts as before the pods')
    })
  }
})
