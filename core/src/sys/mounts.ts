// Mount bookkeeping for pods: what is mounted under a directory, unmounting all of it, and deleting a tree
// without ever reaching through a mount or a symlink into the host (docs/security.md SEC-19: pod
// cleanup that rm -rf'd through a still-mounted volume deleted host data).
import fs from 'node:fs'
import path from 'node:path'

import {RktError} from '../errors.js'
import {errnoError, MNT_DETACH, mount, removeTreeAt, umount2} from './native.js'

/** One line of /proc/self/mountinfo (the fields pods need). */
export interface MountEntry {
  readonly id: number
  readonly parent: number
  /** The directory of the filesystem mounted here (not `/` for a bind mount, or a cgroup namespace's root). */
  readonly root: string
  readonly mountPoint: string
  readonly fsType: string
  readonly source: string
  readonly options: string
  /** The filesystem's own options: a cgroup v1 mount lists its controllers here (`rw,cpu,cpuacct`). */
  readonly superOptions: string
  /** Its propagation: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`; none when private. */
  readonly propagation: readonly string[]
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
const unescape = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))

/** The mounts of this process's mount namespace. */
export function readMountinfo(file = '/proc/self/mountinfo'): MountEntry[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const f = line.split(' ')
      const sep = f.indexOf('-')
      return {
        id: Number(f[0]),
        parent: Number(f[1]),
        root: unescape(f[3] ?? ''),
        mountPoint: unescape(f[4] ?? ''),
        options: f[5] ?? '',
        fsType: f[sep + 1] ?? '',
        source: unescape(f[sep + 2] ?? ''),
        superOptions: f[sep + 3] ?? '',
        propagation: f.slice(6, sep),
      }
    })
}

/** Mounts at or below `dir`, deepest (most recently stacked) first. */
export function mountsUnder(dir: string, entries: readonly MountEntry[] = readMountinfo()): MountEntry[] {
  const root = path.resolve(dir)
  return entries
    .filter((m) => m.mountPoint === root || m.mountPoint.startsWith(`${root}/`))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length || b.id - a.id)
}

/**
 * Unmounts everything at or below `dir`, deepest first, detaching lazily (a busy mount goes away once its
 * last user does, rkt#3805). Returns the mounts still there afterwards (normally none).
 */
export function unmountTree(dir: string): MountEntry[] {
  for (let round = 0; round < 8; round++) {
    const mounts = mountsUnder(dir)
    if (mounts.length === 0) return []
    for (const m of mounts) {
      try {
        umount2(m.mountPoint, MNT_DETACH)
      } catch {
        // EINVAL when a parent's detach took it already; re-read and retry
      }
    }
  }
  return mountsUnder(dir)
}

/** Escapes a path for overlayfs options (':' separates layers, ',' options, '\' escapes). */
export function escapeOverlayPath(p: string): string {
  return p.replace(/[\\:,]/g, (c) => `\\${c}`)
}

/** Mounts an overlayfs at `target` with one lower directory. */
export function mountOverlay(lower: string, upper: string, work: string, target: string): void {
  const data = `lowerdir=${escapeOverlayPath(lower)},upperdir=${escapeOverlayPath(upper)},workdir=${escapeOverlayPath(work)}`
  mount('overlay', target, 'overlay', 0, data)
}

/** A path for messages: a tree thousands of levels deep has paths far too long to read. */
function shortPath(p: string): string {
  return p.length <= 512 ? p : `${p.slice(0, 192)}/…/${p.slice(-256)}`
}

const REASONS: Readonly<Record<string, (where: string) => string>> = {
  EBUSY: (where) => `${where} is a mount point; nothing in it was touched`,
  ESTALE: (where) => `${where} was moved while it was being deleted; the deletion stopped there`,
  ENOTEMPTY: (where) => `${where} kept getting new entries while it was being deleted`,
}

/**
 * Deletes a tree of rkt's data (a pod, a rendered tree, a work directory) that must hold no mounts, safely
 * while another process changes it: the walk goes by directory descriptors (native removeTreeAt), so it
 * never follows a symlink, even one swapped in for a directory mid-walk, never enters another mount, and
 * has no path length limit. The parent of `dir` must be trusted (rkt's own directories). A mount found
 * under it stops the deletion (EBUSY) with that mount and everything beyond it untouched.
 */
export function removeTree(dir: string): void {
  const abs = path.resolve(dir)
  const still = mountsUnder(abs)
  if (still.length > 0) {
    throw new RktError(
      `refusing to delete ${dir}: ${still.length} mount(s) remain under it (e.g. ${still[0]!.mountPoint})`,
      {
        code: 'EBUSY',
        hint: 'nothing was deleted; unmount them first',
      },
    )
  }
  try {
    removeTreeAt(path.dirname(abs), path.basename(abs))
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const where = shortPath(e.path ? path.join(abs, e.path) : abs)
    const reason = REASONS[e.code ?? '']
    throw new RktError(`cannot delete ${dir}${reason ? `: ${reason(where)}` : ''}`, {
      code: e.code,
      cause: errnoError(e.errno ?? -1, e.syscall ?? 'removeTree', where),
    })
  }
}
