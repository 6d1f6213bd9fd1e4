// The pod's QEMU process, found by its name (`-name rkt-<uuid>`) in /proc rather than through a PID file:
// stop --force and gc must find it even when kvm-exec died before anything could record it, and a
// recycled PID must never be mistaken for it.
import fs from 'node:fs'
import path from 'node:path'

/** PIDs of QEMU processes (argv[0] qemu-system-*) whose argv holds `-name rkt-<uuid>` (not kvm-exec's). */
export function findQemu(uuid: string, proc = '/proc'): number[] {
  const needle = `\0-name\0rkt-${uuid}\0`
  const found: number[] = []
  for (const entry of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue
    let cmdline: string
    try {
      cmdline = fs.readFileSync(`${proc}/${entry}/cmdline`, 'latin1')
    } catch {
      continue // gone meanwhile
    }
    const program = cmdline.slice(0, cmdline.indexOf('\0'))
    if (path.basename(program).startsWith('qemu-system-') && `\0${cmdline}`.includes(needle)) found.push(Number(entry))
  }
  return found
}

/** SIGKILLs the pod's QEMU and waits (up to waitMs) until it is gone; returns those still there. */
export async function killQemu(uuid: string, waitMs = 3000, proc = '/proc'): Promise<number[]> {
  for (const pid of findQemu(uuid, proc)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + waitMs
  let left = findQemu(uuid, proc)
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
    left = findQemu(uuid, proc)
  }
  return left
}
