// kvm's gc entrypoint: undoes on the host what run and the pod left outside the pod directory's own files,
// idempotently and whatever the pod's end: kills a QEMU that outlived its kvm-exec (it dies with it, but
// SIGKILL leaves no guarantees to trust blindly), unmounts what run bound into the apps' rootfs and the volumes' shares (stage0
// then detaches its own overlays and deletes the pod, console log and agent socket with it), and tears
// down the pod's networks: CNI DEL, then the namespace, and the taps with it.
import {entrypoint, parseGcArgv, PodPaths, unmountEngineMounts, unmountTree, RktError} from '@rkt/core/stage1'
import {teardownPodNetworks} from '@rkt/net-plugins'

import {KvmPaths} from './paths.js'
import {killQemu} from './procs.js'

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const left = await killQemu(args.uuid)
  if (left.length > 0) process.stderr.write(`gc: warning: QEMU of pod ${args.uuid} would not die: ${left.join(' ')}\n`)
  unmountEngineMounts(paths)
  // The host volumes' shares: binds of their sources, never to be deleted through.
  const busy = unmountTree(new KvmPaths(paths).sharesDir)
  if (busy.length > 0) throw new RktError(`gc: cannot unmount ${busy.map((m) => m.mountPoint).join(', ')}`)
  // A failing DEL keeps net-state.json, so the next gc tries again.
  await teardownPodNetworks(paths)
  return 0
})
