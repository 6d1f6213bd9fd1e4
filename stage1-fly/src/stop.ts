// fly's stop entrypoint: SIGTERM to the app (fly-exec forwards it anyway), or with --force SIGKILL to the
// app and, when fly-exec leads its own process group, to that whole group (anything else the app started
// in it), as rkt's fly did. A group fly-exec does not lead belongs to whoever started `rkt run` (a script
// without job control, a test runner): killing it would kill them, so then only the app is killed.
import fs from 'node:fs'

import {entrypoint, parseStopArgv, PodPaths, readPidFile, RktError} from '@rkt/core/stage1'

/** The parent PID of a process, from /proc (undefined once it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

export const main = entrypoint('stop', import.meta.url, (argv) => {
  const args = parseStopArgv(argv)
  const paths = new PodPaths(process.cwd())
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
