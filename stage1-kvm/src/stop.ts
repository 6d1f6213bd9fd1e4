// kvm's stop entrypoint. SIGTERM goes to kvm-exec (the pod's `ppid`), which asks the guest's init to stop
// the supervisor: the apps get SIGTERM and a grace period, their statuses are recorded, and the guest
// reports and powers off. --force SIGKILLs QEMU: kvm-exec records 137 for every app and exits 137.
import {entrypoint, parseStopArgv, PodPaths, readPidFile, RktError} from '@rkt/core/stage1'

import {killQemu} from './procs.js'

export const main = entrypoint('stop', import.meta.url, async (argv) => {
  const args = parseStopArgv(argv)
  const paths = new PodPaths(process.cwd())
  if (args.force) {
    const left = await killQemu(args.uuid)
    if (left.length > 0) throw new RktError(`QEMU of pod ${args.uuid} would not die (PIDs ${left.join(' ')})`)
    return 0
  }
  const pid = readPidFile(paths.ppid)
  if (pid === undefined) throw new RktError(`pod ${args.uuid} has not started: it has no ppid file`)
  try {
    process.kill(pid, 'SIGTERM')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
  return 0
})
