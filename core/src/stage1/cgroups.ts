// A pod's cgroups on the host, for every engine that gives its pods cgroups there (nspawn and fly; the layout
// is stage1-nspawn/README.md "Cgroups"). Per hierarchy used:
//
//   <own>/rkt/<uuid>/              the pod (pod-level limits)
//   <own>/rkt/<uuid>/rkt.stage1/   the engine's own processes (nspawn and the supervisor, fly-exec), on
//                                  cgroup v2 only (no processes in inner nodes)
//   <own>/rkt/<uuid>/<app>/        one per app, with its limits; the engine moves the app in
//
// <own> is the cgroup `rkt run` was started in, so a pod stays inside whatever its caller was confined to
// (a systemd unit, Nomad's task cgroup), as rkt's nspawn pods did with --keep-unit. Hierarchies: on cgroup v1
// those of memory, cpu and pids that are mounted; the cgroup2 hierarchy whenever it is mounted, on a hybrid
// host too, where it holds no resource controller but nspawn makes its own `payload`/`supervisor` cgroups in
// it (next to the process that starts it, so inside the pod's), and mirrors them into name=systemd, which
// then gets the pod's tree as well. Which mode the host has is read from
// /proc/self/mountinfo; every path lives under an injectable root, so that the unit tests run against fake
// cgroup trees.
//
// cgroup v2 is unit-tested against a fake tree only: the machines this was written on are cgroup v1 hybrid,
// so the v2 path is NOT verified end to end.
import fs from 'node:fs'
import path from 'node:path'

import type {Limits} from './limits.js'
import type {PodPaths} from '../contract/paths.js'

import {RktError} from '../errors.js'
import {readMountinfo} from '../sys/mounts.js'
import {cfsQuota, CFS_PERIOD_US} from './limits.js'

/** One cgroup hierarchy this engine puts pods in. */
export interface Hierarchy {
  readonly version: 1 | 2
  /** Where it is mounted (under the injected root). */
  readonly mount: string
  /** v1: the mount's controllers; v2: those its root offers (cgroup.controllers). */
  readonly controllers: readonly string[]
  /** The cgroup of this process in it, as a directory. */
  readonly own: string
}

export interface CgroupHost {
  readonly mode: 'v1' | 'v2' | 'hybrid' | 'none'
  readonly hierarchies: readonly Hierarchy[]
}

/** Where the host's cgroup facts come from; tests point all three at a fake tree. */
export interface CgroupSources {
  /** Prefix of every mount point (default: the real root). */
  readonly root?: string
  readonly mountinfo?: string
  readonly selfCgroup?: string
}

/** The v1 controllers whose hierarchies hold pods: limits (memory, cpu) and process tracking (pids). */
const V1_CONTROLLERS = ['memory', 'cpu', 'pids']

/** The v2 controllers a pod's cgroups enable for their children, where the parent offers them. */
const V2_CONTROLLERS = ['memory', 'cpu', 'pids']

/** The directory of the cgroup `cgroupPath` (from /proc/self/cgroup) in a hierarchy mounted at mount with root mountRoot. */
function cgroupDir(mount: string, mountRoot: string, cgroupPath: string): string {
  const rel = path.posix.relative(mountRoot, cgroupPath)
  // A cgroup outside what this mount shows (a bind of a subtree): not reachable, use the mount's top.
  return rel.startsWith('..') ? mount : path.join(mount, rel)
}

