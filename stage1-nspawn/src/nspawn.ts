// How `rkt run` becomes systemd-nspawn (stage1-nspawn/README.md "Process chain"): the command line, the
// environment it gets, and the state nspawn leaves on the host that gc may have to remove.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {
  DEFAULT_PATH,
  findHostTool,
  flock,
  formatIdRange,
  LOCK_EX,
  mount,
  MS,
  RktError,
  type IdRange,
} from '@rkt/core/stage1'
import {capNames} from '@rkt/stage1-supervisor/capabilities'

/** The pod's machine name: nspawn keys its host-side state by it, so each pod gets its own (rkt's name). */
export function machineName(uuid: string): string {
  return `rkt-${uuid}`
}

const PROPAGATE = '/run/systemd/nspawn/propagate'

/** statfs(2) f_type of the file systems systemd counts as temporary (its rm_rf empties only those). */
const TMPFS_MAGIC = 0x01021994
const RAMFS_MAGIC = 0x858458f6

/**
 * The directory nspawn makes for a machine and bind-mounts at /run/host/incoming (its route for `machinectl
 * bind`, adding mounts to a running container). nspawn removes it when the container ends; one killed with
 * SIGKILL leaves it behind for gc.
 */
export function propagateDir(uuid: string): string {
  return path.join(PROPAGATE, machineName(uuid))
}

/**
 * Puts nspawn's propagate directory on a tmpfs when it is not on one (a host whose /run is not a tmpfs), once
 * for every pod to come. nspawn removes a machine's directory at exit with a call that refuses to empty
 * anything on a disk file system: there it printed `Attempted to remove disk file system under
 * "/run/systemd/nspawn/propagate/…", and we can't allow that.` after every pod (no option silences it but
 * one that silences nspawn's real errors too). On a tmpfs, what it is on hosts with a tmpfs /run, nspawn's
 * own clean-up works and nothing is left. The tmpfs is shared, so mounts made under a machine's directory
 * reach the container's /run/host/incoming (the route needs that; on a private host root it had none).
 */
