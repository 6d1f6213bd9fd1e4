// Performing an app's mounts on the host, inside its root: the bind mounts every engine that prepares an app's
// root from the host makes the same way (fly for its chroot, nspawn before the container starts). Targets are
// resolved inside the app's root (checkMountTarget), never on the host.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import type {IdRange} from './id-range.js'
import type {AppMount} from './mounts.js'

import {mount, mountId, MS} from '../sys/native.js'
import {readMountinfo} from '../sys/mounts.js'
import {checkMountTarget} from './mounts.js'

/**
 * Creates a mount target inside the app's root (resolved there, never on the host): a directory, or an empty
 * file for a file bind. Missing parents are made 0755, as appc spec/ace.md asks. Returns its host path.
 */
export function prepareMountTarget(rootfs: string, target: string, dir: boolean, what: string): string {
  const host = path.join(rootfs, checkMountTarget(rootfs, target, what))
  if (!fs.existsSync(host)) {
    fs.mkdirSync(path.dirname(host), {recursive: true, mode: 0o755})
    if (dir) fs.mkdirSync(host, {mode: 0o755})
    else fs.closeSync(fs.openSync(host, 'a', 0o644))
  }
  return host
}

/**
 * Puts a file the runtime generates for an app (its /etc/hosts, resolv.conf, hostname) at `target` inside
 * the app's root, resolved there, without ever writing outside that root: returns its host path, creating it
 * with `content` when missing (without following a symlink at its name); undefined when it is missing and the
 * image's symlinks lead it onto another mount (a volume: the host's own files), where nothing is written. An
 * existing file is left as it is.
 */
export function placeGeneratedFile(rootfs: string, target: string, content = ''): string | undefined {
  const host = path.join(rootfs, checkMountTarget(rootfs, target, target))
  if (fs.existsSync(host)) return host
  // Its nearest existing directory on another mount than the root: a volume (or a mount of the engine's).
  let dir = path.dirname(host)
  while (!fs.existsSync(dir)) dir = path.dirname(dir)
  if (mountId(dir) !== mountId(rootfs)) return undefined
  fs.mkdirSync(path.dirname(host), {recursive: true, mode: 0o755})
  const {O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY} = fs.constants
  const fd = fs.openSync(host, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, 0o644)
  try {
    fs.writeSync(fd, content)
  } finally {
    fs.closeSync(fd)
  }
  return host
}

/**
 * Binds a file the runtime generated read-only at `target` inside the app's root (placed by
 * placeGeneratedFile): never a copy, so nothing goes through the image's symlinks into a volume, and a file
 * already there (the host's, in a volume) is covered, not changed. False when the app goes without it (its
 * target would be a new file in a volume), for the caller to say so.
 */
export function bindGeneratedFile(rootfs: string, source: string, target: string): boolean {
  const host = placeGeneratedFile(rootfs, target)
  if (host === undefined) return false
  bindMount(source, host, false)
  remountReadOnly(host, false)
  return true
}

/**
 * Binds source at target, then makes the new mounts slaves: on a host whose mounts are shared (systemd's
 * default) mounts made on the host still reach the app, but nothing the pod unmounts, at exit or in gc, can
 * propagate back and unmount the host's own (its /dev/pts, say).
 */
export function bindMount(source: string, target: string, recursive: boolean): void {
  mount(source, target, null, MS.BIND | (recursive ? MS.REC : 0))
  mount(null, target, null, MS.SLAVE | (recursive ? MS.REC : 0))
}

/** Remounts a bind mount read-only, and with `recursive` every mount below it too. */
export function remountReadOnly(target: string, recursive: boolean): void {
  const under = readMountinfo()
    .map((e) => e.mountPoint)
    .filter((p) => p === target || (recursive && p.startsWith(`${target}/`)))
  for (const p of under) mount(null, p, null, MS.BIND | MS.REMOUNT | MS.RDONLY)
}

/**
 * The pod's volumes (appMounts), bound where the app expects them; an `empty` volume's directory is made
 * first with its mode and owner (the pod's owner: shifted into the pod's uid range with --private-users);
 * read-only ones are remounted read-only (submounts too).
 */
export function mountVolumes(rootfs: string, mounts: readonly AppMount[], range?: IdRange): void {
  const shift = range?.first ?? 0
  for (const m of mounts) {
    if (m.kind === 'empty' && !fs.existsSync(m.source)) {
      fs.mkdirSync(m.source, {recursive: true})
      fs.chmodSync(m.source, m.empty?.mode ?? 0o755)
      fs.chownSync(m.source, (m.empty?.uid ?? 0) + shift, (m.empty?.gid ?? 0) + shift)
      if (m.prefill) prefillVolume(path.join(rootfs, m.target), m.source)
    }
    const isDir = fs.statSync(m.source).isDirectory()
    const target = prepareMountTarget(rootfs, m.target, isDir, `volume ${m.volume}`)
    bindMount(m.source, target, m.recursive)
    if (m.readOnly) remountReadOnly(target, m.recursive)
  }
}

/**
 * Copies what the image has at a volume's path into the new volume (Docker semantics). `from` is the host
 * path of the mount target as resolved inside the app's root (symlinks in the image cannot lead out); cp -a copies
 * symlinks as symlinks and never follows them. The app has not started, so nothing races the copy.
 */
function prefillVolume(from: string, to: string): void {
  let st: fs.Stats
  try {
    st = fs.lstatSync(from)
  } catch {
    return // nothing at that path in the image: the volume starts empty
  }
  if (!st.isDirectory()) return
  execFileSync('cp', ['-a', '--no-dereference', '--', `${from}/.`, `${to}/`], {stdio: ['ignore', 'ignore', 'pipe']})
}
