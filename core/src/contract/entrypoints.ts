// The stage0 → stage1 interface (docs/stage1.md, after rkt's stage1 implementors guide): the annotations a
// stage1 image carries, the environment it receives, and the exact argv of each entrypoint. stage0 builds
// argv with the *Argv functions and stage1 reads them with the parse* functions, so both sides agree by
// construction. The order of flags and their gating by interface version follow rkt exactly.
import {BEHAVIOURS, SUPPORTS_ANNOTATION} from '@rkt/stage1-conformance/vocabulary'

import {UsageError} from '../errors.js'

/** Image manifest annotations of a stage1 image. */
export const ANNOTATION = {
  run: 'coreos.com/rkt/stage1/run',
  enter: 'coreos.com/rkt/stage1/enter',
  gc: 'coreos.com/rkt/stage1/gc',
  stop: 'coreos.com/rkt/stage1/stop',
  appAdd: 'coreos.com/rkt/stage1/app/add',
  appRm: 'coreos.com/rkt/stage1/app/rm',
  appStart: 'coreos.com/rkt/stage1/app/start',
  appStop: 'coreos.com/rkt/stage1/app/stop',
  attach: 'coreos.com/rkt/stage1/attach',
  /** Ours, not rkt's (rkt exported the pod's files itself): see exportArgv. */
  export: 'rkt-ts/stage1/export',
  interfaceVersion: 'coreos.com/rkt/stage1/interface-version',
  /** The behaviours the engine claims, comma-separated (SUPPORT_VOCABULARY); absent claims the required set. */
  supports: SUPPORTS_ANNOTATION,
} as const

/**
 * The support vocabulary, version 1: the behaviours an engine may claim in ANNOTATION.supports. The
 * conformance suite that tests them owns the list (@rkt/stage1-conformance/vocabulary); every engine must
 * hold the required ones and claims the optional ones it holds.
 */
export const SUPPORT_VOCABULARY = {
  required: BEHAVIOURS.filter((b) => b.required).map((b) => b.id),
  optional: BEHAVIOURS.filter((b) => !b.required).map((b) => b.id),
}

export type Behaviour = string

/** The entrypoints stage0 calls (rkt's argv: the *Argv functions below). */
export const ENTRYPOINTS = [
  'run',
  'enter',
  'gc',
  'stop',
  'export',
  'attach',
  'app/add',
  'app/start',
  'app/stop',
  'app/rm',
] as const
export type Entrypoint = (typeof ENTRYPOINTS)[number]

/** The annotation that names each entrypoint a stage1 image may have. */
export const ENTRYPOINT_ANNOTATIONS: Readonly<Record<string, string>> = {
  run: ANNOTATION.run,
  enter: ANNOTATION.enter,
  gc: ANNOTATION.gc,
  stop: ANNOTATION.stop,
  export: ANNOTATION.export,
  'app/add': ANNOTATION.appAdd,
  'app/rm': ANNOTATION.appRm,
  'app/start': ANNOTATION.appStart,
  'app/stop': ANNOTATION.appStop,
  attach: ANNOTATION.attach,
}

/** Environment variables of the contract. */
export const ENV = {
  /** The locked pod directory's descriptor: held by stage1 for the pod's whole life, never passed to apps. */
  lockFd: 'RKT_LOCK_FD',
  selinuxContext: 'RKT_SELINUX_CONTEXT',
  selinuxMountContext: 'RKT_SELINUX_MOUNT_CONTEXT',
  /**
   * The run entrypoint's: the data directory's `networks/`, where host-local IPAM keeps the leases of every pod
   * of that data directory (each `--dir` its own), so that no two of its pods get one address.
   */
  networksDir: 'RKT_NETWORKS_DIR',
} as const

/**
 * One network of the pod, as the engine records it in `net-info.json` (PodPaths.netInfo) after setting the
 * pod's networks up, and as `rkt list` and `rkt status` show it (rkt's v1.NetInfo).
 */
export interface NetInfo {
  netName: string
  /** The configuration file the network came from. */
  netConf: string
  pluginPath: string
  ifName: string
  ip: string
  args: string
  mask: string
}

/** Interface version of an image without the annotation (rkt: absent ⇒ 1). */
export const DEFAULT_INTERFACE_VERSION = 1

