// fly's gc entrypoint: unmounts what run mounted inside the app's rootfs (/dev, /proc, /sys, /tmp, volumes,
// DNS files). stage0 then unmounts its own overlays and deletes the pod; fly has no networks to tear down.
import path from 'node:path'

import {entrypoint, loadPod, MNT_DETACH, mountsUnder, parseGcArgv, umount2} from '@rkt/core/stage1'

export const main = entrypoint('gc', import.meta.url, (argv) => {
  const args = parseGcArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  for (const app of pod.apps) {
    const rootfs = path.resolve(app.rootfs)
    for (const m of mountsUnder(rootfs)) {
      if (m.mountPoint === rootfs) continue // stage0's overlay
      try {
        umount2(m.mountPoint, MNT_DETACH)
      } catch (err) {
        // already gone with a parent's detach
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'ENOENT')
          throw err
      }
    }
  }
  return 0
})
