// The ACI entry rules (appc spec/aci.md: exactly `manifest` and `rootfs/` at the top, everything else under
// `rootfs/`, no duplicate entries; docs/security.md SEC-22..25, SEC-32),
// shared by validation at fetch time and by extraction, so both accept exactly the same archives.
import {RktError} from '../errors.js'
import {limitError, resolveLimits} from './limits.js'
import type {AciLimits} from './limits.js'
import type {TarEntry} from './tar-reader.js'

/** Where an entry belongs in the image layout. */
export type AciEntryKind = 'manifest' | 'rootfs' | 'rootfs-entry' | 'root'

/** An entry that passed the layout rules. */
export interface CheckedEntry {
  /** Normalised archive path: `manifest`, `rootfs`, `rootfs/...`, or '' for a `./` entry. */
  path: string
  kind: AciEntryKind
  /** Normalised hardlink target (an earlier `rootfs/...` entry), '' for other types. */
  linkTarget: string
}

// What the checker remembers per path. Implicit directories are parents named only by their children.
const IMPLICIT_DIR = 0
const DIR = 1
const FILE = 2
const SYMLINK = 3
const OTHER = 4
const KIND_NAME = ['directory', 'directory', 'regular file', 'symlink', 'device or fifo']

/** The EBADACI error for an entry that breaks the image layout rules. */
export function layoutError(message: string, hint?: string): RktError {
  return new RktError(`invalid image: ${message}`, {code: 'EBADACI', hint})
}

/**
 * Normalises a tar name: drops `.` components (so one leading `./`), collapses `//` and a trailing `/`.
 * Throws for empty and absolute names and for any `..` component. Returns '' for the archive root (`./`).
 */
export function normalizeEntryName(name: string, where: () => string = () => JSON.stringify(name)): string {
  if (name === '') throw layoutError(`${where()}: empty name`)
  if (name.charCodeAt(0) === 0x2f) throw layoutError(`${where()}: absolute name`)
  // Fast path for the common clean name: no '.' or '' components.
  if (!name.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(name)) return name.endsWith('/') ? name.slice(0, -1) : name
  const parts: string[] = []
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue
    if (c === '..') throw layoutError(`${where()}: '..' in the name`)
    parts.push(c)
  }
  return parts.join('/')
}

/**
 * Applies the layout rules to a sequence of entries: names only `manifest`, `rootfs` or under `rootfs/`, no
 * duplicates after normalisation, no entry under a non-directory, no non-directory replacing a directory,
 * hardlinks only to an earlier regular file or symlink of the same archive.
 */
export class LayoutChecker {
  private readonly limits: AciLimits
  private readonly seen = new Map<string, number>()
  private sawRoot = false
  private sawManifest = false

  constructor(limits: Partial<AciLimits> = {}) {
    this.limits = resolveLimits(limits)
  }

  /** Checks one entry (throws EBADACI or ELIMIT) and returns its normalised form. */
  check(e: TarEntry): CheckedEntry {
    // Rendered only on error paths, keeping the per-entry cost off the hot path.
    const at = (): string => `entry ${JSON.stringify(e.name)} at byte ${e.offset}`
    if (e.name.endsWith('/') && e.type !== 'directory') throw layoutError(`${at()}: a ${e.type} name ends in '/'`)
    const path = normalizeEntryName(e.name, at)
    if (path === '') {
      if (e.type !== 'directory') throw layoutError(`${at()}: the archive root is not a directory`)
      if (this.sawRoot) throw layoutError(`${at()}: duplicate entry for the archive root`)
      this.sawRoot = true
      return {path, kind: 'root', linkTarget: ''}
    }
    let kind: AciEntryKind
    if (path === 'manifest') {
      if (e.type !== 'file') throw layoutError(`${at()}: manifest is a ${e.type}, not a regular file`)
      if (e.size > this.limits.maxManifestBytes)
        throw limitError('maxManifestBytes', this.limits, `the manifest of ${e.size} bytes`)
      if (this.sawManifest) throw layoutError(`${at()}: duplicate entry 'manifest'`)
      this.sawManifest = true
      return {path, kind: 'manifest', linkTarget: ''}
    } else if (path === 'rootfs') {
      if (e.type !== 'directory') throw layoutError(`${at()}: rootfs is a ${e.type}, not a directory`)
      kind = 'rootfs'
    } else if (path.startsWith('rootfs/')) {
      kind = 'rootfs-entry'
    } else {
      throw layoutError(`${at()}: an image holds only 'manifest' and 'rootfs/...'`)
    }

    // Every ancestor must be (or become, implicitly) a directory.
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      const parent = path.slice(0, i)
      const k = this.seen.get(parent)
      if (k === undefined) {
        this.seen.set(parent, IMPLICIT_DIR)
        continue
      }
      if (k === IMPLICIT_DIR || k === DIR) break
      throw layoutError(`${at()}: its parent ${JSON.stringify(parent)} is a ${KIND_NAME[k]}`)
    }

    let linkTarget = ''
    let mine: number
    switch (e.type) {
      case 'directory':
        mine = DIR
        break
      case 'file':
        mine = FILE
        break
      case 'symlink':
        if (e.linkname === '') throw layoutError(`${at()}: empty symlink target`)
        mine = SYMLINK
        break
      case 'hardlink': {
        linkTarget = normalizeEntryName(e.linkname, () => `the hardlink target of ${at()}`)
        const k = this.seen.get(linkTarget)
        if (!linkTarget.startsWith('rootfs/') || k === undefined || k === IMPLICIT_DIR) {
          throw layoutError(
            `${at()}: hardlink target ${JSON.stringify(e.linkname)} is not an earlier entry of the image`,
          )
        }
        if (k !== FILE && k !== SYMLINK) {
          throw layoutError(`${at()}: hardlink target ${JSON.stringify(e.linkname)} is a ${KIND_NAME[k]}`)
        }
        mine = k
        break
      }
      default:
        mine = OTHER
    }

    const prev = this.seen.get(path)
    if (prev === IMPLICIT_DIR && mine === DIR) {
      // A directory entry after its children: legal, the entry supplies the metadata.
    } else if (prev === IMPLICIT_DIR) {
      throw layoutError(`${at()}: a ${e.type} replaces a directory that earlier entries are in`)
    } else if (prev !== undefined) {
      throw layoutError(`${at()}: duplicate entry ${JSON.stringify(path)}`)
    }
    this.seen.set(path, mine)
    return {path, kind, linkTarget}
  }

  /** Checks what must be present once the archive has ended: `manifest` and the `rootfs` directory. */
  finish(): void {
    if (!this.sawManifest) throw layoutError("no 'manifest' entry in the archive")
    if (this.seen.get('rootfs') !== DIR) throw layoutError("no 'rootfs' directory entry in the archive")
  }
}
