// nspawn's gc entrypoint: undoes on the host what run and the pod left outside the pod directory's own
// files, idempotently and whatever the pod's end (a pod whose nspawn was SIGKILLed leaves its supervisor and
// apps running): kills what is left in the pod's cgroups, unmounts what run bound into the apps' rootfs
// (stage0 then detaches its own overlays and deletes the pod), removes the cgroups, and the directory a
// killed nspawn leaves in /run/systemd/nspawn/propagate; and tears the pod's networks down (CNI DEL, netns).
import fs from 'node:fs'
import path from 'node:path'

import {
  entrypoint,
  MNT_DETACH,
  mountsUnder,
  parseGcArgv,
  PodPaths,
  teardownPodNetworks,
  umount2,
} from '@rkt/core/stage1'

import {detectCgroups, killPod, readPodCgroups, removePodCgroups} from './cgroups.js'
import {propagateDir} from './nspawn.js'

const warn = (m: string): void => {
  process.stderr.write(`gc: warning: ${m}\n`)
}

/** stage0's overlays (the stage1 rootfs, each app's rootfs): gc runs from the first and leaves both to stage0. */
function stage0Mounts(paths: PodPaths): Set<string> {
  let apps: string[] = []
  try {
    apps = fs.readdirSync(paths.stage2)
  } catch {
    // no apps laid out
  }
  return new Set([path.resolve(paths.stage1Rootfs), ...apps.map((a) => path.resolve(paths.appRootfs(a)))])
}

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const cgroups = readPodCgroups(paths.cgroups, detectCgroups(), args.uuid, warn)
  const survivors = await killPod(cgroups)
  if (survivors.length > 0) warn(`processes of pod ${args.uuid} would not die: ${survivors.join(' ')}`)

  const keep = stage0Mounts(paths)
  for (const m of mountsUnder(paths.stage1Rootfs)) {
    if (keep.has(m.mountPoint)) continue
    try {
      umount2(m.mountPoint, MNT_DETACH)
    } catch (err) {
      // already gone with a parent's detach
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EINVAL' && code !== 'ENOENT') throw err
    }
  }

  // After the kill: no process of the pod holds the namespace any more. A failing DEL is said, and the rest
  // of gc still runs; net-state.json stays, so the next gc tries again.
  let netError: Error | undefined
  try {
    await teardownPodNetworks(paths)
  } catch (err) {
    netError = err instanceof Error ? err : new Error(String(err))
  }

  const left = await removePodCgroups(cgroups)
  if (left.length > 0) warn(`cannot remove the cgroups ${left.join(', ')}`)
  try {
    fs.rmdirSync(propagateDir(args.uuid))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      warn(`cannot remove ${propagateDir(args.uuid)}: ${String(err)}`)
  }
  if (netError !== undefined) throw netError
  return 0
})