/** The host's cgroup mode and the hierarchies pods go in. */
export function detectCgroups(src: CgroupSources = {}): CgroupHost {
  const root = src.root ?? '/'
  const self = fs
    .readFileSync(src.selfCgroup ?? '/proc/self/cgroup', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, ctrls = '', ...rest] = l.split(':')
      return {controllers: ctrls.split(',').filter(Boolean), path: rest.join(':')}
    })
  const seen = new Set<string>()
  const hierarchies: Hierarchy[] = []
  let v1 = false
  let v2: {path: string} | undefined
  let named: {mount: string; root: string} | undefined
  // The first mount of each hierarchy is the host's own; later ones are binds of it (into pods, say).
  for (const m of readMountinfo(src.mountinfo)) {
    if (m.fsType === 'cgroup') {
      v1 = true
      const options = m.superOptions.split(',')
      if (options.includes('name=systemd')) named ??= {mount: path.join(root, m.mountPoint), root: m.root}
      const controllers = options.filter((o) => V1_CONTROLLERS.includes(o) || o === 'cpuacct')
      const key = controllers.sort().join(',')
      if (!controllers.some((c) => V1_CONTROLLERS.includes(c)) || seen.has(key)) continue
      seen.add(key)
      const own = self.find((s) => s.controllers.length > 0 && s.controllers.every((c) => controllers.includes(c)))
      const mount = path.join(root, m.mountPoint)
      hierarchies.push({version: 1, mount, controllers, own: cgroupDir(mount, m.root, own?.path ?? '/')})
    } else if (m.fsType === 'cgroup2' && v2 === undefined) {
      const mount = path.join(root, m.mountPoint)
      const ownPath = self.find((s) => s.controllers.length === 0)?.path ?? '/'
      v2 = {path: ownPath}
      let controllers: string[] = []
      try {
        controllers = fs
          .readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
      } catch {
        // an unreadable root offers nothing
      }
      hierarchies.push({version: 2, mount, controllers, own: cgroupDir(mount, m.root, ownPath)})
    }
  }
  // A hybrid host: nspawn mirrors its cgroup2 cgroup (with its payload/supervisor children) into the v1
  // name=systemd hierarchy, at the same path (its sync_cgroup), so the pod gets a tree there too.
  if (v1 && v2 && named) {
    hierarchies.push({
      version: 1,
      mount: named.mount,
      controllers: ['name=systemd'],
      own: cgroupDir(named.mount, named.root, v2.path),
    })
  }
  return {mode: v1 && v2 ? 'hybrid' : v1 ? 'v1' : v2 ? 'v2' : 'none', hierarchies}
}

/** The pod's directory in a hierarchy. */
export function podDir(h: Hierarchy, uuid: string): string {
  return path.join(h.own, 'rkt', uuid)
}

/** The cgroup of nspawn and the supervisor on cgroup v2 (and where nspawn mirrors it into name=systemd). */
const STAGE1_LEAF = 'rkt.stage1'

/** Where nspawn and the supervisor run: the pod's directory on v1, its rkt.stage1 leaf on v2. */
export function stage1Dir(h: Hierarchy, uuid: string): string {
  return h.version === 2 ? path.join(podDir(h, uuid), STAGE1_LEAF) : podDir(h, uuid)
}

/** An app's directory; `rkt.stage1` is not a valid app name (appc names have no dots), so they never clash. */
export function appDir(h: Hierarchy, uuid: string, app: string): string {
  return path.join(podDir(h, uuid), app)
}

/** The hierarchy whose cgroups enforce a controller: its v1 hierarchy if mounted, else cgroup v2 if offered. */
export function hierarchyFor(host: CgroupHost, controller: string): Hierarchy | undefined {
  return (
    host.hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller)) ??
    host.hierarchies.find((h) => h.version === 2 && h.controllers.includes(controller))
  )
}

/** mkdir -p that survives a concurrent gc removing the shared `rkt` parent in between (it retries once). */
function makeDir(dir: string): void {
  try {
    fs.mkdirSync(dir, {recursive: true, mode: 0o755})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    fs.mkdirSync(dir, {recursive: true, mode: 0o755})
  }
}

/** Creates the pod's cgroups (pod, apps, and the v2 stage1 leaf) in every hierarchy. */
export function createPodCgroups(host: CgroupHost, uuid: string, apps: readonly string[]): void {
  for (const h of host.hierarchies) {
    makeDir(stage1Dir(h, uuid))
    for (const app of apps) makeDir(appDir(h, uuid, app))
  }
}

