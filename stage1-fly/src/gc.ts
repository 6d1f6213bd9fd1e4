// fly's gc entrypoint: kills whatever is still in the pod's cgroups (fly-exec kills the app's leftovers as
// the app exits, but a SIGKILLed fly-exec could not), unmounts what run mounted inside the app's rootfs
// (/dev, /proc, /sys, /tmp, volumes, DNS files) and removes the cgroups (the SDK's gcPod). stage0 then unmounts
// its own overlays and deletes the pod; fly has no networks to tear down.
import {entrypoint, gcPod, parseGcArgv, PodPaths} from '@rkt/core/stage1'

export const main = entrypoint('gc', import.meta.url, async (argv, warn) => {
  await gcPod(new PodPaths(process.cwd()), parseGcArgv(argv).uuid, warn)
  return 0
})
