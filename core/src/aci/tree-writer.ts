// Writes parsed archive entries into a directory, safely. Invariant: nothing outside the destination is
// created, modified, chmod/chown'd or hard-linked to. Every path is built relative to the destination from
// verified real directories; files are created with O_EXCL|O_NOFOLLOW and their metadata applied through the
// open fd; links and nodes are never followed (docs/security.md SEC-22..SEC-34). Synchronous on purpose:
// per-entry async machinery costs more than the writes themselves.
import fs from 'node:fs'

import type {RktError} from '../errors.js'
import {wrap} from '../errors.js'
import {removeTree} from '../sys/mounts.js'
import {mknod, setXattr} from '../sys/native.js'
import {deviceNodeError} from './device-nodes.js'
import {LayoutChecker, layoutError} from './layout.js'
import type {AciLimits} from './limits.js'
import type {TarEntry, TarHandler} from './tar-reader.js'

/** How entries are written. */
export interface WriteOptions {
  /** Write only the rootfs, with `rootfs/` stripped (the tree store's render); otherwise `manifest` and `rootfs/`. */
  rootfsOnly?: boolean
  /**
   * This archive is rendered over earlier layers in the same dest (appc R1/R2): an existing symlink or other
   * non-directory where a directory is needed (also as a parent) is replaced, never followed; an existing
   * directory where a non-directory goes is removed; an existing file is replaced.
   */
  layered?: boolean
  /** appc pathWhitelist (R3): called with the rootfs path (`/bin/sh`) of each non-directory; false skips it. */
  filter?: (path: string) => boolean
  /** Create character and block devices; otherwise an image containing one fails. FIFOs are always created. */
  allowDevices?: boolean
  /** Apply the archived uid/gid; the default is true when running as root. */
  preserveOwnership?: boolean
  /** xattr names to write: exact names, or prefixes ending in `*`; the default is rkt's `user.*`, `security.capability`. */
  xattrs?: readonly string[]
}

/** rkt's xattr allow-list (pkg/tar): user attributes and file capabilities; never trusted.* or security.selinux. */
export const DEFAULT_XATTRS: readonly string[] = ['user.*', 'security.capability']

const O_FILE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW
const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW
const S_IFCHR = 0o020000
const S_IFBLK = 0o060000
const S_IFIFO = 0o010000

interface DirMeta {
  rel: string
  entry: TarEntry
}

/** The errno code of a system error. */
function errCode(err: unknown): unknown {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** What a file is, for messages. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory'
  if (st.isSymbolicLink()) return 'symlink'
  if (st.isFile()) return 'regular file'
  return 'special file'
}

/**
 * Writes parsed entries into a directory under the safety rules above; the reader calls it entry by entry.
 * `dest` must be an existing directory given by its real path (AciExtractor resolves it). One instance per archive.
 */
export class TreeWriter implements TarHandler {
  readonly layout: LayoutChecker
  private readonly dirOk = new Set<string>([''])
  private readonly dirs: DirMeta[] = []
  private readonly filtered = new Set<string>()
  private readonly chown: boolean
  private readonly xattrAllow: readonly string[]
  private readonly umask = process.umask()
  private fd = -1
  private entry: TarEntry | undefined
  private rel = ''
  skipped = 0
  /** The entry being extracted, for error messages. */
  current: TarEntry | undefined

  constructor(
    private readonly dest: string,
    private readonly opts: WriteOptions,
    limits: AciLimits,
  ) {
    this.layout = new LayoutChecker(limits)
    this.chown = opts.preserveOwnership ?? process.getuid?.() === 0
    this.xattrAllow = opts.xattrs ?? DEFAULT_XATTRS
  }

  private abs(rel: string): string {
    return rel === '' ? this.dest : `${this.dest}/${rel}`
  }

  /** The current entry, as error messages name it (rendered only when needed). */
  get where(): string {
    return this.current ? `entry ${JSON.stringify(this.current.name)} at byte ${this.current.offset}` : ''
  }

  private unsafe(message: string): RktError {
    return layoutError(`${this.where}: ${message}`)
  }

  onEntry(e: TarEntry): void {
    this.current = e
    const c = this.layout.check(e)
    this.entry = undefined
    if (c.kind === 'root' || (c.kind === 'manifest' && this.opts.rootfsOnly === true)) {
      this.skipped++
      return
    }
    const strip = this.opts.rootfsOnly === true
    const rel = c.kind === 'rootfs' && strip ? '' : strip ? c.path.slice(7) : c.path
    if (e.type !== 'directory' && c.kind === 'rootfs-entry' && this.opts.filter && !this.opts.filter(c.path.slice(6))) {
      this.filtered.add(c.path)
      this.skipped++
      return
    }
    this.rel = rel
    switch (e.type) {
      case 'directory':
        this.ensureDir(rel)
        this.dirs.push({rel, entry: e})
        return
      case 'file':
        this.ensureDir(parentOf(rel))
        this.fd = this.create(rel, () => fs.openSync(this.abs(rel), O_FILE, e.mode & 0o777))
        this.entry = e
        return
      case 'symlink':
        this.ensureDir(parentOf(rel))
        this.create(rel, () => fs.symlinkSync(e.linkname, this.abs(rel)))
        this.finishLink(rel, e)
        return
      case 'hardlink':
        this.hardlink(rel, c.linkTarget)
        return
      case 'char':
      case 'block':
        if (this.opts.allowDevices !== true) {
          throw deviceNodeError(e.name, e.type, e.devmajor, e.devminor)
        }
        this.node(rel, e, e.type === 'char' ? S_IFCHR : S_IFBLK)
        return
      case 'fifo':
        this.node(rel, e, S_IFIFO)
        return
    }
  }

