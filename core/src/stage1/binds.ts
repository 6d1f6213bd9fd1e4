// What a run entrypoint mounted under the stage1 rootfs on the host (volumes, /etc files, fly's /dev, /proc,
// /sys and /tmp), undone by its gc entrypoint: every mount there but stage0's own overlays. It needs nothing
// but the pod directory's layout, so it also works for a pod an earlier gc half deleted.
import fs from 'node:fs'
import path from 'node:path'

import type {PodPaths} from '../contract/paths.js'

import {mountsUnder} from '../sys/mounts.js'
import {MNT_DETACH, umount2} from '../sys/native.js'

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

/** Detaches every mount under the stage1 rootfs but stage0's own. */
export function unmountEngineMounts(paths: PodPaths): void {
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
}
