// The supervisor's configuration, <pod>/stage1/rootfs/rkt/supervisor.conf: NUL-terminated tokens, each key
// followed by exactly one value (the table in stage1-supervisor/README.md is the contract; the C side reads it in
// native/supervisor.c and native/enter.c). No escaping: a token holds any byte but NUL, so arguments with
// newlines or spaces pass as they are.
import fs from 'node:fs'

import {RktError, type ListenFds} from '@rkt/core/stage1'

import type {SeccompFilter} from './seccomp.js'

/** The format version this writer speaks (the `version` record). */
export const CONF_VERSION = 1

/** The default grace between the SIGTERM fan-out and SIGKILL, as rkt's stop gave apps. */
export const DEFAULT_GRACE_MS = 10_000

/** One app as the supervisor starts it. */
export interface AppConf {
  readonly name: string
  /** The app's root inside the container, e.g. /opt/stage2/<app>/rootfs. */
  readonly root: string
  /** argv; the first element is the executable, an absolute path inside the root. */
  readonly argv: readonly string[]
  /** NAME=value, the whole environment in order. */
  readonly env: readonly string[]
  readonly uid: number
  readonly gid: number
  readonly groups: readonly number[]
  readonly cwd: string
  readonly caps: bigint
  readonly noNewPrivs: boolean
  readonly seccomp: SeccompFilter
  readonly oomScoreAdj?: number | undefined
  /** Descriptors (as the container sees them) open for writing on the app's cgroup.procs, one per hierarchy. */
  readonly cgroupFds: readonly number[]
  /** Descriptors open for reading on the app's memory.oom_control (v1) or memory.events (v2). */
  readonly oomFds: readonly number[]
  readonly readonlyRootfs: boolean
  readonly maskPaths: boolean
  readonly interactive: boolean
  /** The app's CRI log file as the container sees it (README "Logs"); absent: stdout and stderr are the pod's. */
  readonly log?: string | undefined
  /** The attach endpoints' directory as the container sees it, and whether stdin is attachable too. */
  readonly attach?: {readonly dir: string; readonly stdin: boolean} | undefined
  /** The image says READY=1 itself: it gets a notification socket (README "systemd"). */
  readonly notify?: boolean | undefined
  /** The app gets the pod's listening sockets (SupervisorConf.listenFds). */
  readonly socketActivated?: boolean | undefined
  readonly preStart?: readonly string[] | undefined
  readonly postStop?: readonly string[] | undefined
}

export interface SupervisorConf {
  readonly graceMs: number
  /** A mutable pod: apps come and go through the control socket (README "Mutable pods"). */
  readonly mutable?: boolean | undefined
  /** The unit's listening sockets, the supervisor's descriptors 3 … 3+count-1 (before any cgroup descriptor). */
  readonly listenFds?: ListenFds | undefined
  readonly apps: readonly AppConf[]
}

const flag = (b: boolean): string => (b ? '1' : '0')

/** The records of the configuration, in the README's order: [key, value] pairs. */
export function confRecords(c: SupervisorConf): [string, string][] {
  const out: [string, string][] = [
    ['version', String(CONF_VERSION)],
    ['grace', String(c.graceMs)],
  ]
  if (c.mutable) out.push(['mutable', '1'])
  if (c.listenFds) out.push(['listen-fds', String(c.listenFds.count)])
  if (c.listenFds?.names !== undefined) out.push(['listen-fdnames', c.listenFds.names])
  return [...out, ...c.apps.flatMap(appRecords)]
}

/** One app's section. */
function appRecords(a: AppConf): [string, string][] {
  const out: [string, string][] = []
  out.push(['app', a.name], ['root', a.root])
  for (const arg of a.argv) out.push(['arg', arg])
  for (const e of a.env) out.push(['env', e])
  out.push(['uid', String(a.uid)], ['gid', String(a.gid)], ['groups', a.groups.join(',')], ['cwd', a.cwd])
  out.push(['caps', a.caps.toString(16)], ['no-new-privs', flag(a.noNewPrivs)], ['seccomp', a.seccomp.mode])
  if (a.seccomp.errno !== undefined) out.push(['seccomp-errno', String(a.seccomp.errno)])
  for (const s of a.seccomp.syscalls) out.push(['syscall', s])
  if (a.oomScoreAdj !== undefined) out.push(['oom-score-adj', String(a.oomScoreAdj)])
  for (const fd of a.cgroupFds) out.push(['cgroup-fd', String(fd)])
  for (const fd of a.oomFds) out.push(['oom-fd', String(fd)])
  out.push(['readonly-rootfs', flag(a.readonlyRootfs)], ['mask-paths', flag(a.maskPaths)])
  out.push(['interactive', flag(a.interactive)])
  if (a.log !== undefined) out.push(['log', a.log])
  if (a.attach) out.push(['attach', a.attach.dir], ['attach-stdin', flag(a.attach.stdin)])
  if (a.notify) out.push(['notify', '1'])
  if (a.socketActivated) out.push(['socket-activated', '1'])
  for (const arg of a.preStart ?? []) out.push(['pre-start', arg])
  for (const arg of a.postStop ?? []) out.push(['post-stop', arg])
  return out
}

/** The configuration as bytes: every token followed by a NUL. A NUL inside a value cannot be written. */
export function encodeConf(c: SupervisorConf): Buffer {
  return encodeRecords(confRecords(c))
}

function encodeRecords(records: readonly [string, string][]): Buffer {
  const parts: Buffer[] = []
  for (const [key, value] of records) {
    if (value.includes('\0')) {
      throw new RktError(`the ${key} "${value.replaceAll('\0', '\\0')}" of the pod contains a NUL byte`, {
        code: 'ECONF',
        hint: 'a program cannot receive an argument or variable with a NUL byte; remove it from the manifest',
      })
    }
    parts.push(Buffer.from(`${key}\0${value}\0`))
  }
  return Buffer.concat(parts)
}

/** Writes the configuration whole (temp file + rename), readable by root only: it holds the apps' environment. */
export function writeConf(file: string, c: SupervisorConf): void {
  writeWhole(file, encodeConf(c))
}

/**
 * Writes an app added to a mutable pod: `/rkt/supervisor.d/<app>.conf`, the version and the app's section. Its
 * cgroupFds and oomFds number the descriptors sent with the `add` request, from 3 in the order sent.
 */
export function writeAppConf(file: string, a: AppConf): void {
  writeWhole(file, encodeRecords([['version', String(CONF_VERSION)], ...appRecords(a)]))
}

function writeWhole(file: string, bytes: Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, bytes, {mode: 0o600})
  fs.renameSync(tmp, file)
}