/** The values of --dns-conf-mode (rkt's names; docs/stage1.md "run"). */
export type ResolvMode = 'host' | 'stage0' | 'none' | 'default'
export type HostsMode = 'host' | 'stage0' | 'default'
export type IpcMode = 'auto' | 'private' | 'parent'

/** What the run entrypoint is told (rkt's run flags). */
export interface RunArgs {
  readonly uuid: string
  readonly debug: boolean
  /** --net value: `default`, `host`, `none`, `all`, or `n1:K=V;K2=V2,n2`. */
  readonly net: string
  readonly interactive: boolean
  readonly privateUsers?: string | undefined
  readonly mdsToken?: string | undefined
  readonly localConfig: string
  readonly hostname?: string | undefined
  readonly disableCapabilities: boolean
  readonly disablePaths: boolean
  readonly disableSeccomp: boolean
  readonly dnsConfMode: {readonly resolv: ResolvMode; readonly hosts: HostsMode}
  readonly mutable: boolean
  readonly ipc?: IpcMode | undefined
}

/** run entrypoint argv, in rkt's order, gated by the stage1's interface version. */
export function runArgv(a: RunArgs, iface: number, warn: (m: string) => void = () => {}): string[] {
  const out: string[] = []
  if (a.debug) out.push('--debug')
  out.push(`--net=${a.net}`)
  if (a.interactive) out.push('--interactive')
  if (a.privateUsers) out.push(`--private-users=${a.privateUsers}`)
  if (a.mdsToken) out.push(`--mds-token=${a.mdsToken}`)
  out.push(`--local-config=${a.localConfig}`)
  if (a.hostname) {
    if (iface >= 2) out.push(`--hostname=${a.hostname}`)
    else warn(`the stage1 (interface version ${iface}) does not support --hostname; ignoring it`)
  }
  if (iface >= 3) {
    if (a.disableCapabilities) out.push('--disable-capabilities-restriction')
    if (a.disablePaths) out.push('--disable-paths')
    if (a.disableSeccomp) out.push('--disable-seccomp')
  }
  if (iface >= 4 && (a.dnsConfMode.resolv !== 'default' || a.dnsConfMode.hosts !== 'default')) {
    out.push(`--dns-conf-mode=resolv=${a.dnsConfMode.resolv},hosts=${a.dnsConfMode.hosts}`)
  }
  if (a.mutable) {
    if (iface < 5) throw new UsageError(`the stage1 (interface version ${iface}) does not support mutable pods`)
    out.push('--mutable')
  }
  if (iface >= 6 && a.ipc) out.push(`--ipc=${a.ipc}`)
  out.push(a.uuid)
  return out
}

/** A parsed command line: flags by name (string values, or true for booleans) and positional arguments. */
export interface ParsedFlags {
  readonly flags: ReadonlyMap<string, string | true>
  readonly args: readonly string[]
}

/**
 * Parses argv the way Go's flag package does for rkt's entrypoints: `-x`/`--x`, `--x=v` or `--x v` for
 * value flags, `--b`/`--b=true|false` for booleans; stops at `--` or the first non-flag.
 */
export function parseFlags(argv: readonly string[], spec: Readonly<Record<string, 'bool' | 'string'>>): ParsedFlags {
  const flags = new Map<string, string | true>()
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      i++
      break
    }
    if (!a.startsWith('-') || a === '-') break
    const body = a.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq < 0 ? body : body.slice(0, eq)
    const kind = spec[name]
    if (kind === undefined) throw new UsageError(`unknown flag --${name}`)
    if (kind === 'bool') {
      const v = eq < 0 ? 'true' : body.slice(eq + 1)
      if (v !== 'true' && v !== 'false') throw new UsageError(`--${name}: "${v}" is not a boolean`)
      if (v === 'true') flags.set(name, true)
      else flags.delete(name)
    } else if (eq >= 0) {
      flags.set(name, body.slice(eq + 1))
    } else {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`--${name} needs a value`)
      flags.set(name, v)
    }
  }
  return {flags, args: argv.slice(i)}
}

const str = (p: ParsedFlags, name: string): string | undefined => {
  const v = p.flags.get(name)
  return typeof v === 'string' ? v : undefined
}

