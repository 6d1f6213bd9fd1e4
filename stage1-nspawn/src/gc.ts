// nspawn's gc entrypoint: undoes on the host what run and the pod left outside the pod directory's own
// files, idempotently and whatever the pod's end (a pod whose nspawn was SIGKILLed leaves its supervisor and
// apps running): kills what is left in the pod's cgroups, unmounts what run bound into the apps' rootfs
// (stage0 then detaches its own overlays and deletes the pod), removes the cgroups, and the directory a
// killed nspawn leaves in /run/systemd/nspawn/propagate; and tears the pod's networks down (CNI DEL, netns).
import fs from 'node:fs'

import {
  collectPodCgroups,
  entrypoint,
  parseGcArgv,
  PodPaths,
  releasePodCgroups,
  unmountEngineMounts,
  unmountTree,
} from '@rkt/core/stage1'
import {teardownPodNetworks} from '@rkt/net-plugins'

import {propagateDir} from './nspawn.js'

const warn = (m: string): void => {
  process.stderr.write(`gc: warning: ${m}\n`)
}

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const cgroups = await collectPodCgroups(paths, args.uuid, warn)

  unmountEngineMounts(paths)

  // After the kill: no process of the pod holds the namespace any more. A failing DEL is said, and the rest
  // of gc still runs; net-state.json stays, so the next gc tries again.
  let netError: Error | undefined
  try {
    await teardownPodNetworks(paths)
  } catch (err) {
    netError = err instanceof Error ? err : new Error(String(err))
  }

  let cgroupError: Error | undefined
  await releasePodCgroups(cgroups).catch((err: unknown) => {
    cgroupError = err instanceof Error ? err : new Error(String(err))
  })
  // With the roots app/add bound there for a mutable pod's apps (mutable.ts): removed only once nothing is mounted.
  const left = unmountTree(propagateDir(args.uuid))
  if (left.length > 0) warn(`cannot remove ${propagateDir(args.uuid)}: ${left[0]!.mountPoint} is still mounted`)
  else fs.rmSync(propagateDir(args.uuid), {recursive: true, force: true})
  if (netError !== undefined) throw netError
  if (cgroupError !== undefined) throw cgroupError
  return 0
})
