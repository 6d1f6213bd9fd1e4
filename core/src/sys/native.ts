// Typed access to rktsys.node, the project's N-API addon for the kernel interfaces Node 20 lacks
// (core/native/rktsys.c; the choice is explained in docs/native-helpers.md).
import {constants as osConstants} from 'node:os'
import path from 'node:path'
import {getSystemErrorMap} from 'node:util'

import {RktError} from '../errors.js'
import {getDistDir} from './dist.js'

interface RktSys {
  flock(fd: number, op: number): number
  setCloexec(fd: number, on: boolean): number
  execve(file: string, argv: string[], env: string[], fds: number[]): number
  listXattrs(file: string): string[] | number
  getXattr(file: string, name: string): Buffer | number
  setXattr(file: string, name: string, value: Buffer): number
  mknod(file: string, mode: number, major: number, minor: number): number
  syncfs(fd: number): number
  mountId(file: string): number
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number
  umount2(target: string, flags: number): number
  idmapBind(source: string, target: string, first: number, count: number): number
  removeTree(parent: string, name: string): number | {errno: number; syscall: string; path: string}
  unixRequest(dir: string, name: string, request: string, fds: number[]): string | number
}

/** flock(2) operations. */
export const LOCK_SH = 1
export const LOCK_EX = 2
export const LOCK_NB = 4
export const LOCK_UN = 8

let addon: RktSys | undefined

function sys(): RktSys {
  if (addon) return addon
  const file = path.join(getDistDir(), 'native', 'rktsys.node')
  const mod = {exports: {}} as {exports: unknown}
  try {
    process.dlopen(mod, file)
  } catch (err) {
    throw new RktError(`cannot load the native helper ${file}`, {
      cause: err,
      code: 'ENATIVE',
      hint: 'build the project first: npm run build',
    })
  }
  addon = mod.exports as RktSys
  return addon
}

// Linux has aliases (EWOULDBLOCK = EAGAIN, EOPNOTSUPP = ENOTSUP); the first name wins, as in Node's own errors.
const errnoNames = new Map<number, string>()
for (const [name, no] of Object.entries(osConstants.errno)) if (!errnoNames.has(no)) errnoNames.set(no, name)

/**
 * A Node-style system error (err.code = 'EAGAIN', err.errno = -11) for a negative errno result, worded as
 * Node's own: `EPERM: operation not permitted, unlinkat 'a/b'`.
 */
export function errnoError(result: number, syscall: string, file?: string): NodeJS.ErrnoException {
  const code = errnoNames.get(-result) ?? `E${-result}`
  const text = getSystemErrorMap().get(result)?.[1] ?? 'failed'
  const err: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall}${file === undefined ? '' : ` '${file}'`}`)
  err.code = code
  err.errno = result
  err.syscall = syscall
  if (file !== undefined) err.path = file
  return err
}

function check(result: number, syscall: string, file?: string): void {
  if (result < 0) throw errnoError(result, syscall, file)
}

/** flock(2); throws EWOULDBLOCK (as EAGAIN) when LOCK_NB is given and the lock is held elsewhere. */
export function flock(fd: number, op: number): void {
  check(sys().flock(fd, op), 'flock')
}

/** Sets or clears FD_CLOEXEC, deciding whether fd survives an execve. */
export function setCloexec(fd: number, on: boolean): void {
  check(sys().setCloexec(fd, on), 'fcntl')
}

/**
 * Replaces this process with `file` (same PID), after resetting the signal state and stdio flags Node
 * leaves behind. `fds[i]` becomes descriptor 3+i of the new program (the numbering of socket activation's
 * LISTEN_FDS); whatever was at those numbers in this process is put back if the exec fails. Returns only
 * by throwing.
 */
export function execve(
  file: string,
  argv: string[],
  env: Record<string, string | undefined>,
  fds: readonly number[] = [],
): never {
  const envList = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]))
  const result = sys().execve(file, argv, envList, [...fds])
  throw errnoError(result, 'execve', file)
}

/** Extended attribute names of a file, not following symlinks (empty where the fs has none). */
export function listXattrs(file: string): string[] {
  const r = sys().listXattrs(file)
  if (typeof r === 'number') throw errnoError(r, 'llistxattr', file)
  return r
}

/** One extended attribute's value, not following symlinks. */
export function getXattr(file: string, name: string): Buffer {
  const r = sys().getXattr(file, name)
  if (typeof r === 'number') throw errnoError(r, 'lgetxattr', file)
  return r
}

/** Sets an extended attribute, not following symlinks. */
export function setXattr(file: string, name: string, value: Buffer): void {
  check(sys().setXattr(file, name, value), 'lsetxattr', file)
}

/** mknod(2): `mode` carries the file type bits (S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
export function mknod(file: string, mode: number, major: number, minor: number): void {
  check(sys().mknod(file, mode, major, minor), 'mknod', file)
}

/** syncfs(2): flushes the whole filesystem holding fd. */
export function syncfs(fd: number): void {
  check(sys().syncfs(fd), 'syncfs')
}

/**
 * The ID of the mount holding `file` (not following a symlink there): two paths on one mount have the same.
 * Cheaper than /proc/self/mountinfo, whose size grows with every mount on the host.
 */
export function mountId(file: string): number {
  const r = sys().mountId(file)
  check(r, 'statx', file)
  return r
}

/**
 * One request on the stream socket `dir/name` (connected through a descriptor of dir, so no path length limit),
 * with `fds` passed along (SCM_RIGHTS); blocks until the peer answers and closes, and returns the answer.
 */
export function unixRequest(dir: string, name: string, request: string, fds: readonly number[] = []): string {
  const r = sys().unixRequest(dir, name, request, [...fds])
  if (typeof r === 'number') throw errnoError(r, 'connect', `${dir}/${name}`)
  return r
}

/** mount(2) flags (linux/mount.h). */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const

/** umount2(2) flags. */
export const MNT_DETACH = 2
export const UMOUNT_NOFOLLOW = 8

/** mount(2): bind mounts, remounts, overlayfs, tmpfs, proc… (null for "none"). */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(sys().mount(source, target, fstype, flags, data), 'mount', target)
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  check(sys().umount2(target, flags), 'umount2', target)
}

/**
 * A recursive bind mount of `source` on `target` through which ids 0..count-1 on disk are seen (and written)
 * as host ids first..first+count-1, uids and gids alike (an idmapped mount, mount_setattr(2)).
 */
export function idmapBind(source: string, target: string, first: number, count: number): void {
  check(sys().idmapBind(source, target, first, count), 'mount_setattr', target)
}

/**
 * Deletes `parent/name` and everything under it through directory descriptors (core/native/rktsys.c
 * removeTree): never follows a symlink, never enters another mount (EBUSY), no path length limit. A missing
 * tree is not an error. The error's `path` is the failing entry relative to `parent/name` ('' for the top).
 */
export function removeTreeAt(parent: string, name: string): void {
  const r = sys().removeTree(parent, name)
  if (typeof r === 'number') check(r, 'removeTree', name)
  else throw errnoError(r.errno, r.syscall, r.path)
}