  onData(chunk: Buffer): void {
    if (this.fd < 0) return
    let off = 0
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off)
  }

  onEntryEnd(): void {
    if (this.fd < 0 || this.entry === undefined) return
    const fd = this.fd
    const e = this.entry
    // chown before chmod (chown clears setuid), xattrs after both (chown and writes clear security.capability).
    if (this.chown) fs.fchownSync(fd, e.uid, e.gid)
    // The file was created with the permission bits; chmod only when umask took some or there are special bits.
    if ((e.mode & (0o7000 | this.umask)) !== 0) fs.fchmodSync(fd, e.mode)
    if (e.xattrs) this.setXattrs(this.rel, e, false)
    fs.futimesSync(fd, e.mtime, e.mtime)
    this.fd = -1
    this.entry = undefined
    fs.closeSync(fd)
  }

  /** Closes a file left open by an error. */
  abort(): void {
    if (this.fd >= 0) fs.closeSync(this.fd)
    this.fd = -1
  }

  /** Makes `rel` a verified real directory: created when missing, a non-directory replaced when layered. */
  private ensureDir(rel: string): void {
    if (this.dirOk.has(rel)) return
    this.ensureDir(parentOf(rel))
    const p = this.abs(rel)
    try {
      fs.mkdirSync(p, 0o755)
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err
      const st = fs.lstatSync(p)
      if (!st.isDirectory()) {
        if (this.opts.layered !== true)
          throw this.unsafe(`${JSON.stringify(rel)} exists and is a ${kindOf(st)}, not a directory`)
        // R2: a lower layer's symlink (or file) is removed, never followed.
        fs.unlinkSync(p)
        fs.mkdirSync(p, 0o755)
      }
    }
    this.dirOk.add(rel)
  }

  /** Creates a non-directory at `rel` (parent verified); an existing one is an error unless layered. */
  private create<T>(rel: string, make: () => T): T {
    try {
      return make()
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err
    }
    const p = this.abs(rel)
    const st = fs.lstatSync(p)
    if (this.opts.layered !== true) throw this.unsafe(`${JSON.stringify(rel)} already exists (a ${kindOf(st)})`)
    if (st.isDirectory()) {
      removeTree(p)
      // Directories under it may have been cached as verified; start over (rare: only layered renders).
      this.dirOk.clear()
      this.dirOk.add('')
    } else {
      fs.unlinkSync(p)
    }
    return make()
  }

  private hardlink(rel: string, target: string): void {
    if (this.filtered.has(target)) {
      // The filter dropped the target, so the link has nothing to point to.
      this.skipped++
      return
    }
    const targetRel = this.opts.rootfsOnly === true ? target.slice(7) : target
    this.ensureDir(parentOf(targetRel))
    const st = fs.lstatSync(this.abs(targetRel))
    if (!st.isFile() && !st.isSymbolicLink())
      throw this.unsafe(`hardlink target ${JSON.stringify(targetRel)} is a ${kindOf(st)}`)
    this.ensureDir(parentOf(rel))
    // link(2) does not follow a symlink named as its target on Linux; its parents were verified just above.
    this.create(rel, () => fs.linkSync(this.abs(targetRel), this.abs(rel)))
    // No metadata: the inode is shared with the target, which already has its own.
  }

  private node(rel: string, e: TarEntry, type: number): void {
    this.ensureDir(parentOf(rel))
    const p = this.abs(rel)
    this.create(rel, () => mknod(p, type | (e.mode & 0o777), e.devmajor, e.devminor))
    if (this.chown) fs.lchownSync(p, e.uid, e.gid)
    // mknod just created this node, so chmod (which follows symlinks) acts on it; umask made its mode inexact.
    fs.chmodSync(p, e.mode)
    if (e.xattrs) this.setXattrs(rel, e, false)
    fs.lutimesSync(p, e.mtime, e.mtime)
  }

  private finishLink(rel: string, e: TarEntry): void {
    const p = this.abs(rel)
    if (this.chown) fs.lchownSync(p, e.uid, e.gid)
    if (e.xattrs) this.setXattrs(rel, e, true)
    // Never chmod a symlink: chmod follows it.
    fs.lutimesSync(p, e.mtime, e.mtime)
  }

  private setXattrs(rel: string, e: TarEntry, symlink: boolean): void {
    for (const [name, value] of e.xattrs ?? []) {
      if (!this.xattrAllow.some((pat) => (pat.endsWith('*') ? name.startsWith(pat.slice(0, -1)) : name === pat)))
        continue
      try {
        setXattr(this.abs(rel), name, value)
      } catch (err) {
        // The kernel refuses user.* attributes on symlinks; nothing to preserve there.
        if (symlink && errCode(err) === 'EPERM' && name.startsWith('user.')) continue
        throw wrap(`${this.where}: cannot set xattr ${name}`, err)
      }
    }
  }

  /** Applies directory metadata once their contents are written (writing a child changes a directory's mtime). */
  finishDirs(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const {rel, entry: e} = this.dirs[i]!
      this.current = e
      const fd = fs.openSync(this.abs(rel), O_DIR)
      try {
        if (this.chown) fs.fchownSync(fd, e.uid, e.gid)
        fs.fchmodSync(fd, e.mode)
        if (e.xattrs) this.setXattrs(rel, e, false)
        fs.futimesSync(fd, e.mtime, e.mtime)
      } finally {
        fs.closeSync(fd)
      }
    }
  }
}

/** The parent of a dest-relative path ('' is dest itself). */
function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/')
  return i < 0 ? '' : rel.slice(0, i)
}
