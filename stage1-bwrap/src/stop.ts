// bwrap's stop entrypoint: SIGTERM (--force: SIGKILL) to every process in the apps' cgroups, which hold the
// apps and what they started but not bwrap: run sees each app end and records its status.
import {entrypoint, parseStopArgv, PodPaths, stopPodApps} from '@rkt/core/stage1'

export const main = entrypoint('stop', import.meta.url, async (argv, warn) => {
  const args = parseStopArgv(argv)
  await stopPodApps(new PodPaths(process.cwd()), args.uuid, args.force, warn)
  return 0
})
