// kvm's gc entrypoint: undoes on the host what run and the pod left outside the pod directory's own files,
// idempotently and whatever the pod's end: kills what is left in the pod's cgroups (kvm-exec and QEMU, should
// they have outlived `rkt run`) and a QEMU found by its name (a pod on a host without cgroups), unmounts what
// run bound into the apps' rootfs (stage0 then detaches its own overlays and deletes the pod, console log
// and agent socket with it), tears down the pod's networks (CNI DEL, then the namespace, and the taps with
// it), and removes the cgroups. The host volumes' shares are unmounted before anything is deleted.
import {
  collectPodCgroups,
  entrypoint,
  parseGcArgv,
  PodPaths,
  releasePodCgroups,
  RktError,
  unmountEngineMounts,
  unmountTree,
} from '@rkt/core/stage1'
import {teardownPodNetworks} from '@rkt/net-plugins'

import {KvmPaths} from './paths.js'
import {killQemu} from './procs.js'

const warn = (m: string): void => {
  process.stderr.write(`gc: warning: ${m}\n`)
}

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const cgroups = await collectPodCgroups(paths, args.uuid, warn)
  const left = await killQemu(args.uuid)
  if (left.length > 0) warn(`QEMU of pod ${args.uuid} would not die: ${left.join(' ')}`)
  unmountEngineMounts(paths)
  // The host volumes' shares: binds of their sources, never to be deleted through.
  const busy = unmountTree(new KvmPaths(paths).sharesDir)
  if (busy.length > 0) throw new RktError(`gc: cannot unmount ${busy.map((m) => m.mountPoint).join(', ')}`)
  // A failing DEL keeps net-state.json, so the next gc tries again.
  await teardownPodNetworks(paths)
  await releasePodCgroups(cgroups)
  return 0
})
