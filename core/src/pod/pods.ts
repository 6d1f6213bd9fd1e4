// Pods on disk (rkt's Documentation/devel/pod-lifecycle.md): a pod's state is the directory it sits in plus
// whether somebody holds an exclusive flock on it. Transitions are rename(2)s, so they are atomic and a
// race has exactly one winner; a lock dies with its holder, so a SIGKILLed stage1 reads as exited.
//
//   embryo/      created, not yet locked          (no lock meaning)
//   prepare/     locked: preparing                unlocked: aborted prepare
//   prepared/    ready for run-prepared           (no lock meaning)
//   run/         locked: running                  unlocked: exited
//   exited-garbage/  locked: exited deleting      unlocked: exited garbage
//   garbage/     locked: deleting                 unlocked: garbage
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {RktError, UsageError, wrap} from '../errors.js'
import {PodPaths} from '../contract/paths.js'
import {FileLock} from '../sys/lock.js'
import {type MountEntry, mountsUnder, readMountinfo} from '../sys/mounts.js'
import {MNT_DETACH, mount, MS, umount2} from '../sys/native.js'
import {isUuidPrefixForm, podNameOf} from './names.js'

/** The state directories, in the order rkt walks them. */
export const POD_DIRS = ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage'] as const
export type PodDir = (typeof POD_DIRS)[number]

/** rkt's pod state strings (`rkt list`, `rkt status`). */
export type PodState =
  | 'embryo'
  | 'preparing'
  | 'aborted prepare'
  | 'prepared'
  | 'running'
  | 'deleting'
  | 'exited deleting'
  | 'exited'
  | 'exited garbage'
  | 'garbage'

/**
 * The pod's state rules, in one place. started: its stage1 has run it, so it may have a pid and exit
 * statuses. stopped: none of its processes can be running any more, so `rkt stop` has nothing to do.
 */
const STATE_RULES: Readonly<Record<PodState, {started: boolean; stopped: boolean}>> = {
  embryo: {started: false, stopped: false},
  preparing: {started: false, stopped: false},
  'aborted prepare': {started: false, stopped: false},
  prepared: {started: false, stopped: false},
  running: {started: true, stopped: false},
  deleting: {started: true, stopped: true},
  'exited deleting': {started: true, stopped: true},
  exited: {started: true, stopped: true},
  'exited garbage': {started: true, stopped: true},
  garbage: {started: false, stopped: true},
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** True for a canonical lowercase RFC 4122 UUID (the only names pod directories may have: SEC-41). */
export function isPodUuid(s: string): boolean {
  return UUID.test(s)
}

/** Reads the UUID `--uuid-file` names (written by `--uuid-file-save`): one UUID, surrounding space ignored. */
export function readUuidFile(file: string): string {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new RktError(`unable to read the UUID file ${file}: ${(err as Error).message}`, {
      code: 'ENOENT',
      hint: 'the file is written by rkt run/prepare --uuid-file-save=FILE',
    })
  }
  const uuid = text.trim()
  if (!isPodUuid(uuid))
    throw new RktError(`${file} does not hold a pod UUID`, {
      hint: 'it should hold one UUID, as --uuid-file-save writes',
    })
  return uuid
}

/** True when the mounts at `dir` are the pods directory's fence: an unbindable mount under the top one. */
function isFenced(mounts: readonly MountEntry[], dir: string): boolean {
  const own = mounts.filter((m) => m.mountPoint === dir)
  const top = own.find((m) => !own.some((o) => o.parent === m.id))
  return (
    top !== undefined &&
    !top.propagation.includes('unbindable') &&
    own.some((m) => m.propagation.includes('unbindable'))
  )
}

/** The pods of one data directory. */
export class PodStore {
  readonly root: string
  constructor(readonly dataDir: string) {
    this.root = path.join(dataDir, 'pods')
  }

  dir(state: PodDir): string {
    return path.join(this.root, state)
  }

  /**
   * host-local IPAM leases of the pods (`<data dir>/networks`): under the data dir rather than the system-wide
   * /var/lib/cni, so each `--dir` keeps its own. The run entrypoint gets it in ENV.networksDir.
   */
  get networksDir(): string {
    return path.resolve(this.dataDir, 'networks')
  }

  /** Held while a prepare chooses a `--private-users` range among its pods' (core/src/pod/private-users.ts). */
  get idRangeLock(): string {
    return path.join(this.dataDir, 'private-users.lock')
  }

  /** Held while a prepare gives its pod a name (core/src/pod/names.ts). */
  get namesLock(): string {
    return path.join(this.dataDir, 'pod-names.lock')
  }

  /** Creates the state directories (pods hold app rootfs trees: not for unprivileged eyes, SEC-20). */
  ensure(): void {
    for (const d of POD_DIRS) fs.mkdirSync(this.dir(d), {recursive: true, mode: 0o700})
    this.fence()
  }

