// bwrap's gc entrypoint: kills whatever is left in the pod's cgroups (bwrap and this run process too, should
// the run have been killed), unmounts the volumes and /etc files run bound into the apps' roots, and removes
// the cgroups. The sandboxes' own mounts died with their mount namespaces; stage0 does the rest.
import {
  collectPodCgroups,
  entrypoint,
  parseGcArgv,
  PodPaths,
  releasePodCgroups,
  unmountEngineMounts,
} from '@rkt/core/stage1'

export const main = entrypoint('gc', import.meta.url, async (argv) => {
  const args = parseGcArgv(argv)
  const paths = new PodPaths(process.cwd())
  const warn = (m: string): void => void process.stderr.write(`gc: warning: ${m}\n`)
  const cgroups = await collectPodCgroups(paths, args.uuid, warn)
  unmountEngineMounts(paths)
  await releasePodCgroups(cgroups)
  return 0
})
