// bwrap's gc entrypoint: kills whatever is left in the pod's cgroups (bwrap and this run process too, should
// the run have been killed), unmounts the volumes and /etc files run bound into the apps' roots, and removes
// the cgroups (the SDK's gcPod). The sandboxes' own mounts died with their mount namespaces; stage0 does the rest.
import {entrypoint, gcPod, parseGcArgv, PodPaths} from '@rkt/core/stage1'

export const main = entrypoint('gc', import.meta.url, async (argv, warn) => {
  await gcPod(new PodPaths(process.cwd()), parseGcArgv(argv).uuid, warn)
  return 0
})