export function propagateOnTmpfs(): void {
  fs.mkdirSync(PROPAGATE, {recursive: true, mode: 0o700})
  // Two pods starting at once must not stack two tmpfs: the second would hide the first one's directory.
  const lock = fs.openSync(path.dirname(PROPAGATE), 'r')
  try {
    flock(lock, LOCK_EX)
    const type = fs.statfsSync(PROPAGATE).type
    if (type === TMPFS_MAGIC || type === RAMFS_MAGIC) return
    mount('tmpfs', PROPAGATE, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=0700,size=1m')
    mount(null, PROPAGATE, null, MS.SHARED)
  } finally {
    fs.closeSync(lock)
  }
}

/** What systemd-nspawn 252 leaves its container without --capability (measured on Debian 12). */
export const NSPAWN_DEFAULT_CAPS = 0xfcecafffn

/**
 * nspawn's --capability value: `all` under --insecure-options=capabilities, else the capabilities some app
 * keeps (its supervisor `caps` mask) beyond nspawn's own default set (empty: the flag is not needed).
 */
export function nspawnCapabilities(appCaps: readonly bigint[], disableCapabilities: boolean): string {
  if (disableCapabilities) return 'all'
  const wanted = appCaps.reduce((m, c) => m | c, 0n) & ~NSPAWN_DEFAULT_CAPS
  return capNames(wanted).join(',')
}

/**
 * How nspawn networks the pod: `host` shares the host's network; `private` is a loopback-only namespace of
 * nspawn's own (--net=none); a path is the namespace the CNI networks were set up in (contained networks).
 */
export type NspawnNet =
  {readonly kind: 'host'} | {readonly kind: 'private'} | {readonly kind: 'netns'; readonly path: string}

/**
 * The nspawn flags for the pod's network. A pod with private users cannot be given its CNI namespace: nspawn
 * joins it from inside the pod's user namespace, which has no rights over a namespace the host owns (EPERM).
 * nspawn is started inside it instead (nspawnCommand) and shares "its host's" network, that one.
 */
export function netArgs(net: NspawnNet, privateUsers?: IdRange): string[] {
  if (net.kind === 'private') return ['--private-network']
  if (net.kind === 'netns' && privateUsers === undefined) return [`--network-namespace-path=${net.path}`]
  return []
}

/** What the nspawn command line depends on. */
export interface NspawnArgs {
  readonly uuid: string
  readonly rootfs: string
  readonly net: NspawnNet
  readonly console: 'pipe' | 'interactive'
  /** --capability: `all`, or the names apps keep beyond nspawn's defaults, or empty for none. */
  readonly capabilities: string
  /** The supervisor's configuration, as a path inside the container. */
  readonly conf: string
  /** --private-users: the pod's ids on the host. */
  readonly privateUsers?: IdRange | undefined
  /** --bind=HOST:CONTAINER: host directories the pod's own processes write to (an app's kubernetes-log-dir). */
  readonly binds?: readonly (readonly [string, string])[] | undefined
  /** An app says READY=1: nspawn waits for the supervisor's (--notify-ready=yes) before telling its unit. */
  readonly notifyReady?: boolean | undefined
}

/**
 * The command line. --register=no --keep-unit: no machined, no scope (machines without systemd as PID 1).
 * --kill-signal=SIGTERM: nspawn asks the supervisor to stop with SIGTERM (its fan-out to the apps), not with
 * systemd's SIGRTMIN+3. --resolv-conf, --timezone and --link-journal off: nspawn would otherwise copy or link
 * host files into the stage1 rootfs, which no app sees (each app's /etc is its own). No --hostname: its rule refuses
 * names rkt accepted (custom_hostname_setting); the supervisor sets the pod's hostname from /etc/hostname.
 */
export function nspawnArgv(a: NspawnArgs): string[] {
  return [
    'systemd-nspawn',
    '--register=no',
    '--keep-unit',
    '-q',
    '--kill-signal=SIGTERM',
    `--console=${a.console}`,
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    `--machine=${machineName(a.uuid)}`,
    '-D',
    a.rootfs,
    ...netArgs(a.net, a.privateUsers),
    // The trees are already the range's (stage0's idmapped mounts): nspawn must not chown them.
    ...(a.privateUsers ? [`--private-users=${formatIdRange(a.privateUsers)}`, '--private-users-ownership=off'] : []),
    ...(a.capabilities === '' ? [] : [`--capability=${a.capabilities}`]),
    ...(a.binds ?? []).map(([host, inPod]) => `--bind=${host}:${inPod}`),
    ...(a.notifyReady ? ['--notify-ready=yes'] : []),
    '--',
    '/supervisor',
    a.conf,
  ]
}

/**
 * What to execve: nspawn itself, or nsenter joining the pod's CNI namespace first when nspawn cannot (see
 * netArgs). nsenter execs nspawn: the PID stays rkt run's, descriptors and environment pass unchanged.
 */
export function nspawnCommand(a: NspawnArgs, tools: {nspawn: string; nsenter: string}): {file: string; argv: string[]} {
  const argv = nspawnArgv(a)
  if (a.net.kind !== 'netns' || a.privateUsers === undefined) return {file: tools.nspawn, argv}
  return {file: tools.nsenter, argv: ['nsenter', `--net=${a.net.path}`, '--', tools.nspawn, ...argv.slice(1)]}
}

/** nsenter on PATH (what runs nspawn and sysctls inside a --private-users pod's CNI namespace). */
export function findNsenter(pathEnv: string | undefined): string {
  return requireTool('nsenter', pathEnv, 'the nspawn stage1 needs it for --private-users pods', {
    code: 'ENONSENTER',
    hint: 'install it (Debian: apt-get install util-linux)',
  })
}

/**
 * Lets every process of a --private-users pod bind ports below 1024 in its own CNI namespace: the kernel
 * asks for CAP_NET_BIND_SERVICE in the namespace's owner, the host's user namespace, which the pod's root
 * lacks (nspawn drops the capability from such a container). The namespace is the pod's alone.
 */
export function allowLowPorts(nsenter: string, netns: string): void {
  execFileSync(
    nsenter,
    [`--net=${netns}`, '--', 'sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
}

/** What nspawn's environment depends on. */
export interface NspawnEnv {
  readonly path: string | undefined
  readonly term: string | undefined
  /** How many descriptors (at 3, 4, …) nspawn passes on to the supervisor. */
  readonly listenFds: number
  /** This process's PID, which stays nspawn's after the exec. */
  readonly pid: number
  /** The unit's NOTIFY_SOCKET (Type=notify), where nspawn says READY=1: ours, passed on. */
  readonly notifySocket?: string | undefined
}

/**
 * nspawn's environment, made from scratch: nspawn reads many SYSTEMD_* variables that change what the
 * container gets, and a caller's environment must not pick them. LISTEN_FDS/LISTEN_PID: nspawn hands those
 * descriptors to the container's init (the supervisor) and keeps the others (the pod lock) to itself.
 * SYSTEMD_NSPAWN_LOCK=0: no lock files (`.#rootfs.lck` beside the rootfs, one in /run/systemd/nspawn/locks)
 * that a killed nspawn would leave behind; the pod lock already keeps a pod to one nspawn. SYSTEMD_SECCOMP=0:
 * seccomp is per app, the supervisor's filter (rkt's default or the app's isolators), which `rkt enter` applies
 * identically; nspawn's own whole-container filter would only sit under it, differ between the app and an
 * entered process, and costs ~70 ms per pod start (libseccomp compiling it for every architecture; bare nspawn
 * 92 ms → 20 ms here). NOTIFY_SOCKET, the unit's, is where nspawn says READY=1 (a Type=notify unit).
 */
export function nspawnEnv(e: NspawnEnv): Record<string, string> {
  return {
    PATH: e.path ?? DEFAULT_PATH,
    ...(e.term === undefined ? {} : {TERM: e.term}),
    ...(e.listenFds > 0 ? {LISTEN_FDS: String(e.listenFds), LISTEN_PID: String(e.pid)} : {}),
    ...(e.notifySocket === undefined ? {} : {NOTIFY_SOCKET: e.notifySocket}),
    SYSTEMD_NSPAWN_LOCK: '0',
    SYSTEMD_SECCOMP: '0',
  }
}

/** systemd-nspawn on PATH, or an error naming the Debian package that has it. */
export function findNspawn(pathEnv: string | undefined): string {
  return requireTool('systemd-nspawn', pathEnv, 'the nspawn stage1 runs each pod in it', {
    code: 'ENONSPAWN',
    hint: 'install it (Debian: apt-get install systemd-container), or choose another stage1 with --stage1-path',
  })
}

function requireTool(
  name: string,
  pathEnv: string | undefined,
  why: string,
  fix: {code: string; hint: string},
): string {
  const file = findHostTool(name, pathEnv ?? '/usr/bin:/bin')
  if (file !== undefined) return file
  throw new RktError(`${name} is not installed: ${why}`, fix)
}
