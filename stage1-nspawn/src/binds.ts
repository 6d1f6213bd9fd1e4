// What a run entrypoint bound into the apps' rootfs on the host (volumes, /etc files), undone at gc. The
// kvm stage1 shares it: its guest sees those binds through the 9p root.
import fs from 'node:fs'
import path from 'node:path'

import {MNT_DETACH, mountsUnder, umount2, type PodPaths} from '@rkt/core/stage1'

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
