// nspawn's stop entrypoint. SIGTERM goes to the supervisor, which fans it out to the apps and SIGKILLs what
// is left after its grace period. --force SIGKILLs the apps themselves, through their cgroups (a process an
// app forked included): the supervisor records them killed (137) and ends the pod with that code, as rkt's
// fly --force ended with the app's; a supervisor that does not end promptly is SIGKILLed too, and its death
// takes every process of the pod's PID namespace with it. stage0 then waits for the pod lock, which nspawn
// releases as it exits.
import {
  appCgroups,
  entrypoint,
  killPod,
  parseStopArgv,
  PodPaths,
  podPid,
  readPidFile,
  recordedPodCgroups,
  RktError,
} from '@rkt/core/stage1'

import {isAlive} from './procs.js'

/** How long the supervisor has to end the pod after --force killed its apps. */
const FORCE_GRACE_MS = 2000

const warn = (m: string): void => {
  process.stderr.write(`stop: warning: ${m}\n`)
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

export const main = entrypoint('stop', import.meta.url, async (argv) => {
  const args = parseStopArgv(argv)
  const paths = new PodPaths(process.cwd())
  const supervisor = podPid(paths)
  if (!args.force) {
    // No supervisor yet (nspawn is still setting the container up): nspawn passes SIGTERM on to it.
    const target = supervisor ?? readPidFile(paths.ppid)
    if (target === undefined) throw new RktError(`pod ${args.uuid} has not started: it has no ppid file`)
    signal(target, 'SIGTERM')
    return 0
  }
  const cgroups = recordedPodCgroups(paths, args.uuid, warn)
  if (supervisor === undefined) {
    await killPod(cgroups) // nspawn has no container yet: everything, nspawn included
    return 0
  }
  await killPod(appCgroups(cgroups))
  const deadline = Date.now() + FORCE_GRACE_MS
  while (isAlive(supervisor) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  if (isAlive(supervisor)) signal(supervisor, 'SIGKILL')
  return 0
})
