// fly's gc entrypoint: kills whatever is still in the pod's cgroups (fly-exec kills the app's leftovers as
// the app exits, but a SIGKILLed fly-exec could not), unmounts what run mounted inside the app's rootfs
// (/dev, /proc, /sys, /tmp, volumes, DNS files) and removes the cgroups. stage0 then unmounts its own overlays
// and deletes the pod; fly has no networks to tear down.
import {
  detectCgroups,
  entrypoint,
  killPod,
  parseGcArgv,
  PodPaths,
  readPodCgroups,
  removePodCgroups,
  RktError,
  unmountEngineMounts,
} from '@rkt/core/stage1'

const warn = (m: string): void => {
  process.stderr.write(`gc: warning: ${m}\n`)
}

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const cgroups = readPodCgroups(paths.cgroups, detectCgroups(), args.uuid, warn)
  const survivors = await killPod(cgroups, 10_000) // SIGKILLed processes die; a loaded machine may take its time
  if (survivors.length > 0) warn(`processes of pod ${args.uuid} would not die: ${survivors.join(' ')}`)
  unmountEngineMounts(paths)
  // Cgroups that are still there fail gc, so that stage0 keeps the pod (and its record of them) for the next.
  const left = await removePodCgroups(cgroups)
  if (left.length > 0) {
    throw new RktError(`cannot remove the cgroups ${left.join(', ')}`, {
      code: 'EBUSY',
      hint: `processes of the pod are still in them (${survivors.join(' ') || 'exiting'}); the next rkt gc tries again`,
    })
  }
  return 0
})
