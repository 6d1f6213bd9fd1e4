// bwrap's stop entrypoint: SIGTERM (--force: SIGKILL) to every process in the apps' cgroups, which hold the
// apps and what they started but not bwrap: run sees each app end and records its status.
import {
  appCgroups,
  entrypoint,
  killPod,
  parseStopArgv,
  PodPaths,
  recordedPodCgroups,
  signalCgroups,
} from '@rkt/core/stage1'

export const main = entrypoint('stop', import.meta.url, async (argv) => {
  const args = parseStopArgv(argv)
  const warn = (m: string): void => void process.stderr.write(`stop: warning: ${m}\n`)
  const apps = appCgroups(recordedPodCgroups(new PodPaths(process.cwd()), args.uuid, warn))
  if (args.force) await killPod(apps)
  else signalCgroups(apps, 'SIGTERM')
  return 0
})
