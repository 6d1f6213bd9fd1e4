// fly's gc entrypoint: kills whatever is still in the pod's cgroups (fly-exec kills the app's leftovers as
// the app exits, but a SIGKILLed fly-exec could not), unmounts what run mounted inside the app's rootfs
// (/dev, /proc, /sys, /tmp, volumes, DNS files) and removes the cgroups. stage0 then unmounts its own overlays
// and deletes the pod; fly has no networks to tear down.
import {
  collectPodCgroups,
  entrypoint,
  parseGcArgv,
  PodPaths,
  releasePodCgroups,
  unmountEngineMounts,
} from '@rkt/core/stage1'

const warn = (m: string): void => {
  process.stderr.write(`gc: warning: ${m}\n`)
}

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const cgroups = await collectPodCgroups(paths, args.uuid, warn)
  unmountEngineMounts(paths)
  await releasePodCgroups(cgroups)
  return 0
})