/** Reads the run entrypoint's argv (the stage1 side of runArgv). */
export function parseRunArgv(argv: readonly string[]): RunArgs {
  const p = parseFlags(argv, {
    debug: 'bool',
    net: 'string',
    interactive: 'bool',
    'private-users': 'string',
    'mds-token': 'string',
    'local-config': 'string',
    hostname: 'string',
    'disable-capabilities-restriction': 'bool',
    'disable-paths': 'bool',
    'disable-seccomp': 'bool',
    'dns-conf-mode': 'string',
    mutable: 'bool',
    ipc: 'string',
  })
  const uuid = p.args[0]
  if (!uuid) throw new UsageError('the pod UUID is missing (it is the last argument)')
  const dns = {resolv: 'default' as ResolvMode, hosts: 'default' as HostsMode}
  for (const kv of (str(p, 'dns-conf-mode') ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=')
    if (k === 'resolv' && (v === 'host' || v === 'stage0' || v === 'none' || v === 'default')) dns.resolv = v
    else if (k === 'hosts' && (v === 'host' || v === 'stage0' || v === 'default')) dns.hosts = v
    else throw new UsageError(`--dns-conf-mode: invalid "${kv}"`)
  }
  const ipc = str(p, 'ipc')
  if (ipc !== undefined && ipc !== 'auto' && ipc !== 'private' && ipc !== 'parent') {
    throw new UsageError(`--ipc: invalid "${ipc}"`)
  }
  return {
    uuid,
    debug: p.flags.has('debug'),
    net: str(p, 'net') ?? 'default',
    interactive: p.flags.has('interactive'),
    privateUsers: str(p, 'private-users'),
    mdsToken: str(p, 'mds-token'),
    localConfig: str(p, 'local-config') ?? '/etc/rkt',
    hostname: str(p, 'hostname'),
    disableCapabilities: p.flags.has('disable-capabilities-restriction'),
    disablePaths: p.flags.has('disable-paths'),
    disableSeccomp: p.flags.has('disable-seccomp'),
    dnsConfMode: dns,
    mutable: p.flags.has('mutable'),
    ipc,
  }
}

/** The environment variables of the app/* entrypoints (rkt's): the enter entrypoint's path and the pod's pid. */
export const APP_ENTRYPOINT_ENV = {enterCmd: 'RKT_STAGE1_ENTERCMD', enterPid: 'RKT_STAGE1_ENTERPID'} as const

/**
 * app/add, app/start, app/stop and app/rm entrypoint argv (rkt's): `--debug=BOOL [--uuid=UUID] --app=NAME`, the
 * UUID for app/add only. The working directory is the pod directory; the environment has PATH and
 * APP_ENTRYPOINT_ENV. Exit 0 once done (app/stop: once the app has exited).
 */
export function appArgv(a: {debug: boolean; uuid?: string | undefined; app: string}): string[] {
  return [`--debug=${a.debug}`, ...(a.uuid === undefined ? [] : [`--uuid=${a.uuid}`]), `--app=${a.app}`]
}

export function parseAppArgv(argv: readonly string[]): {debug: boolean; uuid?: string | undefined; app: string} {
  const p = parseFlags(argv, {debug: 'bool', uuid: 'string', app: 'string'})
  const app = str(p, 'app')
  if (!app) throw new UsageError('--app is required')
  return {debug: p.flags.has('debug'), uuid: str(p, 'uuid'), app}
}

/** enter entrypoint argv: `--pid=PID --appname=APP -- CMD ARGS…`. */
export function enterArgv(a: {pid: number; app: string; command: readonly string[]}): string[] {
  return [`--pid=${a.pid}`, `--appname=${a.app}`, '--', ...a.command]
}

export function parseEnterArgv(argv: readonly string[]): {pid: number; app: string; command: string[]} {
  const p = parseFlags(argv, {pid: 'string', appname: 'string', debug: 'bool'})
  const pid = Number(str(p, 'pid'))
  const app = str(p, 'appname')
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError('--pid: a process ID is required')
  if (!app) throw new UsageError('--appname is required')
  return {pid, app, command: [...p.args]}
}

/** gc entrypoint argv: `[--debug] [--local-config DIR] UUID` (the value is a separate word, as rkt passes it). */
export function gcArgv(a: {uuid: string; debug: boolean; localConfig: string}, iface: number): string[] {
  return [...(a.debug ? ['--debug'] : []), ...(iface >= 5 ? ['--local-config', a.localConfig] : []), a.uuid]
}

export function parseGcArgv(argv: readonly string[]): {uuid: string; debug: boolean; localConfig: string} {
  const p = parseFlags(argv, {debug: 'bool', 'local-config': 'string'})
  const uuid = p.args[0]
  if (!uuid) throw new UsageError('the pod UUID is missing')
  return {uuid, debug: p.flags.has('debug'), localConfig: str(p, 'local-config') ?? '/etc/rkt'}
}

/** stop entrypoint argv: `[--force] UUID`. */
export function stopArgv(a: {uuid: string; force: boolean}): string[] {
  return [...(a.force ? ['--force'] : []), a.uuid]
}

export function parseStopArgv(argv: readonly string[]): {uuid: string; force: boolean} {
  const p = parseFlags(argv, {force: 'bool', debug: 'bool'})
  const uuid = p.args[0]
  if (!uuid) throw new UsageError('the pod UUID is missing')
  return {uuid, force: p.flags.has('force')}
}

/** The streams `rkt attach --mode` names (rkt's: `tty`, `tty-in`, `tty-out`, or a subset of the three streams). */
export interface AttachArgs {
  readonly action: 'list' | 'auto-attach' | 'custom-attach'
  readonly app: string
  readonly debug: boolean
  /** custom-attach: the endpoints asked for. */
  readonly ttyIn?: boolean
  readonly ttyOut?: boolean
  readonly stdin?: boolean
  readonly stdout?: boolean
  readonly stderr?: boolean
}

const ATTACH_STREAMS = ['tty-in', 'tty-out', 'stdin', 'stdout', 'stderr'] as const
const camel = (s: string): 'ttyIn' | 'ttyOut' | 'stdin' | 'stdout' | 'stderr' =>
  s.replace(/-(.)/, (_, c: string) => c.toUpperCase()) as 'ttyIn'

/**
 * attach entrypoint argv, in rkt's order: `--action=ACTION [--tty-in=B --tty-out=B --stdin=B --stdout=B
 * --stderr=B] --app=NAME --debug=B` (the five booleans only with custom-attach). The working directory is the
 * pod directory; stdin, stdout and stderr are the user's.
 */
export function attachArgv(a: AttachArgs): string[] {
  const custom = a.action === 'custom-attach' ? ATTACH_STREAMS.map((s) => `--${s}=${a[camel(s)] === true}`) : []
  return [`--action=${a.action}`, ...custom, `--app=${a.app}`, `--debug=${a.debug}`]
}

export function parseAttachArgv(argv: readonly string[]): AttachArgs {
  const p = parseFlags(argv, {
    action: 'string',
    app: 'string',
    debug: 'bool',
    ...Object.fromEntries(ATTACH_STREAMS.map((s) => [s, 'bool' as const])),
  })
  const action = str(p, 'action')
  const app = str(p, 'app')
  if (action !== 'list' && action !== 'auto-attach' && action !== 'custom-attach')
    throw new UsageError(`--action must be list, auto-attach or custom-attach, not "${action ?? ''}"`)
  if (!app) throw new UsageError('--app is required')
  return {
    action,
    app,
    debug: p.flags.has('debug'),
    ...Object.fromEntries(ATTACH_STREAMS.map((s) => [camel(s), p.flags.has(s)])),
  }
}

/**
 * export entrypoint argv (optional; `rkt export` of an exited pod calls it when the stage1 names it, else
 * reads the app's rootfs itself): `--app=NAME --to=DIR`. The working directory is the pod directory; DIR is
 * an empty directory stage0 made (under the store's tmp), which the entrypoint fills with the app's rootfs as
 * the app left it: content, owners, modes, symlinks and times. Exit 0 on success; stage0 archives DIR.
 */
export function exportArgv(a: {app: string; to: string}): string[] {
  return [`--app=${a.app}`, `--to=${a.to}`]
}

export function parseExportArgv(argv: readonly string[]): {app: string; to: string} {
  const p = parseFlags(argv, {app: 'string', to: 'string', debug: 'bool'})
  const app = str(p, 'app')
  const to = str(p, 'to')
  if (!app) throw new UsageError('--app is required')
  if (!to) throw new UsageError('--to is required')
  return {app, to}
}
