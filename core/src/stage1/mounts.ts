// The volumes an app gets and where (appc spec/pods.md volumes and mounts, and what spec/ace.md asks of an executor for
// them; rkt's evaluateMounts in stage1_fly/run/main.go, with GenerateMounts in stage1/init/common/mount.go for what fly
// left out).
//
// How the pieces combine, as in rkt's fly:
//   1. the runtime app's `mounts` ({volume, path}, --mount), at most one per volume name ("duplicate mount");
//   2. the image app's mountPoints, then the pod app's own mountPoints, matched by name: a mountPoint whose name
//      already has a mount must agree on the path ("conflicting path"); one whose path already has a mount of
//      another name is satisfied by it (as stage0's implicit volumes and rkt's nspawn assume); otherwise it adds
//      a mount at its path;
//   3. each mount takes the pod volume of that name (or the mount's inline `appVolume`, which fly ignored and
//      rkt's other flavors used); a mount or mountPoint left without a volume is an error ("missing volume for
//      mountpoint"), where rkt fly only checked the image's mountPoints and nspawn invented an empty volume;
//   4. readOnly: the volume's when set, else read-only when a mountPoint of that name or at that path says so (fly read the image
//      mountPoint, nspawn the pod app's; taking either is the conservative union).
//
// Decisions where rkt and appc differ:
//   - recursive: appc says an executor SHOULD default to a recursive bind for host volumes, rkt's nspawn and kvm
//     did, rkt's fly defaulted to a plain bind ("If Recursive is not set, default to non-recursive"). This SDK
//     serves every engine, so the default is recursive (true) for host volumes. Empty volumes are fresh
//     directories with nothing mounted below them, so they are a plain bind (recursive false) whatever is set.
//   - targets: /proc, /sys, /dev and anything below them are refused (docs/security.md SEC-10), both as
//     written and after resolving symlinks inside the app's root; so is `/` itself. rkt allowed them (nspawn used
//     device-node volumes under /dev); this implementation does not.
//   - identical targets are an error; nested targets (appc says they SHOULD be an error) are allowed, as in rkt, and
//     the result is ordered parents first so that engines mount them in a working order (fly's order was random).
//   - host sources must be absolute and must exist (appc: MUST; the source is never created). A symlink anywhere
//     along the source path (appc: SHOULD be an error, or opt-in per pod) is accepted only when it cannot be
//     swapped by anyone but root: the link is owned by root and sits in a root-owned directory that is not
//     writable by group or others (or is sticky). That keeps /var/run -> /run (Debian) and merged-/usr links
//     working, and refuses links an unprivileged user could redirect between this check and the mount. The
//     returned source is the fully resolved path, so engines mount exactly what was checked. The opt-in
//     (AppMountsOptions.allowSymlinkedSources) accepts every link, as rkt did.
import fs from 'node:fs'
import path from 'node:path'

import type {ImageManifest, MountPoint, PodManifest, RuntimeApp, Volume} from '../schema/index.js'
import type {PodPaths} from './paths.js'
import type {SymlinkStep} from './root-path.js'

import {RktError} from '../errors.js'
import {MAX_ID} from './credentials.js'
import {resolveInRoot} from './root-path.js'

/** One volume mount of an app, ready for an engine to perform. */
export interface AppMount {
  /** The volume's name. */
  readonly volume: string
  /**
   * Where it goes, inside the app's root (absolute, root-relative), with symlinks resolved inside the root at
   * evaluation time. Engines resolve it again with resolveInRoot (or checkMountTarget) right before mounting:
   * an earlier mount may have changed the tree.
   */
  readonly target: string
  /** The path as the mount or mountPoint wrote it (for messages). */
  readonly path: string
  /** Host path: the resolved source of a host volume, or the pod's sharedVolumes/<name> for an empty one. */
  readonly source: string
  readonly readOnly: boolean
  /** Bind recursively (MS_REC): submounts of the source come along. */
  readonly recursive: boolean
  readonly kind: 'host' | 'empty'
  /** For empty volumes: the directory's permission bits and owner, which the engine applies when creating it. */
  readonly empty?: {readonly mode: number; readonly uid: number; readonly gid: number}
  /**
   * Docker's volume semantics (rkt's too, for converted images): the implicit volume of a Docker image's
   * VOLUME starts as a copy of what the image has at that path, not empty.
   */
  readonly prefill?: boolean
}