  /**
   * Fences the pods directory off from recursive binds, before any pod mounts anything in it. A volume whose
   * source covers the data directory (its parent, /var/lib, /) is a recursive bind: it would copy every pod's
   * mounts (overlays, volumes, network namespaces) into the host's mount table or the pod's own, where the
   * copies outlive those pods and keep their namespaces and files busy. The kernel leaves an unbindable
   * mount, and everything under it, out of any recursive bind; but nothing can be bound from inside an
   * unbindable mount either, nor can overlayfs use an upper directory there. So pods/ gets two binds of
   * itself, stacked: the lower one unbindable (the fence), the upper one an ordinary mount the pods' own
   * mounts hang from. Done once per data directory, under a lock on the directory; left alone while pods
   * still have mounts here from before (new mounts on top would hide them).
   */
  private fence(): void {
    const root = path.resolve(this.root)
    if (isFenced(readMountinfo(), root)) return
    const lock = FileLock.onDir(this.root, {exclusive: true, wait: true})
    try {
      const mounts = readMountinfo()
      if (isFenced(mounts, root)) return
      const own = mounts.filter((m) => m.mountPoint === root)
      if (mountsUnder(root, mounts).length > own.length) return
      for (const _ of own) umount2(root, MNT_DETACH) // a fence half made by a killed rkt: start again
      mount(root, root, null, MS.BIND)
      // Private: on a host whose mounts are shared, the pods' mounts would otherwise propagate to the peers
      // of the data directory's mount (and into every namespace that is a slave of the host's), doubled.
      mount(null, root, null, MS.PRIVATE)
      const fence = fs.openSync(root, 'r') // its root, reachable once covered
      try {
        mount(root, root, null, MS.BIND) // a copy of a private mount: private too
        mount(null, `/proc/self/fd/${fence}`, null, MS.UNBINDABLE)
      } finally {
        fs.closeSync(fence)
      }
    } finally {
      lock.release()
    }
  }

  /**
   * A new pod, locked and in prepare/ (embryo → prepare, so that a pod never appears in prepare/ unlocked
   * before its creator holds it: that would read as a failed prepare).
   */
  create(): Pod {
    this.ensure()
    const uuid = crypto.randomUUID()
    const embryo = path.join(this.dir('embryo'), uuid)
    // The data directory's group (rkt install) reads a pod's records; its apps' trees stay closed (closeAppTrees).
    fs.mkdirSync(embryo, {mode: 0o750})
    const lock = FileLock.onDir(embryo, {exclusive: true, wait: false})
    const prepare = path.join(this.dir('prepare'), uuid)
    fs.renameSync(embryo, prepare)
    fs.writeFileSync(path.join(prepare, 'pod-created'), '')
    return new Pod(this, uuid, 'prepare', lock)
  }

  /** Every pod, in state-directory order (each state's pods sorted by UUID). */
  list(): Pod[] {
    const out: Pod[] = []
    for (const d of POD_DIRS) {
      let names: string[]
      try {
        names = fs.readdirSync(this.dir(d)).sort()
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        // An empty list would say there are no pods: say who may read them instead.
        throw wrap(`cannot read the pods in ${this.dir(d)}`, err, {
          hint: 'run it as root, or as a member of the data directory’s group (rkt install sets up the rkt group)',
        })
      }
      for (const n of names) if (isPodUuid(n)) out.push(new Pod(this, n, d))
    }
    return out
  }

  /**
   * Finds a pod by UUID, unique UUID prefix (as rkt does) or name (`--name`; a name never looks like a UUID
   * prefix, core/src/pod/names.ts). The messages start with rkt's own words (`UUID cannot be empty`,
   * `no matches found for "…"`), which scripts written for rkt match.
   */
  find(arg: string): Pod {
    const byUuid = isUuidPrefixForm(arg)
    const want = byUuid ? arg.trim().toLowerCase() : arg
    if (want.trim() === '') throw new UsageError('UUID cannot be empty', {hint: 'see the pods with: rkt list'})
    const matches = new Map<string, Pod>()
    for (const p of this.list()) if (byUuid ? p.uuid.startsWith(want) : podNameOf(p) === want) matches.set(p.uuid, p)
    if (matches.size === 1) return [...matches.values()][0]!
    if (matches.size === 0) {
      throw new RktError(`no matches found for ${JSON.stringify(want)}`, {
        code: 'ENOPOD',
        hint: 'see the pods and their names with: rkt list --fields=uuid,name,state',
      })
    }
    throw new RktError(`UUID ${arg} is ambiguous: ${[...matches.keys()].join(', ')}`, {
      code: 'EAMBIGUOUS',
      hint: 'give more of the UUID',
    })
  }
}