/** Writes one cgroup knob, with the file named in the error. */
function writeKnob(dir: string, file: string, value: string): void {
  try {
    fs.writeFileSync(path.join(dir, file), value)
  } catch (err) {
    throw new RktError(`cannot set ${path.join(dir, file)} to ${value}`, {cause: err, code: 'ECGROUP'})
  }
}

/**
 * cgroup v2: enables the memory, cpu and pids controllers down to the pod's children, from the cgroup rkt
 * runs in. This is possible only once no process is left in a cgroup that gets children with controllers
 * (the "no internal processes" rule): call it after moving this process into the stage1 leaf. A controller
 * the caller's cgroup cannot delegate (it still holds other processes) stays off; limits then say so.
 */
function enableControllers(h: Hierarchy, uuid: string): void {
  for (const dir of [h.own, path.join(h.own, 'rkt'), podDir(h, uuid)]) {
    let offered: string[]
    try {
      offered = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/)
    } catch {
      return
    }
    // One controller per write, so that one refused leaves the others on; appending is no different from
    // writing on cgroupfs (each write is one command) and keeps every command in a plain file.
    for (const c of V2_CONTROLLERS.filter((c) => offered.includes(c))) {
      try {
        fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), `+${c}`, {flag: 'a'})
      } catch {
        // EBUSY: processes in `dir` (the caller's cgroup); the children go without this controller
      }
    }
  }
}

/**
 * Moves this process (the future nspawn, hence the supervisor and the apps) into the pod in every hierarchy,
 * then, on v2, enables the controllers the pod's children need.
 */
export function enterPodCgroups(host: CgroupHost, uuid: string, pid: number = process.pid): void {
  for (const h of host.hierarchies) writeKnob(stage1Dir(h, uuid), 'cgroup.procs', String(pid))
  for (const h of host.hierarchies) if (h.version === 2) enableControllers(h, uuid)
}

/** cgroup v2's cpu.weight (1..10000) for a v1 cpu.shares value (2..262144), the conversion runc and crun use. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142)
}

/**
 * Writes limits into a cgroup of the pod (`app` undefined: the pod's own). A limit whose controller is not
 * available is not silently dropped: `warn` names it.
 */
export function applyLimits(
  host: CgroupHost,
  uuid: string,
  app: string | undefined,
  limits: Limits,
  warn: (m: string) => void,
): void {
  const dirOf = (h: Hierarchy): string => (app === undefined ? podDir(h, uuid) : appDir(h, uuid, app))
  /** The directory to write `file` in, or undefined (and a warning) when the controller is not there. */
  const target = (controller: string, v1File: string, v2File: string, isolator: string): string | undefined => {
    const h = hierarchyFor(host, controller)
    const dir = h === undefined ? undefined : dirOf(h)
    if (h && dir && fs.existsSync(path.join(dir, h.version === 1 ? v1File : v2File))) return dir
    warn(`${isolator} ignored: no ${controller} cgroup controller for the pod on this host`)
    return undefined
  }
  const v2 = (controller: string): boolean => hierarchyFor(host, controller)?.version === 2
  if (limits.memory !== undefined) {
    const dir = target('memory', 'memory.limit_in_bytes', 'memory.max', 'resource/memory')
    if (dir) writeKnob(dir, v2('memory') ? 'memory.max' : 'memory.limit_in_bytes', String(limits.memory))
  }
  if (limits.cpuMilli !== undefined) {
    const dir = target('cpu', 'cpu.cfs_quota_us', 'cpu.max', 'resource/cpu')
    const quota = String(cfsQuota(limits.cpuMilli))
    if (dir && v2('cpu')) writeKnob(dir, 'cpu.max', `${quota} ${CFS_PERIOD_US}`)
    else if (dir) {
      writeKnob(dir, 'cpu.cfs_period_us', String(CFS_PERIOD_US))
      writeKnob(dir, 'cpu.cfs_quota_us', quota)
    }
  }
  if (limits.cpuShares !== undefined) {
    const dir = target('cpu', 'cpu.shares', 'cpu.weight', 'os/linux/cpu-shares')
    if (dir && v2('cpu')) writeKnob(dir, 'cpu.weight', String(sharesToWeight(limits.cpuShares)))
    else if (dir) writeKnob(dir, 'cpu.shares', String(limits.cpuShares))
  }
}

