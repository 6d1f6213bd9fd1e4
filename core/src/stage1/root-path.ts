// Path resolution inside an app's root, as if that root were `/` (docs/security.md SEC-13, SEC-18; rkt's
// EvaluateSymlinksInsideApp, which chrooted and ran a `readlink -m`). The walk is done component by component
// with lstat, so an image's symlink (absolute or full of `..`) can never make stage1 look at, or write to, a
// host path: absolute link targets restart at the root and `..` stops at it.
//
// The result describes the tree at the time of the call: callers resolve right before they use a path, and an
// image that is being changed concurrently (a running app writing to a shared volume) can still swap a
// component afterwards. Engines that mount or write on behalf of the image should resolve again just before
// acting, and open the final component with O_NOFOLLOW.
import fs from 'node:fs'
import path from 'node:path'

import {RktError, wrap} from '../errors.js'

/** Symlinks followed before giving up with ELOOP (Linux's MAXSYMLINKS). */
export const MAX_SYMLINKS = 40

/** One symlink met by the walk (for callers that vet links, see ResolveOptions.onSymlink). */
export interface SymlinkStep {
  /** Root-relative path of the link itself (starting with `/`). */
  readonly link: string
  /** Its target, as stored. */
  readonly target: string
  /** lstat of the link. */
  readonly stat: fs.Stats
  /** Host path of the directory holding the link. */
  readonly parentHostPath: string
}

export interface ResolveOptions {
  /** Called for every symlink before it is followed; throw to refuse it. */
  readonly onSymlink?: (step: SymlinkStep) => void
}

function splitComponents(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.')
}

function isMissing(err: unknown): boolean {
  const code = (err as {code?: unknown} | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * Resolves `target` (absolute or relative to `/`) inside `root` as the kernel would if `root` were `/`, and
 * returns the root-relative result, always starting with `/`. Symlinks are followed with their targets read
 * inside `root`; components that do not exist are kept as given (for the caller to create); `..` never climbs
 * above `root`. Throws an RktError with code ELOOP after MAX_SYMLINKS links.
 */
export function resolveInRoot(root: string, target: string, options: ResolveOptions = {}): string {
  const hostRoot = path.resolve(root)
  if (target.includes('\0')) {
    throw new RktError(`invalid path ${JSON.stringify(target)}: it contains a NUL byte`, {code: 'EINVAL'})
  }
  const pending = splitComponents(target)
  const resolved: string[] = []
  let links = 0
  // Once a component is missing, everything below it is missing too: skip the lstat calls until `..` brings
  // the walk back to a directory that exists.
  let missingDepth = -1
  while (pending.length > 0) {
    const c = pending.shift()!
    if (c === '..') {
      resolved.pop()
      if (resolved.length <= missingDepth) missingDepth = -1
      continue
    }
    if (missingDepth >= 0) {
      resolved.push(c)
      continue
    }
    const hostPath = path.join(hostRoot, ...resolved, c)
    let st: fs.Stats
    try {
      st = fs.lstatSync(hostPath)
    } catch (err) {
      if (!isMissing(err)) throw wrap(`cannot look up ${hostPath} while resolving ${target} inside ${root}`, err)
      missingDepth = resolved.length
      resolved.push(c)
      continue
    }
    if (!st.isSymbolicLink()) {
      resolved.push(c)
      continue
    }
    if (++links > MAX_SYMLINKS) {
      throw new RktError(`too many levels of symbolic links resolving ${target} inside ${root}`, {
        code: 'ELOOP',
        hint: `the image has a symlink loop around /${resolved.join('/')}; fix the image or use another path`,
      })
    }
    let link: string
    try {
      link = fs.readlinkSync(hostPath)
    } catch (err) {
      throw wrap(`cannot read the symlink ${hostPath} while resolving ${target} inside ${root}`, err)
    }
    options.onSymlink?.({
      link: `/${[...resolved, c].join('/')}`,
      target: link,
      stat: st,
      parentHostPath: path.join(hostRoot, ...resolved),
    })
    if (link.startsWith('/')) resolved.length = 0
    pending.unshift(...splitComponents(link))
  }
  return `/${resolved.join('/')}`
}

/** The host path of `target` resolved inside `root` (see resolveInRoot). */
export function hostPathInRoot(root: string, target: string, options: ResolveOptions = {}): string {
  return path.join(path.resolve(root), resolveInRoot(root, target, options))
}