/** One pod, as found on disk at some moment (its state may move on: always be tolerant of that). */
export class Pod {
  /** Held while this process owns a process-bound state (preparing, running-before-hand-off, deleting). */
  lock: FileLock | undefined

  constructor(
    readonly store: PodStore,
    readonly uuid: string,
    public dirState: PodDir,
    lock?: FileLock,
  ) {
    if (!isPodUuid(uuid)) throw new Error(`internal error: not a pod UUID: ${JSON.stringify(uuid)}`)
    this.lock = lock
  }

  get path(): string {
    return path.join(this.store.dir(this.dirState), this.uuid)
  }

  get paths(): PodPaths {
    return new PodPaths(this.path)
  }

  /** True when another process holds the pod's exclusive lock right now. */
  isLockedElsewhere(): boolean {
    if (this.lock) return false
    let probe: FileLock | undefined
    try {
      probe = FileLock.tryOnDir(this.path, false)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
    if (!probe) return true
    probe.release()
    return false
  }

  /** rkt's state string, sampled now. */
  state(): PodState {
    switch (this.dirState) {
      case 'embryo':
        return 'embryo'
      case 'prepare':
        return this.isLockedElsewhere() ? 'preparing' : 'aborted prepare'
      case 'prepared':
        return 'prepared'
      case 'run':
        return this.isLockedElsewhere() ? 'running' : 'exited'
      case 'exited-garbage':
        return this.isLockedElsewhere() ? 'exited deleting' : 'exited garbage'
      case 'garbage':
        return this.isLockedElsewhere() ? 'deleting' : 'garbage'
    }
  }

  /**
   * Finds the pod again after another process may have moved it (run-prepared, gc); false when it is gone.
   * Directories are probed in lifecycle order, so a pod renamed mid-probe is found in its later state.
   */
  refresh(): boolean {
    if (this.lock) return true
    const from = POD_DIRS.indexOf(this.dirState)
    for (const d of [...POD_DIRS.slice(from), ...POD_DIRS.slice(0, from)]) {
      if (fs.existsSync(path.join(this.store.dir(d), this.uuid))) {
        this.dirState = d
        return true
      }
    }
    return false
  }

  /** True once its stage1 has run the pod (of the state given, or its state now). */
  hasStarted(state = this.state()): boolean {
    return STATE_RULES[state].started
  }

  /** True when none of the pod's processes can be running (of the state given, or its state now). */
  isStopped(state = this.state()): boolean {
    return STATE_RULES[state].stopped
  }

  /** True once the pod can run no more: exited, or marked or being collected as garbage. */
  isFinished(): boolean {
    const s = this.state()
    return s === 'exited' || s === 'aborted prepare' || s === 'exited garbage' || s === 'garbage'
  }

  /** True once the stage1 says its supervisor is up (rkt's `rkt/supervisor-status -> ready` symlink). */
  isSupervisorReady(): boolean {
    try {
      return fs.readlinkSync(this.paths.supervisorStatus) === 'ready'
    } catch {
      return false
    }
  }

  /** Moves the pod to another state directory; ENOENT means somebody else moved it first. */
  move(to: PodDir): void {
    const from = this.path
    const dest = path.join(this.store.dir(to), this.uuid)
    fs.renameSync(from, dest)
    this.dirState = to
  }

  /** Takes the pod's lock (exclusive), without waiting: undefined when somebody holds it. */
  tryLock(): FileLock | undefined {
    const l = FileLock.tryOnDir(this.path, true)
    if (l) this.lock = l
    return l
  }

  /** Releases the lock if this process holds it. */
  unlock(): void {
    this.lock?.release()
    this.lock = undefined
  }

  /** Creation time: mtime of pod-created, else of the manifest (rkt's CreationTime). */
  creationTime(): Date | undefined {
    for (const f of [this.paths.created, this.paths.manifest]) {
      try {
        return fs.statSync(f).mtime
      } catch {
        // next
      }
    }
    return undefined
  }

  /** Start time: when stage1 wrote pid (or ppid), for pods that ran. */
  startTime(): Date | undefined {
    if (this.dirState !== 'run' && this.dirState !== 'exited-garbage' && this.dirState !== 'garbage') return undefined
    for (const f of [this.paths.pid, this.paths.ppid]) {
      try {
        return fs.statSync(f).mtime
      } catch {
        // next
      }
    }
    return undefined
  }

  /** When gc marked the pod (the ctime of its directory, renamed then). */
  gcMarkedTime(): Date | undefined {
    if (this.dirState !== 'exited-garbage' && this.dirState !== 'garbage') return undefined
    try {
      return fs.lstatSync(this.path).ctime
    } catch {
      return undefined
    }
  }
}