/** Descriptors the supervisor uses for an app: one on cgroup.procs per hierarchy, one to read OOM kills. */
export interface AppCgroupFds {
  readonly procs: readonly number[]
  readonly oom?: number
}

/** Opens the app's cgroup.procs in every hierarchy (write) and its OOM record (read), close-on-exec. */
export function openAppFds(host: CgroupHost, uuid: string, app: string): AppCgroupFds {
  const procs = host.hierarchies.map((h) => fs.openSync(path.join(appDir(h, uuid, app), 'cgroup.procs'), 'w'))
  const mem = hierarchyFor(host, 'memory')
  const oomFile = mem && path.join(appDir(mem, uuid, app), mem.version === 1 ? 'memory.oom_control' : 'memory.events')
  return oomFile && fs.existsSync(oomFile) ? {procs, oom: fs.openSync(oomFile, 'r')} : {procs}
}

/** Records the pod's cgroup directories (one per line) for stop and gc, which run in other processes. */
export function recordPodCgroups(file: string, host: CgroupHost, uuid: string): void {
  fs.writeFileSync(file, host.hierarchies.map((h) => `${podDir(h, uuid)}\n`).join(''), {mode: 0o644})
}

/**
 * The pod's cgroup directories as recorded, each checked to be `…/rkt/<uuid>` inside one of this host's
 * hierarchies: the file lives in the pod directory, and gc kills and removes whatever it names.
 */
export function readPodCgroups(file: string, host: CgroupHost, uuid: string, warn: (m: string) => void): string[] {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return [] // the pod never got as far as making cgroups
  }
  return text
    .split('\n')
    .filter(Boolean)
    .filter((d) => {
      const ok =
        path.isAbsolute(d) &&
        path.resolve(d) === d &&
        path.basename(d) === uuid &&
        path.basename(path.dirname(d)) === 'rkt' &&
        host.hierarchies.some((h) => d.startsWith(`${h.mount}/`))
      if (!ok) warn(`ignoring ${JSON.stringify(d)} in ${file}: not a cgroup of this pod`)
      return ok
    })
}

/** The pod's cgroup directories as its run entrypoint recorded them in the pod (readPodCgroups, on this host). */
export function recordedPodCgroups(paths: PodPaths, uuid: string, warn: (m: string) => void): string[] {
  return readPodCgroups(paths.cgroups, detectCgroups(), uuid, warn)
}

/**
 * The host's hierarchies as the pod's run entrypoint saw them: its `own` cgroups are where it made the pod's
 * (recorded in the pod). Entrypoints that add to a running pod (app/add) run from another process, whose own
 * cgroups may be elsewhere, and make the app's cgroups beside the others with this.
 */
export function recordedCgroupHost(paths: PodPaths, uuid: string, warn: (m: string) => void): CgroupHost {
  const host = detectCgroups()
  const recorded = readPodCgroups(paths.cgroups, host, uuid, warn)
  const hierarchies = host.hierarchies.flatMap((h) => {
    const dir = recorded.find((d) => d.startsWith(`${h.mount}/`))
    return dir === undefined ? [] : [{...h, own: path.dirname(path.dirname(dir))}]
  })
  return {...host, hierarchies}
}

/** The apps' cgroups under the pod's directories (every child cgroup but the stage1's). */
export function appCgroups(podDirs: readonly string[]): string[] {
  return podDirs.flatMap((d) => {
    try {
      return fs
        .readdirSync(d, {withFileTypes: true})
        .filter((e) => e.isDirectory() && e.name !== STAGE1_LEAF)
        .map((e) => path.join(d, e.name))
    } catch {
      return []
    }
  })
}