/** What appMounts needs of a pod (LoadedPod fits). */
export interface MountsPod {
  readonly paths: PodPaths
  readonly manifest: Pick<PodManifest, 'volumes'>
}

/** What appMounts needs of an app (PodApp fits). */
export interface MountsApp {
  readonly name: string
  readonly runtime: RuntimeApp
  readonly image: ImageManifest
  /** Host path of the app's root. */
  readonly rootfs: string
}

export interface AppMountsOptions {
  /** Accept symlinks anywhere in host volume sources (rkt's behaviour; appc's per-pod opt-in). */
  readonly allowSymlinkedSources?: boolean
}

const FORBIDDEN_TARGETS = ['/proc', '/sys', '/dev'] as const

/** `p` (absolute or relative to `/`) normalized lexically, `..` stopping at `/`. */
function lexical(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/(.)\/+$/, '$1')
}

/** True when a volume may not be mounted at `target` (an absolute, normalized path in the app). */
export function isForbiddenTarget(target: string): boolean {
  const t = lexical(target)
  return t === '/' || FORBIDDEN_TARGETS.some((f) => t === f || t.startsWith(`${f}/`))
}

/**
 * Resolves `target` inside the app root `rootfs` and returns the root-relative path to mount on; refuses /proc,
 * /sys, /dev (and below) and `/`, as written or once resolved (an image link /data -> /proc counts as /proc).
 */
export function checkMountTarget(rootfs: string, target: string, what: string = `the mount at ${target}`): string {
  const refuse = (t: string) =>
    new RktError(`${what} targets ${t}: volumes cannot be mounted on /, /proc, /sys, /dev or below them`, {
      code: 'EMOUNTTARGET',
      hint: 'mount the volume somewhere else in the app (for example under /mnt or /srv)',
    })
  if (isForbiddenTarget(target)) throw refuse(lexical(target))
  const resolved = resolveInRoot(rootfs, target)
  if (isForbiddenTarget(resolved)) throw refuse(`${resolved} (via symlinks in the image)`)
  return resolved
}

interface Entry {
  readonly name: string
  readonly path: string
  /** Where the path came from, for messages. */
  readonly origin: string
  readonly appVolume?: Volume
}

function isTrustedLink(step: SymlinkStep): boolean {
  if (step.stat.uid !== 0) return false
  let dir: fs.Stats
  try {
    dir = fs.statSync(step.parentHostPath)
  } catch {
    return false
  }
  return dir.uid === 0 && ((dir.mode & 0o022) === 0 || (dir.mode & 0o1000) !== 0)
}

/** The checked, fully resolved host path of a host volume's source. */
function hostSource(volume: Volume & {kind: 'host'}, app: string, options: AppMountsOptions): string {
  const src = volume.source
  const hint = `give an existing absolute host path: --volume ${volume.name},kind=host,source=/absolute/path`
  if (!src.startsWith('/')) {
    throw new RktError(`host volume ${JSON.stringify(volume.name)} has a relative source ${JSON.stringify(src)}`, {
      code: 'EVOLUME',
      hint,
    })
  }
  let resolved: string
  try {
    resolved = resolveInRoot('/', src, {
      onSymlink: (step) => {
        if (options.allowSymlinkedSources || isTrustedLink(step)) return
        throw new RktError(
          `the source ${src} of host volume ${JSON.stringify(volume.name)} goes through the symlink ${step.link} ` +
            `(-> ${step.target}), which someone other than root could redirect`,
          {
            code: 'EVOLUME',
            hint: `give the resolved path as the source (${safeRealpath(src) ?? 'the link target'}), or make the link and its directory root-owned and not writable by others`,
          },
        )
      },
    })
  } catch (err) {
    if (err instanceof RktError && err.code === 'EVOLUME') throw err
    throw new RktError(`cannot resolve the source ${src} of host volume ${JSON.stringify(volume.name)}`, {
      code: 'EVOLUME',
      cause: err,
      hint,
    })
  }
  try {
    fs.lstatSync(resolved)
  } catch (err) {
    throw new RktError(
      `the source ${src} of host volume ${JSON.stringify(volume.name)} (used by app ${app}) does not exist`,
      {code: 'EVOLUME', cause: err, hint: `create ${src} on the host first: rkt never creates host volume sources`},
    )
  }
  return resolved
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p)
  } catch {
    return undefined
  }
}

