// SIGINT and SIGTERM end a command the way an error does: what it registered here is cleaned up (staging
// files, temporary output directories), then the process exits 128+N, the status a shell reports for a
// signal. Without this, Node dies on the signal at once and leaves its temporary files behind
// (docs/security.md FI-23). SIGKILL cannot be caught: what it leaves is swept later.
import os from 'node:os'

const cleanups = new Set<() => void>()
let installed = false

function install(): void {
  installed = true
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const fn of cleanups) {
        try {
          fn()
        } catch {
          // best effort: the next command sweeps what is left
        }
      }
      process.exit(128 + os.constants.signals[sig])
    })
  }
}

/** Registers a cleanup to run if the process is interrupted; call the returned function when done. */
export function onInterrupt(fn: () => void): () => void {
  if (!installed) install()
  cleanups.add(fn)
  return () => cleanups.delete(fn)
}

/** True when a process with this PID exists (ours or not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