/** Every cgroup directory at or below dir, deepest first. */
function cgroupTree(dir: string): string[] {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, {withFileTypes: true})
  } catch {
    return []
  }
  return [...entries.filter((e) => e.isDirectory()).flatMap((e) => cgroupTree(path.join(dir, e.name))), dir]
}

/** The processes in a cgroup tree. */
function processesIn(dir: string): number[] {
  return cgroupTree(dir).flatMap((d) => {
    try {
      return fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
    } catch {
      return []
    }
  })
}

/** Sends a signal to every process in these cgroups and below (not to this process, should it be in one). */
export function signalCgroups(dirs: readonly string[], signal: NodeJS.Signals): number[] {
  const pids = dirs.flatMap(processesIn).filter((p) => p !== process.pid)
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // exited meanwhile
    }
  }
  return pids
}

/**
 * Kills every process in these cgroups and below: all of a pod's (a pod whose nspawn was SIGKILLed leaves
 * its supervisor and apps running), or its apps'. Repeated until the cgroups are empty, for processes forked
 * in between; cgroup.kill (cgroup v2, Linux 5.14) does it in one write where it exists. Returns the
 * processes still there after `waitMs`.
 */
export async function killPod(dirs: readonly string[], waitMs = 2000): Promise<number[]> {
  const deadline = Date.now() + waitMs
  for (;;) {
    for (const d of dirs) {
      try {
        fs.writeFileSync(path.join(d, 'cgroup.kill'), '1', {flag: 'r+'})
      } catch {
        // cgroup v1, or an older kernel: signalCgroups does it one by one
      }
    }
    const pids = signalCgroups(dirs, 'SIGKILL')
    if (pids.length === 0 || Date.now() > deadline) return pids
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Removes the pod's cgroup trees, deepest first (a cgroup goes only once empty of processes and children),
 * and the shared `rkt` parent when no other pod uses it. Returns the directories still there.
 */
export async function removePodCgroups(dirs: readonly string[]): Promise<string[]> {
  const left: string[] = []
  for (const dir of dirs) {
    for (const d of cgroupTree(dir)) {
      // A killed process leaves its cgroup a moment after the signal: retry for a while.
      for (let i = 0; ; i++) {
        try {
          fs.rmdirSync(d)
          break
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if (code === 'ENOENT') break
          if (code !== 'EBUSY' || i >= 250) {
            left.push(d)
            break
          }
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    }
    try {
      fs.rmdirSync(path.dirname(dir))
    } catch {
      // another pod's cgroups are there, or it is gone already
    }
  }
  return left
}

/** What gc found of a pod's cgroups (collectPodCgroups), for releasePodCgroups once the rest is undone. */
export interface PodCgroupsGc {
  readonly dirs: readonly string[]
  /** Processes still there after the kill: they keep their cgroups from going. */
  readonly survivors: readonly number[]
}

/**
 * gc's first step for an engine that gives pods cgroups: the cgroups the pod recorded (readPodCgroups) and
 * every process in them killed (a killed engine can leave a pod's processes running), waiting up to 10 s
 * for them to go (SIGKILLed processes die; a loaded machine may take its time).
 */
export async function collectPodCgroups(
  paths: PodPaths,
  uuid: string,
  warn: (m: string) => void,
): Promise<PodCgroupsGc> {
  const dirs = recordedPodCgroups(paths, uuid, warn)
  const survivors = await killPod(dirs, 10_000)
  if (survivors.length > 0) warn(`processes of pod ${uuid} would not die: ${survivors.join(' ')}`)
  return {dirs, survivors}
}

/**
 * gc's last step: removes the pod's cgroups. Those still there fail gc, so that stage0 keeps the pod, and
 * with it the record of them, for the next gc.
 */
export async function releasePodCgroups(gc: PodCgroupsGc): Promise<void> {
  const left = await removePodCgroups(gc.dirs)
  if (left.length === 0) return
  throw new RktError(`cannot remove the cgroups ${left.join(', ')}`, {
    code: 'EBUSY',
    hint: `processes of the pod are still in them (${gc.survivors.join(' ') || 'exiting'}); the next rkt gc tries again`,
  })
}