function emptyParams(volume: Volume & {kind: 'empty'}): {mode: number; uid: number; gid: number} {
  const m = /^0*([0-7]{1,4})$/.exec(volume.mode)
  if (!m) {
    throw new RktError(`invalid mode ${JSON.stringify(volume.mode)} for empty volume ${JSON.stringify(volume.name)}`, {
      code: 'EVOLUME',
      hint: 'use an octal mode such as 0755',
    })
  }
  for (const [k, v] of [
    ['uid', volume.uid],
    ['gid', volume.gid],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_ID) {
      throw new RktError(`invalid ${k} ${v} for empty volume ${JSON.stringify(volume.name)}`, {
        code: 'EVOLUME',
        hint: `use a ${k} between 0 and ${MAX_ID}`,
      })
    }
  }
  return {mode: parseInt(m[1]!, 8), uid: volume.uid, gid: volume.gid}
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length
}

/** The volume mounts of `app` in `pod`, checked, in the order to mount them (see the rules above). */
export function appMounts(pod: MountsPod, app: MountsApp, options: AppMountsOptions = {}): AppMount[] {
  const appName = app.name
  const entries = new Map<string, Entry>()

  app.runtime.mounts.forEach((m, i) => {
    const where = `mount #${i + 1} of app ${appName}`
    if (m.volume === undefined || m.volume === '') {
      throw new RktError(`${where} names no volume`, {code: 'EVOLUME', hint: 'use --mount volume=NAME,target=/path'})
    }
    if (m.path === undefined || m.path === '') {
      throw new RktError(`${where} (volume ${JSON.stringify(m.volume)}) has no target path`, {
        code: 'EVOLUME',
        hint: `use --mount volume=${m.volume},target=/path`,
      })
    }
    if (entries.has(m.volume)) {
      throw new RktError(`duplicate mount given for volume ${JSON.stringify(m.volume)} in app ${appName}`, {
        code: 'EVOLUME',
        hint: 'mount each volume once per app',
      })
    }
    if (m.appVolume !== undefined && m.appVolume.name !== m.volume) {
      throw new RktError(
        `${where} names volume ${JSON.stringify(m.volume)} but carries the volume ${JSON.stringify(m.appVolume.name)}`,
        {code: 'EVOLUME', hint: 'give the inline appVolume the name the mount uses'},
      )
    }
    entries.set(m.volume, {
      name: m.volume,
      path: m.path,
      origin: `the mount of volume ${JSON.stringify(m.volume)}`,
      ...(m.appVolume === undefined ? {} : {appVolume: m.appVolume}),
    })
  })

  const imageMountPoints = app.image.app?.mountPoints ?? []
  const podMountPoints = app.runtime.app?.mountPoints ?? []
  const addMountPoints = (mps: readonly MountPoint[], whose: string) => {
    for (const mp of mps) {
      if (mp.path === undefined || mp.path === '') {
        throw new RktError(`the ${whose} mountPoint ${JSON.stringify(mp.name)} of app ${appName} has no path`, {
          code: 'EVOLUME',
          hint: 'fix the manifest: every mountPoint needs a path',
        })
      }
      const have = entries.get(mp.name)
      // A mount already at the mountPoint's path satisfies it, whatever its volume is called: stage0 gives an
      // unsatisfied mountPoint an implicit volume named `<app>-<mountPoint>` mounted there, and a user may
      // --mount a volume of any name at that path (rkt's nspawn matched mountPoints to mounts by path too).
      const at = lexical(mp.path)
      if (have === undefined && [...entries.values()].some((e) => lexical(e.path) === at)) continue
      if (have === undefined) {
        entries.set(mp.name, {
          name: mp.name,
          path: mp.path,
          origin: `the ${whose} mountPoint ${JSON.stringify(mp.name)}`,
        })
      } else if (lexical(have.path) !== lexical(mp.path)) {
        throw new RktError(
          `conflicting path information from mount and mountpoint ${JSON.stringify(mp.name)} in app ${appName}: ` +
            `${have.origin} says ${have.path}, the ${whose} mountPoint says ${mp.path}`,
          {code: 'EVOLUME', hint: `mount volume ${mp.name} at ${mp.path}, where the app expects it`},
        )
      }
    }
  }
  addMountPoints(imageMountPoints, 'image')
  addMountPoints(podMountPoints, 'pod app')

  const volumes = new Map(pod.manifest.volumes.map((v) => [v.name, v]))
  const mountPointReadOnly = (e: Entry) =>
    [...imageMountPoints, ...podMountPoints].some(
      (mp) => (mp.name === e.name || (mp.path !== undefined && lexical(mp.path) === lexical(e.path))) && mp.readOnly,
    )

  // Converted Docker images carry docker2aci's annotations (core/src/docker/convert.ts).
  const dockerImage = (app.image.annotations ?? []).some((a) => a.name === 'appc.io/docker/repository')
  const out: AppMount[] = []
  for (const e of entries.values()) {
    const volume = e.appVolume ?? volumes.get(e.name)
    if (volume === undefined) {
      throw new RktError(
        `missing volume for mountpoint ${JSON.stringify(e.name)} of app ${appName} (${e.origin} at ${e.path})`,
        {
          code: 'EVOLUME',
          hint: `add a volume to the pod: --volume ${e.name},kind=host,source=/host/path (or kind=empty)`,
        },
      )
    }
    const target = checkMountTarget(app.rootfs, e.path, `volume ${JSON.stringify(e.name)} of app ${appName}`)
    const readOnly = volume.readOnly ?? mountPointReadOnly(e)
    const base = {volume: e.name, target, path: e.path, readOnly}
    if (volume.kind === 'host') {
      out.push({
        ...base,
        source: hostSource(volume, appName, options),
        recursive: volume.recursive ?? true,
        kind: 'host',
      })
    } else {
      const prefill =
        dockerImage &&
        imageMountPoints.some((mp) => volume.name === `${appName}-${mp.name}` && lexical(mp.path!) === lexical(e.path))
      out.push({
        ...base,
        source: pod.paths.sharedVolume(volume.name),
        recursive: false,
        kind: 'empty',
        empty: emptyParams(volume),
        ...(prefill ? {prefill} : {}),
      })
    }
  }

  const byTarget = new Map<string, string>()
  for (const m of out) {
    const other = byTarget.get(m.target)
    if (other !== undefined) {
      throw new RktError(
        `volumes ${JSON.stringify(other)} and ${JSON.stringify(m.volume)} of app ${appName} are both mounted at ${m.target}`,
        {code: 'EVOLUME', hint: 'give each volume its own target'},
      )
    }
    byTarget.set(m.target, m.volume)
  }
  // Stable: parents before what is mounted inside them, otherwise the order of the manifest.
  return out
    .map((m, i) => ({m, i}))
    .sort((a, b) => depth(a.m.target) - depth(b.m.target) || a.i - b.i)
    .map(({m}) => m)
}
