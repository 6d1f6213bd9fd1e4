// fly's stop entrypoint: SIGTERM to every process in the app's cgroups (the app and whatever it started;
// fly-exec, outside them, then kills what is left once the app exits), or with --force SIGKILL to all of
// them. A pod run without cgroups (a host with none) falls back to the app alone, and with --force to the
// process group fly-exec leads, as rkt's fly did: a group fly-exec does not lead belongs to whoever started
// `rkt run` (a script without job control, a test runner), and killing it would kill them.
import fs from 'node:fs'

import {entrypoint, parseStopArgv, PodPaths, readPidFile, RktError, stopPodApps} from '@rkt/core/stage1'

/** The parent PID of a process, from /proc (undefined once it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

export const main = entrypoint('stop', import.meta.url, async (argv, warn) => {
  const args = parseStopArgv(argv)
  const paths = new PodPaths(process.cwd())
  if (await stopPodApps(paths, args.uuid, args.force, warn)) return 0
  const pid = readPidFile(paths.pid)
  if (pid === undefined) throw new RktError(`pod ${args.uuid} has no pid file: it has not started, or has exited`)
  const signal = args.force ? 'SIGKILL' : 'SIGTERM'
  const kill = (target: number): void => {
    try {
      process.kill(target, signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
  const pgid = readPidFile(paths.pgid)
  // fly-exec is the app's parent; it leads the group when its PID is the group's ID.
  const leadsGroup = pgid !== undefined && pgid > 1 && parentOf(pid) === pgid
  kill(pid)
  if (args.force && leadsGroup) kill(-pgid)
  return 0
})
