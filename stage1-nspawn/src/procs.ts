// The pod's processes as the host sees them: which host process is an app, given the PID the supervisor
// recorded for it inside the pod's PID namespace (/rkt/pids/<app>). The /proc root is injectable for tests.
import fs from 'node:fs'
import path from 'node:path'

/** The children of a process (all its threads'), or none once it is gone. */
function childrenOf(proc: string, pid: number): number[] {
  let tasks: string[]
  try {
    tasks = fs.readdirSync(path.join(proc, String(pid), 'task'))
  } catch {
    return []
  }
  return tasks.flatMap((t) => {
    try {
      return fs
        .readFileSync(path.join(proc, String(pid), 'task', t, 'children'), 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number)
    } catch {
      return []
    }
  })
}

/** A process's PID in the innermost PID namespace it belongs to (the last field of NSpid), and whether it is a zombie. */
function innermost(proc: string, pid: number): {nsPid: number; zombie: boolean} | undefined {
  try {
    const status = fs.readFileSync(path.join(proc, String(pid), 'status'), 'utf8')
    const nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).at(-1)
    const zombie = /^State:\s*Z/m.test(status)
    return nspid === undefined ? undefined : {nsPid: Number(nspid), zombie}
  } catch {
    return undefined
  }
}

/** True while a process exists and is not a zombie. */
export function isAlive(pid: number, proc = '/proc'): boolean {
  const p = innermost(proc, pid)
  return p !== undefined && !p.zombie
}

/**
 * The host PID of the descendant of `supervisor` whose PID in the pod's namespace is `nsPid`, searched
 * breadth-first (an app is the supervisor's child, but nothing is assumed about depth). Zombies do not count.
 */
export function findHostPid(supervisor: number, nsPid: number, proc = '/proc'): number | undefined {
  const queue = childrenOf(proc, supervisor)
  const seen = new Set<number>([supervisor])
  while (queue.length > 0) {
    const pid = queue.shift()!
    if (seen.has(pid)) continue
    seen.add(pid)
    const p = innermost(proc, pid)
    if (p !== undefined && p.nsPid === nsPid && !p.zombie) return pid
    queue.push(...childrenOf(proc, pid))
  }
  return undefined
}
