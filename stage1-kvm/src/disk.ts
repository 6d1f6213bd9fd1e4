// The apps' root disks (stage1-kvm/README.md "Disks"): per image, a raw ext4 base disk made once in the engine
// cache stage0 gives the app (docs/stage1.md "Engine cache") from the app's rootfs as the pod sees it before
// any app ran (so what stage0 put there, /etc/mtab, is on it); per pod and app, a qcow2 overlay on it. The
// guest mounts the disk as the app's root: its own ext4, where sockets and FIFOs work and metadata is cached.
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {RktError, type PodApp} from '@rkt/core/stage1'
import {FileLock} from '@rkt/core/sys/lock'

import {createOverlay} from './qemu-img.js'
import type {DiskFormat, KvmPaths} from './paths.js'

/** Room for the app to write beyond its tree, and inodes beyond its entries: the disk is sparse. */
const ROOM_BYTES = 2 * 2 ** 30
const ROOM_INODES = 65536
const BASE_NAME = 'rootfs.ext4'

/** Bytes and entries of a tree (apparent sizes: ext4 rounds each file up to its 4 KiB blocks). */
function treeSize(root: string): {bytes: number; entries: number} {
  let bytes = 0
  let entries = 0
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
      const p = path.join(dir, e.name)
      const st = fs.lstatSync(p)
      entries++
      bytes += Math.ceil(st.size / 4096) * 4096 + 256
      if (e.isDirectory()) walk(p)
    }
  }
  walk(root)
  return {bytes, entries}
}

/**
 * A sparse raw ext4 holding the tree `from` (owners, modes, links, special files, xattrs), at the path `file`, or in
 * the file open on descriptor `file` (one the caller opened safely; left for it to remove on failure).
 */
export function makeExt4(from: string, file: string | number): void {
  const {bytes, entries} = treeSize(from)
  const size = Math.ceil((bytes * 1.1 + ROOM_BYTES) / 2 ** 20) * 2 ** 20
  if (typeof file === 'number') fs.ftruncateSync(file, size)
  else {
    fs.closeSync(fs.openSync(file, 'w', 0o600))
    fs.truncateSync(file, size)
  }
  // No reserved blocks (root is the app's only user); inode tables zeroed here (holes in the sparse file), so
  // the guest's kernel does not zero them in the background into every pod's overlay; a 16 MiB journal left
  // unwritten (the default for 2 GiB, 64 MiB, was most of a small image's base disk on the host).
  const args = [
    ...['-q', '-F', '-t', 'ext4', '-m', '0', '-N', String(entries + ROOM_INODES), '-J', 'size=16'],
    ...['-E', 'lazy_itable_init=0,lazy_journal_init=1'],
  ]
  // A descriptor reaches mkfs as its fd 3.
  const target = typeof file === 'number' ? '/proc/self/fd/3' : file
  const stdio =
    typeof file === 'number' ? (['ignore', 'pipe', 'pipe', file] as const) : (['ignore', 'pipe', 'pipe'] as const)
  const r = spawnSync('mkfs.ext4', [...args, '-d', from, target], {encoding: 'utf8', stdio: [...stdio]})
  if (r.status !== 0) {
    if (typeof file === 'string') fs.rmSync(file, {force: true})
    const said = (r.stderr || r.error?.message || `exit status ${r.status ?? r.signal}`).trim()
    const where = typeof file === 'string' ? path.dirname(file) : 'its file system'
    throw new RktError(`mkfs.ext4 -d ${from} failed: ${said}`, {
      code: 'EDISK',
      hint: `install e2fsprogs 1.43 or later (mkfs.ext4 -d) and check that ${where} has ${size} bytes free`,
    })
  }
}

/**
 * The image's base disk in `cacheDir`, made from `rootfs` unless there already: under a lock (pods of one
 * image start together), by a temporary name then a rename, never replacing one a running pod's overlay names.
 */
export function baseDisk(cacheDir: string, rootfs: string): string {
  fs.mkdirSync(cacheDir, {recursive: true, mode: 0o700})
  const base = path.join(cacheDir, BASE_NAME)
  if (fs.existsSync(base)) return base
  const lock = FileLock.onFile(path.join(cacheDir, '.lock'), {exclusive: true, wait: true})
  try {
    if (fs.existsSync(base)) return base
    // What a maker killed before its rename left: only the lock's holder makes one.
    for (const f of fs.readdirSync(cacheDir)) if (f.startsWith(`.${BASE_NAME}.`)) fs.rmSync(path.join(cacheDir, f))
    const tmp = path.join(cacheDir, `.${BASE_NAME}.${process.pid}`)
    makeExt4(rootfs, tmp)
    fs.chmodSync(tmp, 0o400)
    fs.renameSync(tmp, base)
  } finally {
    lock.release()
  }
  return base
}

export interface AppDisk {
  readonly file: string
  readonly format: DiskFormat
}

/**
 * App `app`'s disk for this pod: an overlay on its image's base disk, or with --no-overlay (the pod's own copy
 * of the tree) or without an engine cache a raw ext4 of its own. Call before anything changes the app's rootfs.
 */
export function makeAppDisk(kvm: KvmPaths, app: PodApp, noOverlay: boolean): AppDisk {
  fs.mkdirSync(kvm.disksDir, {recursive: true, mode: 0o700})
  if (noOverlay || app.engineCache === undefined) {
    const file = kvm.appDisk(app.name, 'raw')
    makeExt4(app.rootfs, file)
    return {file, format: 'raw'}
  }
  const file = kvm.appDisk(app.name, 'qcow2')
  createOverlay(baseDisk(path.join(app.engineCache, 'kvm'), app.rootfs), file)
  return {file, format: 'qcow2'}
}

/** The disk run made for app `app` of this pod (for export, after the pod exited), if any. */
export function findAppDisk(kvm: KvmPaths, app: string): AppDisk | undefined {
  for (const format of ['qcow2', 'raw'] as const) {
    const file = kvm.appDisk(app, format)
    if (fs.existsSync(file)) return {file, format}
  }
  return undefined
}
