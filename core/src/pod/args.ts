// The command line of `rkt run`, `rkt prepare` and `rkt run-prepared` (rkt/run.go, rkt/prepare.go,
// rkt/run_prepared.go, rkt/cli_apps.go parseApps, common/apps/apps.go).
//
// run and prepare take `[flags] IMAGE [per-app flags] [-- ARGS… [---]] [IMAGE …]`: per-app flags apply to the
// image before them, "--" starts that image's arguments and a lone "---" ends them. Pod-level and global flags
// may appear anywhere outside app arguments (rkt hands every word between images to one flag set, so
// `rkt run IMAGE --net=host` works; reference/rkt.md's "must precede the first image" is stricter than rkt).
// Flags take `--x=v` or `--x v`; booleans `--b` or `--b=BOOL` (Go's strconv.ParseBool spellings); `--net`
// alone means `default` and never takes the next word. run-prepared takes its flags anywhere and one UUID.
//
// Everything here is a pure function of argv: files named by flags are read later (manifest.ts).
import type {PullPolicy} from '../fetch/index.js'
import type {Quantity, Volume} from '../schema/index.js'
import type {IpcMode} from '../stage1/contract.js'
import type {DnsConfig} from './dns.js'

import {UsageError} from '../errors.js'
import {SchemaError, parseQuantity, validateACIdentifier, validateACName} from '../schema/index.js'
import {parseDnsFlags} from './dns.js'

/** The three commands this parser serves. */
export type RunCommand = 'run' | 'prepare' | 'run-prepared'

/** An environment variable or any other NAME=VALUE pair. */
export interface EnvVar {
  readonly name: string
  readonly value: string
}

/** A name and a value, as annotations are written. */
export interface NameValue {
  readonly name: string
  readonly value: string
}

/** `--mount volume=V,target=PATH`: binds pod volume V at PATH inside an app. */
export interface MountFlag {
  readonly volume: string
  /** As typed: rkt accepts a relative target (`target=dir1`), meaning a path below the app's root. */
  readonly path: string
}

/** `--port=NAME:[HOSTIP:]HOSTPORT`. */
export interface PortFlag {
  readonly name: string
  readonly hostPort: number
  /** An IPv4 literal; absent means every address. */
  readonly hostIP?: string
}

/** One network of `--net=n1[:K=V;K2=V2],n2`. */
export interface NetEntry {
  readonly name: string
  /** The CNI_ARGS part after ":", absent when none was given. */
  readonly args?: string
}

/** How the user chose the stage1 image; `--stage1-image` is our spelling of `--stage1-path`. */
export type Stage1Kind = 'url' | 'path' | 'name' | 'hash' | 'from-dir'

export interface Stage1Flag {
  readonly kind: Stage1Kind
  readonly location: string
  /** The flag as written, without dashes, e.g. `stage1-image`. */
  readonly flag: string
}

/** `--seccomp mode=retain|remove[,errno=E],syscall,@set…`. */
export interface SeccompFlag {
  readonly mode: 'retain' | 'remove'
  readonly errno?: string
  readonly set: readonly string[]
}

/** One image of the command line and the per-app flags that followed it. */
export interface AppFlags {
  /** The image string as typed: hash, path, URL or name (resolved by the caller). */
  readonly image: string
  /** Words after "--"; appended to the exec (the image's, or --exec). */
  readonly args: readonly string[]
  readonly signature?: string
  /** Replaces the whole exec line with this one word (rkt does not split it); the args follow. */
  readonly exec?: string
  readonly workingDir?: string
  readonly readOnlyRootFS: boolean
  /** Mounts for this app only; they win over pod-level mounts at the same path. */
  readonly mounts: readonly MountFlag[]
  readonly user?: string
  readonly group?: string
  /** Replaces the image's list; repeated flags add up. */
  readonly supplementaryGIDs?: readonly number[]
  readonly name?: string
  /** Runtime app annotations; a repeated name keeps its first position and takes the last value. */
  readonly annotations: readonly NameValue[]
  /** When given, replaces the image's userAnnotations entirely (rkt does not merge). */
  readonly userAnnotations?: Readonly<Record<string, string>>
  /** When given, replaces the image's userLabels entirely (rkt does not merge). */
  readonly userLabels?: Readonly<Record<string, string>>
  /** `--environment`; a repeated name keeps its first position and takes the last value. */
  readonly environment: readonly EnvVar[]
  /** resource/memory request and limit; at least 4096 bytes. */
  readonly memory?: Quantity
  /** resource/cpu request and limit. */
  readonly cpu?: Quantity
  readonly cpuShares?: number
  readonly capsRetain?: readonly string[]
  readonly capsRemove?: readonly string[]
  readonly seccomp?: SeccompFlag
  readonly oomScoreAdj?: number
}

/** rkt's global flags, as raw values (the caller resolves directories and insecure options). */
export interface GlobalFlagValues {
  readonly dir?: string
  readonly localConfig?: string
  readonly systemConfig?: string
  readonly userConfig?: string
  readonly debug: boolean
  /** Every --insecure-options value in order (rkt accumulates them). */
  readonly insecureOptions: readonly string[]
  readonly trustKeysFromHttps: boolean
}

/** Pod-level flags of run and prepare (flags a command lacks keep their defaults). */
export interface PodFlags {
  readonly stage1?: Stage1Flag
  /** Empty when --net was not given: the stage1 gets `--net=default`. */
  readonly net: readonly NetEntry[]
  readonly ports: readonly PortFlag[]
  readonly dns: DnsConfig
  readonly hostname?: string
  readonly inheritEnv: boolean
  readonly setEnv: readonly EnvVar[]
  /** --set-env-file paths in order; read with loadEnvFiles (manifest.ts). */
  readonly setEnvFiles: readonly string[]
  /** After --store-only (never) and --no-store (update). */
  readonly pullPolicy: PullPolicy
  readonly podManifest?: string
  readonly volumes: readonly Volume[]
  /** --mount flags given before the first image: they apply to every app. */
  readonly mounts: readonly MountFlag[]
  readonly noOverlay: boolean
  readonly privateUsers: boolean
  readonly interactive: boolean
  readonly mdsRegister: boolean
  readonly uuidFileSave?: string
  readonly ipc?: IpcMode
  /** prepare only: print nothing but the UUID. */
  readonly quiet: boolean
}

/** The parsed command line of run or prepare. */
export interface RunArgs {
  readonly command: 'run' | 'prepare'
  /** --help/-h was given: nothing else was checked. */
  readonly help: boolean
  readonly globals: GlobalFlagValues
  readonly pod: PodFlags
  readonly apps: readonly AppFlags[]
  /** Deprecation notices to print (`--store-only is deprecated: …`). */
  readonly warnings: readonly string[]
}

/** The flags run-prepared takes (everything else was fixed by prepare). */
export interface RunPreparedFlags {
  readonly net: readonly NetEntry[]
  readonly dns: DnsConfig
  readonly hostname?: string
  readonly interactive: boolean
  readonly mdsRegister: boolean
  readonly ipc?: IpcMode
}

/** The parsed command line of run-prepared. */
export interface RunPreparedArgs {
  readonly command: 'run-prepared'
  readonly help: boolean
  readonly globals: GlobalFlagValues
  /** The pod UUID (or a unique prefix), as typed; empty only with help. */
  readonly uuid: string
  readonly pod: RunPreparedFlags
  readonly warnings: readonly string[]
}

// ---------------------------------------------------------------------------------------------------------
// Value parsers shared with the formatters below (parse → format → parse round-trips).

const q = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s)

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false
  return undefined
}

/** Go's strconv.Atoi within the safe integer range; undefined when not a decimal integer. */
function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Go's strings.SplitN. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = []
  let rest = s
  while (out.length < n - 1) {
    const at = rest.indexOf(sep)
    if (at < 0) break
    out.push(rest.slice(0, at))
    rest = rest.slice(at + sep.length)
  }
  out.push(rest)
  return out
}

function schemaProblem(err: unknown): string {
  if (err instanceof SchemaError) return err.message.replace(/^[^:]*: /, '')
  throw err
}

function checkACName(value: string, what: string, hint: string): void {
  try {
    validateACName(value)
  } catch (err) {
    throw new UsageError(`invalid ${what} ${q(value)}: ${schemaProblem(err)}`, {hint})
  }
}

function checkACIdentifier(value: string, what: string, hint: string): void {
  try {
    validateACIdentifier(value)
  } catch (err) {
    throw new UsageError(`invalid ${what} ${q(value)}: ${schemaProblem(err)}`, {hint})
  }
}

/** appc's environment variable names (schema/types/environment.go). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z_0-9.-]*$/

/** Splits `NAME=VALUE` for --set-env/--environment; the name must be a valid environment variable name. */
export function parseEnvAssignment(s: string, flag = 'set-env'): EnvVar {
  const eq = s.indexOf('=')
  if (eq < 0) {
    throw new UsageError(`--${flag} ${q(s)} must be specified as NAME=VALUE`, {hint: `e.g. --${flag}=LOG_LEVEL=debug`})
  }
  const name = s.slice(0, eq)
  if (!ENV_NAME_PATTERN.test(name)) {
    throw new UsageError(`--${flag}: ${q(name)} is not a valid environment variable name`, {
      hint: 'names are letters, digits, "_", "." and "-", not starting with a digit',
    })
  }
  return {name, value: s.slice(eq + 1)}
}

/** Writes an environment variable back as `NAME=VALUE`. */
export function formatEnvAssignment(e: EnvVar): string {
  return `${e.name}=${e.value}`
}

const VOLUME_HINT = 'e.g. --volume=data,kind=host,source=/srv/data,readOnly=true or --volume=scratch,kind=empty'
const VOLUME_KEYS = ['name', 'kind', 'source', 'readOnly', 'recursive', 'mode', 'uid', 'gid'] as const
type VolumeKey = (typeof VOLUME_KEYS)[number]

/**
 * Parses a --volume value, `NAME,kind=host,source=/abs[,readOnly=BOOL][,recursive=BOOL]` or
 * `NAME,kind=empty[,mode=0755][,uid=N][,gid=N][,readOnly=BOOL]` (appc's VolumeFromString): commas separate
 * parameters, so values cannot contain one; a value may contain "=". Empty volumes get mode 0755, uid 0, gid 0.
 */
export function parseVolumeFlag(s: string): Volume {
  const bad = (problem: string): UsageError => new UsageError(`--volume ${q(s)}: ${problem}`, {hint: VOLUME_HINT})
  const params = new Map<VolumeKey, string>()
  for (const part of `name=${s}`.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) throw bad(`parameter ${q(part)} has no value`)
    const key = part.slice(0, eq)
    if (!(VOLUME_KEYS as readonly string[]).includes(key)) throw bad(`unknown volume parameter ${q(key)}`)
    if (params.has(key as VolumeKey)) throw bad(`parameter ${q(key)} is given more than once`)
    params.set(key as VolumeKey, part.slice(eq + 1))
  }
  const name = params.get('name') ?? ''
  checkACName(name, 'volume name', VOLUME_HINT)
  const bool = (key: 'readOnly' | 'recursive'): {readOnly?: boolean; recursive?: boolean} => {
    const raw = params.get(key)
    if (raw === undefined) return {}
    const value = parseGoBool(raw)
    if (value === undefined) throw bad(`${key}=${q(raw)} is not a boolean (true or false)`)
    return {[key]: value}
  }
  const flags = {...bool('readOnly'), ...bool('recursive')}
  const kind = params.get('kind')
  if (kind === 'host') {
    const source = params.get('source') ?? ''
    if (source === '') throw bad('a host volume needs source=/absolute/host/path')
    if (!source.startsWith('/')) throw bad(`source ${q(source)} must be an absolute path`)
    for (const key of ['mode', 'uid', 'gid'] as const) {
      if (params.has(key)) throw bad(`${key} cannot be set for a host volume (only empty volumes have it)`)
    }
    return {name, kind, source, ...flags}
  }
  if (kind === 'empty') {
    if (params.has('source')) throw bad('source cannot be set for an empty volume')
    const mode = params.get('mode') ?? '0755'
    if (!/^[0-7]{3,4}$/.test(mode)) throw bad(`mode=${q(mode)} is not an octal permission like 0755`)
    const id = (key: 'uid' | 'gid'): number => {
      const raw = params.get(key)
      if (raw === undefined) return 0
      const n = parseGoInt(raw)
      if (n === undefined || n < 0 || n > 2 ** 32 - 1) throw bad(`${key}=${q(raw)} is not a numeric ID`)
      return n
    }
    return {name, kind, mode, uid: id('uid'), gid: id('gid'), ...flags}
  }
  throw bad(kind === undefined ? 'kind= is missing (host or empty)' : `kind=${q(kind)} is not host or empty`)
}

/** Writes a volume back as a --volume value (defaults of empty volumes left out, as appc's Volume.String). */
export function formatVolumeFlag(v: Volume): string {
  const parts = [v.name, `kind=${v.kind}`]
  if (v.kind === 'host') parts.push(`source=${v.source}`)
  if (v.readOnly !== undefined) parts.push(`readOnly=${v.readOnly}`)
  if (v.recursive !== undefined) parts.push(`recursive=${v.recursive}`)
  if (v.kind === 'empty') {
    if (v.mode !== '0755') parts.push(`mode=${v.mode}`)
    if (v.uid !== 0) parts.push(`uid=${v.uid}`)
    if (v.gid !== 0) parts.push(`gid=${v.gid}`)
  }
  for (const p of parts.slice(1)) {
    if (p.includes(','))
      throw new UsageError(`cannot write ${q(p)} as a --volume parameter: it contains ","`, {hint: VOLUME_HINT})
  }
  return parts.join(',')
}

const MOUNT_HINT = 'e.g. --mount volume=data,target=/var/lib/data'

/**
 * Parses a --mount value, `volume=V,target=PATH`. As in rkt, the value is read as a URL query with "," for
 * "&": `%XX` escapes and "+" (a space) are decoded, so a target may hold a comma as `%2C`.
 */
export function parseMountFlag(s: string): MountFlag {
  const bad = (problem: string): UsageError => new UsageError(`--mount ${q(s)}: ${problem}`, {hint: MOUNT_HINT})
  const params = new Map<string, string>()
  for (const part of s.split(',')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    let key: string
    let value: string
    try {
      key = decodeQueryComponent(eq < 0 ? part : part.slice(0, eq))
      value = eq < 0 ? '' : decodeQueryComponent(part.slice(eq + 1))
    } catch {
      throw bad(`${q(part)} has a malformed %-escape`)
    }
    if (key !== 'volume' && key !== 'target') throw bad(`unknown mount parameter ${q(key)} (volume or target)`)
    if (params.has(key)) throw bad(`parameter ${q(key)} is given more than once`)
    params.set(key, value)
  }
  const volume = params.get('volume') ?? ''
  checkACName(volume, 'volume name in --mount', MOUNT_HINT)
  const path = params.get('target') ?? ''
  if (path === '') throw bad('target= is missing (where to mount the volume in the app)')
  if (path.includes('\0')) throw bad('target must not contain a NUL byte')
  return {volume, path}
}

function decodeQueryComponent(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '))
}

function encodeQueryComponent(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/')
}

/** Writes a mount back as a --mount value (the target %-escaped where needed). */
export function formatMountFlag(m: MountFlag): string {
  return `volume=${m.volume},target=${encodeQueryComponent(m.path)}`
}

const PORT_HINT = 'e.g. --port=http:8080 or --port=http:127.0.0.1:8080 (the name of a port in the image)'

/** Parses `NAME:[HOSTIP:]HOSTPORT` (rkt's portList; the host IP must be IPv4 because ":" separates fields). */
export function parsePortFlag(s: string): PortFlag {
  const bad = (problem: string): UsageError => new UsageError(`--port ${q(s)}: ${problem}`, {hint: PORT_HINT})
  const parts = splitN(s, ':', 3)
  if (parts.length < 2) throw bad('not in NAME:[HOSTIP:]HOSTPORT format')
  const [name = '', second = ''] = parts
  checkACName(name, 'port name', PORT_HINT)
  let portText = second
  let hostIP: string | undefined
  if (parts.length === 3) {
    hostIP = second
    portText = parts[2] ?? ''
    if (!isIPv4(hostIP)) throw bad(`${q(hostIP)} is not a valid IPv4 address`)
  }
  const hostPort = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN
  // rkt takes 0 too, which cannot be forwarded; refuse it here.
  if (!(hostPort >= 1 && hostPort <= 65535)) throw bad(`${q(portText)} is not a valid port number (1-65535)`)
  return hostIP === undefined ? {name, hostPort} : {name, hostPort, hostIP}
}

function isIPv4(s: string): boolean {
  const parts = s.split('.')
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)
}

/** Writes a port back as a --port value. */
export function formatPortFlag(p: PortFlag): string {
  return p.hostIP === undefined ? `${p.name}:${p.hostPort}` : `${p.name}:${p.hostIP}:${p.hostPort}`
}

const NET_HINT = 'e.g. --net=default, --net=host, --net=none or --net=mynet1:IP=10.1.2.3,mynet2'

/** Adds one --net value to the list (common.NetList.Set): names may not repeat, host and all take no args. */
function addNets(list: NetEntry[], value: string): void {
  for (const item of value.split(',')) {
    const parts = item.split(':')
    const name = parts[0] ?? ''
    const bad = (problem: string): UsageError => new UsageError(`--net ${q(value)}: ${problem}`, {hint: NET_HINT})
    if (name === '') throw bad('a network name must not be empty')
    if (list.some((n) => n.name === name)) throw bad(`network ${q(name)} is given more than once`)
    if (parts.length === 1) list.push({name})
    else if (parts.length === 2) {
      if (name === 'all' || name === 'host') throw bad(`the special network ${q(name)} takes no arguments`)
      list.push({name, args: parts[1] ?? ''})
    } else throw bad(`network ${q(name)} has more than one ":" (write arguments as K=V;K2=V2)`)
  }
}

/** The `--net=` value the stage1 gets: `default` when no --net was given. */
export function formatNetList(net: readonly NetEntry[]): string {
  if (net.length === 0) return 'default'
  return net.map((n) => (n.args === undefined ? n.name : `${n.name}:${n.args}`)).join(',')
}

const SECCOMP_HINT =
  'e.g. --seccomp mode=retain,errno=EPERM,@rkt/default-whitelist,chmod or --seccomp mode=remove,reboot'

/** Parses a --seccomp value (common/apps App.SeccompOverride): `mode=` and `errno=` anywhere, syscalls the rest. */
export function parseSeccompFlag(s: string): SeccompFlag {
  const bad = (problem: string): UsageError => new UsageError(`--seccomp ${q(s)}: ${problem}`, {hint: SECCOMP_HINT})
  let mode: string | undefined
  let errno: string | undefined
  const set: string[] = []
  for (const item of s.split(',')) {
    const kv = item.split('=')
    if (kv.length === 2) {
      const [key = '', value = ''] = kv
      if (key === 'mode') mode = value
      else if (key === 'errno') errno = value
      else throw bad(`unknown parameter ${q(key)} (mode or errno)`)
    } else if (kv.length > 2 || item === '') throw bad(`${q(item)} is not a syscall name`)
    else set.push(item)
  }
  if (mode !== 'retain' && mode !== 'remove') {
    throw bad(mode === undefined ? 'mode= is missing (retain or remove)' : `mode=${q(mode)} is not retain or remove`)
  }
  if (set.length === 0) throw bad('no syscalls given')
  if (errno !== undefined && errno !== '' && !/^E[\p{Lu}\p{N}]*$/u.test(errno)) {
    throw bad(`errno=${q(errno)} is not an errno name ("E" then upper-case letters or digits, e.g. EPERM)`)
  }
  return errno === undefined || errno === '' ? {mode, set} : {mode, errno, set}
}

/** Writes a seccomp override back as a --seccomp value. */
export function formatSeccompFlag(f: SeccompFlag): string {
  return [`mode=${f.mode}`, ...(f.errno === undefined ? [] : [`errno=${f.errno}`]), ...f.set].join(',')
}

function parseCapabilities(flag: string, s: string): string[] {
  const caps = s.split(',')
  for (const c of caps) {
    if (!/^[A-Za-z0-9_]+$/.test(c)) {
      throw new UsageError(`--${flag}: ${q(c)} is not a capability name`, {
        hint: `e.g. --${flag}=CAP_NET_ADMIN,CAP_SYS_TIME`,
      })
    }
  }
  return caps
}

// ---------------------------------------------------------------------------------------------------------
// The flag table.

type FlagKind = 'bool' | 'value' | 'optional' | 'bool-value'
type Scope = 'global' | 'pod' | 'app'

interface MutableApp {
  image: string
  args: string[]
  signature?: string
  exec?: string
  workingDir?: string
  readOnlyRootFS: boolean
  mounts: MountFlag[]
  user?: string
  group?: string
  supplementaryGIDs?: number[]
  name?: string
  annotations: Map<string, string>
  userAnnotations?: Map<string, string>
  userLabels?: Map<string, string>
  environment: Map<string, string>
  memory?: Quantity
  cpu?: Quantity
  cpuShares?: number
  capsRetain?: string[]
  capsRemove?: string[]
  seccomp?: SeccompFlag
  oomScoreAdj?: number
}

interface State {
  readonly command: RunCommand
  help: boolean
  globals: {
    dir?: string
    localConfig?: string
    systemConfig?: string
    userConfig?: string
    debug: boolean
    insecureOptions: string[]
    trustKeysFromHttps: boolean
  }
  stage1?: Stage1Flag
  net: NetEntry[]
  ports: PortFlag[]
  dns: {dns: string[]; dnsSearch: string[]; dnsOpt: string[]; dnsDomain?: string; hostsEntries: string[]}
  hostname?: string | undefined
  inheritEnv: boolean
  setEnv: Map<string, string>
  setEnvFiles: string[]
  pullPolicy: PullPolicy
  storeOnly: boolean
  noStore: boolean
  podManifest?: string | undefined
  volumes: Volume[]
  mounts: MountFlag[]
  noOverlay: boolean
  privateUsers: boolean
  interactive: boolean
  mdsRegister: boolean
  uuidFileSave?: string | undefined
  ipc?: IpcMode
  quiet: boolean
  apps: MutableApp[]
  positionals: string[]
  warnings: string[]
  /** Flags seen, for the --pod-manifest conflict check. */
  seen: Set<string>
}

interface FlagDef {
  readonly kind: FlagKind
  readonly scope: Scope
  readonly commands: readonly RunCommand[]
  /** For kind optional: the value of the bare flag. */
  readonly noOptValue?: string
  readonly deprecated?: string
  /** Example shown when an app flag comes before any image. */
  readonly example?: string
  readonly apply: (s: State, value: string, app: MutableApp | undefined) => void
}

const ALL: readonly RunCommand[] = ['run', 'prepare', 'run-prepared']
const RUN_PREPARE: readonly RunCommand[] = ['run', 'prepare']
const RUN_ONLY: readonly RunCommand[] = ['run']
const RUN_AND_PREPARED: readonly RunCommand[] = ['run', 'run-prepared']

const boolOf = (v: string): boolean => v === 'true'

function stage1Flag(kind: Stage1Kind, flag: string): FlagDef {
  return {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      if (s.stage1 !== undefined) {
        const hint =
          'choose the stage1 with one of --stage1-url, --stage1-path, --stage1-name, --stage1-hash, --stage1-from-dir'
        if (s.stage1.flag === flag) throw new UsageError(`--${flag} already used`, {hint})
        throw new UsageError(`flags --${flag} and --${s.stage1.flag} are mutually exclusive`, {hint})
      }
      if (v === '')
        throw new UsageError(`--${flag} needs a non-empty value`, {
          hint: `e.g. --${flag}=${kind === 'url' ? 'https://example.com/stage1.aci' : 'LOCATION'}`,
        })
      s.stage1 = {kind, location: v, flag}
    },
  }
}

function appFlag(example: string, apply: (a: MutableApp, v: string, s: State) => void): FlagDef {
  return {
    kind: 'value',
    scope: 'app',
    commands: RUN_PREPARE,
    example,
    apply: (s, v, app) => apply(app as MutableApp, v, s),
  }
}

function mapFlag(flag: string, key: 'annotations' | 'userAnnotations' | 'userLabels' | 'environment'): FlagDef {
  return appFlag(`--${flag}=NAME=VALUE`, (a, v) => {
    const eq = v.indexOf('=')
    if (eq < 0) {
      throw new UsageError(`invalid format of --${flag} flag ${q(v)}`, {hint: `write --${flag}=NAME=VALUE`})
    }
    const name = v.slice(0, eq)
    if (key === 'environment') parseEnvAssignment(v, flag)
    else if (key === 'annotations')
      checkACIdentifier(name, 'annotation name', 'e.g. --annotation=example.com/owner=ops')
    else if (name === '')
      throw new UsageError(`--${flag} ${q(v)}: the name is empty`, {hint: `write --${flag}=NAME=VALUE`})
    const map = (a[key] ??= new Map<string, string>())
    map.set(name, v.slice(eq + 1))
  })
}

function isolatorInt(flag: string, min: number, max: number, apply: (a: MutableApp, n: number) => void): FlagDef {
  return appFlag(`--${flag}=${min < 0 ? '-500' : '1024'}`, (a, v) => {
    const n = parseGoInt(v)
    if (n === undefined || n < min || n > max) {
      throw new UsageError(`--${flag}: ${q(v)} is not an integer between ${min} and ${max}`, {
        hint: `e.g. --${flag}=${min < 0 ? '-500' : '1024'}`,
      })
    }
    apply(a, n)
  })
}

const capsRetain = appFlag(
  '--caps-retain=CAP_NET_ADMIN',
  (a, v) => (a.capsRetain = parseCapabilities('caps-retain', v)),
)
const capsRemove = appFlag('--caps-remove=CAP_MKNOD', (a, v) => (a.capsRemove = parseCapabilities('caps-remove', v)))

const FLAGS: Readonly<Record<string, FlagDef>> = {
  // Global flags (rkt/rkt.go), accepted anywhere outside app arguments.
  dir: {kind: 'value', scope: 'global', commands: ALL, apply: (s, v) => (s.globals.dir = v)},
  'local-config': {kind: 'value', scope: 'global', commands: ALL, apply: (s, v) => (s.globals.localConfig = v)},
  'system-config': {kind: 'value', scope: 'global', commands: ALL, apply: (s, v) => (s.globals.systemConfig = v)},
  'user-config': {kind: 'value', scope: 'global', commands: ALL, apply: (s, v) => (s.globals.userConfig = v)},
  debug: {kind: 'bool', scope: 'global', commands: ALL, apply: (s, v) => (s.globals.debug = boolOf(v))},
  'insecure-options': {
    kind: 'value',
    scope: 'global',
    commands: ALL,
    apply: (s, v) => s.globals.insecureOptions.push(v),
  },
  'trust-keys-from-https': {
    kind: 'bool',
    scope: 'global',
    commands: ALL,
    apply: (s, v) => (s.globals.trustKeysFromHttps = boolOf(v)),
  },

  // Pod-level flags.
  'stage1-url': stage1Flag('url', 'stage1-url'),
  'stage1-path': stage1Flag('path', 'stage1-path'),
  'stage1-image': stage1Flag('path', 'stage1-image'),
  'stage1-name': stage1Flag('name', 'stage1-name'),
  'stage1-hash': stage1Flag('hash', 'stage1-hash'),
  'stage1-from-dir': stage1Flag('from-dir', 'stage1-from-dir'),
  net: {
    kind: 'optional',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    noOptValue: 'default',
    apply: (s, v) => addNets(s.net, v),
  },
  port: {kind: 'value', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => s.ports.push(parsePortFlag(v))},
  dns: {kind: 'value', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => s.dns.dns.push(v)},
  'dns-search': {kind: 'value', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => s.dns.dnsSearch.push(v)},
  'dns-opt': {kind: 'value', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => s.dns.dnsOpt.push(v)},
  'dns-domain': {kind: 'value', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => (s.dns.dnsDomain = v)},
  'hosts-entry': {kind: 'value', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => s.dns.hostsEntries.push(v)},
  hostname: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    apply: (s, v) => {
      // eslint-disable-next-line no-control-regex -- control characters are what is refused
      if (v.length > 64 || /[\s\u0000-\u001f\u007f]/.test(v)) {
        throw new UsageError(`--hostname ${q(v)} is not a valid host name`, {
          hint: 'at most 64 characters, without white space or control characters',
        })
      }
      s.hostname = v === '' ? undefined : v
    },
  },
  'inherit-env': {kind: 'bool', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => (s.inheritEnv = boolOf(v))},
  'set-env': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      const e = parseEnvAssignment(v, 'set-env')
      if (s.setEnv.has(e.name)) {
        throw new UsageError(`--set-env: ${q(e.name)} already set`, {hint: 'give each variable once'})
      }
      s.setEnv.set(e.name, e.value)
    },
  },
  'set-env-file': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      if (v === '') throw new UsageError('--set-env-file needs a file path', {hint: 'e.g. --set-env-file=/etc/app.env'})
      s.setEnvFiles.push(v)
    },
  },
  'pull-policy': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      if (v !== 'new' && v !== 'update' && v !== 'never') {
        throw new UsageError(`--pull-policy: ${q(v)} is not a pull policy`, {
          hint: 'new (fetch only what is missing, the default), update (always check remotely) or never (store only)',
        })
      }
      s.pullPolicy = v
    },
  },
  'store-only': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_PREPARE,
    deprecated: 'use --pull-policy=never',
    apply: (s, v) => (s.storeOnly = boolOf(v)),
  },
  'no-store': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_PREPARE,
    deprecated: 'use --pull-policy=update',
    apply: (s, v) => (s.noStore = boolOf(v)),
  },
  'pod-manifest': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => (s.podManifest = v || undefined),
  },
  volume: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      const vol = parseVolumeFlag(v)
      if (s.volumes.some((x) => x.name === vol.name)) {
        throw new UsageError(`duplicate volume name ${q(vol.name)}`, {hint: 'give each --volume its own name'})
      }
      s.volumes.push(vol)
    },
  },
  'no-overlay': {kind: 'bool', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => (s.noOverlay = boolOf(v))},
  'private-users': {kind: 'bool', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => (s.privateUsers = boolOf(v))},
  interactive: {kind: 'bool', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => (s.interactive = boolOf(v))},
  'mds-register': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    apply: (s, v) => (s.mdsRegister = boolOf(v)),
  },
  'uuid-file-save': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_ONLY,
    apply: (s, v) => (s.uuidFileSave = v || undefined),
  },
  ipc: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    apply: (s, v) => {
      if (v !== 'auto' && v !== 'private' && v !== 'parent') {
        throw new UsageError(`--ipc: ${q(v)} is not an IPC mode`, {
          hint: "auto (the stage1 decides), private (a new IPC namespace) or parent (the host's)",
        })
      }
      s.ipc = v
    },
  },
  quiet: {kind: 'bool', scope: 'pod', commands: ['prepare'], apply: (s, v) => (s.quiet = boolOf(v))},

  // --mount is per-app after an image and pod-wide before any (appMount).
  mount: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v, app) => (app ?? s).mounts.push(parseMountFlag(v)),
  },

  // Per-app flags (cli_apps.go).
  signature: appFlag('--signature=IMAGE.aci.asc', (a, v) => {
    if (a.signature !== undefined)
      throw new UsageError('--signature specified multiple times for the same image', {
        hint: 'give one --signature after each image: rkt run IMAGE1 --signature=S1 IMAGE2 --signature=S2',
      })
    a.signature = v
  }),
  exec: appFlag('--exec=/bin/sh', (a, v) => {
    if (a.exec !== undefined) {
      throw new UsageError('--exec specified multiple times for the same image', {
        hint: 'pass arguments after "--": rkt run IMAGE --exec=/bin/sh -- -c "echo hi"',
      })
    }
    if (v === '') throw new UsageError('--exec needs a command', {hint: 'e.g. --exec=/bin/sh'})
    a.exec = v
  }),
  'working-dir': appFlag('--working-dir=/srv', (a, v) => {
    if (!v.startsWith('/'))
      throw new UsageError(`--working-dir ${q(v)} must be an absolute path`, {hint: 'e.g. --working-dir=/srv'})
    a.workingDir = v
  }),
  'readonly-rootfs': {
    kind: 'bool-value',
    scope: 'app',
    commands: RUN_PREPARE,
    example: '--readonly-rootfs=true',
    apply: (_s, v, a) => ((a as MutableApp).readOnlyRootFS = boolOf(v)),
  },
  user: appFlag('--user=1000', (a, v) => {
    if (v === '') throw new UsageError('--user needs a user name, UID or path', {hint: 'e.g. --user=1000'})
    a.user = v
  }),
  group: appFlag('--group=1000', (a, v) => {
    if (v === '') throw new UsageError('--group needs a group name, GID or path', {hint: 'e.g. --group=1000'})
    a.group = v
  }),
  'supplementary-gids': appFlag('--supplementary-gids=1024,2048', (a, v) => {
    for (const part of v.split(',')) {
      const gid = parseGoInt(part)
      if (gid === undefined || gid < 0 || gid > 2 ** 32 - 1) {
        throw new UsageError(`--supplementary-gids must be integers, got ${q(part)}`, {
          hint: 'e.g. --supplementary-gids=1024,2048',
        })
      }
      ;(a.supplementaryGIDs ??= []).push(gid)
    }
  }),
  name: appFlag('--name=web', (a, v) => {
    checkACName(v, 'app name', 'app names are lower-case letters, digits and "-", e.g. --name=web-1')
    a.name = v
  }),
  annotation: mapFlag('annotation', 'annotations'),
  'user-annotation': mapFlag('user-annotation', 'userAnnotations'),
  'user-label': mapFlag('user-label', 'userLabels'),
  environment: mapFlag('environment', 'environment'),
  memory: appFlag('--memory=128M', (a, v) => {
    const quantity = quantityOf('memory', v)
    // rkt refuses anything under 4Ki: most likely "16m" (milli-bytes) typed for "16M".
    if (quantity.value < 4096n) {
      throw new UsageError(`memory limit of ${quantity.value} bytes too low`, {
        hint: 'try a reasonable value, such as --memory=16M (M is megabytes; m would be milli-bytes)',
      })
    }
    a.memory = quantity
  }),
  cpu: appFlag('--cpu=500m', (a, v) => {
    const quantity = quantityOf('cpu', v)
    if (quantity.milli <= 0n) throw new UsageError(`--cpu ${q(v)} must be positive`, {hint: 'e.g. --cpu=500m'})
    a.cpu = quantity
  }),
  'cpu-shares': isolatorInt('cpu-shares', 2, 262144, (a, n) => (a.cpuShares = n)),
  'oom-score-adj': isolatorInt('oom-score-adj', -1000, 1000, (a, n) => (a.oomScoreAdj = n)),
  'caps-retain': capsRetain,
  'caps-remove': capsRemove,
  'cap-retain': {...capsRetain, deprecated: 'use --caps-retain instead'},
  'cap-remove': {...capsRemove, deprecated: 'use --caps-remove instead'},
  seccomp: appFlag('--seccomp=mode=retain,@rkt/default-whitelist', (a, v) => (a.seccomp = parseSeccompFlag(v))),
}

// One line of help per flag, for `rkt run --help` and friends (global flags are listed by the CLI itself).
// Every non-global flag of FLAGS has an entry here; args.test.ts checks that the two tables agree.
const HELP: Readonly<Record<string, {readonly value?: string; readonly text: string}>> = {
  'stage1-url': {value: 'URL', text: 'stage1 image by URL (file:// only for now)'},
  'stage1-path': {value: 'PATH', text: 'stage1 image by file path (a bare file name is also looked up beside rkt)'},
  'stage1-image': {value: 'PATH', text: 'same as --stage1-path'},
  'stage1-name': {value: 'NAME[:VERSION]', text: 'stage1 image by name, from the store'},
  'stage1-hash': {value: 'ID', text: 'stage1 image by image ID, from the store'},
  'stage1-from-dir': {value: 'FILE', text: 'stage1 image file in the stage1 images directory'},
  net: {value: 'NET[:ARGS],…', text: 'networks to join: default, host, none, or CNI network names'},
  port: {value: 'NAME:[IP:]PORT', text: 'forward a host port to the app port named NAME'},
  dns: {value: 'IP|host|none', text: 'name servers for the pod (host copies the host resolv.conf)'},
  'dns-search': {value: 'DOMAIN', text: 'DNS search domain'},
  'dns-opt': {value: 'OPT', text: 'DNS resolver option'},
  'dns-domain': {value: 'DOMAIN', text: 'DNS domain'},
  'hosts-entry': {value: 'IP=HOST|host', text: 'an /etc/hosts entry (host copies the host file)'},
  hostname: {value: 'NAME', text: "the pod's host name (default rkt-UUID)"},
  'inherit-env': {text: "pass rkt's environment to the apps"},
  'set-env': {value: 'NAME=VALUE', text: 'set an environment variable in every app'},
  'set-env-file': {value: 'FILE', text: 'read NAME=VALUE lines for every app from FILE'},
  'pull-policy': {value: 'new|update|never', text: 'when to fetch images (never: store only)'},
  'store-only': {text: 'deprecated: --pull-policy=never'},
  'no-store': {text: 'deprecated: --pull-policy=update'},
  'pod-manifest': {value: 'FILE', text: 'run the pod this pod manifest describes, instead of IMAGE arguments'},
  volume: {value: 'NAME,kind=host|empty,…', text: 'declare a pod volume (host: source=PATH; readOnly=, recursive=)'},
  'no-overlay': {text: 'copy the images instead of mounting overlays'},
  'private-users': {text: 'run in a user namespace (engines that support it)'},
  interactive: {text: 'run one app with the terminal attached'},
  'mds-register': {text: 'register the pod with the metadata service'},
  'uuid-file-save': {value: 'FILE', text: "write the pod's UUID to FILE"},
  ipc: {value: 'auto|private|parent', text: 'IPC namespace of the pod'},
  quiet: {text: 'print nothing but the UUID'},
  mount: {
    value: 'volume=NAME,target=PATH',
    text: 'mount a volume in the app before it (in every app before any IMAGE)',
  },
  signature: {value: 'FILE', text: "the image's detached signature"},
  exec: {value: 'PATH', text: "run PATH instead of the image's exec"},
  'working-dir': {value: 'DIR', text: 'working directory of the app'},
  'readonly-rootfs': {value: 'BOOL', text: 'mount the app root read-only'},
  user: {value: 'UID|NAME|PATH', text: 'user the app runs as'},
  group: {value: 'GID|NAME|PATH', text: 'group the app runs as'},
  'supplementary-gids': {value: 'GID,…', text: 'supplementary groups (replaces the image list)'},
  name: {value: 'NAME', text: 'app name (default: from the image name)'},
  annotation: {value: 'NAME=VALUE', text: 'app annotation'},
  'user-annotation': {value: 'NAME=VALUE', text: 'user annotation (replaces the image ones)'},
  'user-label': {value: 'NAME=VALUE', text: 'user label (replaces the image ones)'},
  environment: {value: 'NAME=VALUE', text: 'environment variable of the app'},
  memory: {value: 'QUANTITY', text: 'memory limit, e.g. 128M'},
  cpu: {value: 'QUANTITY', text: 'CPU limit, e.g. 500m'},
  'cpu-shares': {value: 'N', text: 'CPU weight (2-262144)'},
  'oom-score-adj': {value: 'N', text: 'OOM score adjustment (-1000-1000)'},
  'caps-retain': {value: 'CAP,…', text: 'capabilities the app keeps'},
  'caps-remove': {value: 'CAP,…', text: 'capabilities the app loses'},
  'cap-retain': {value: 'CAP,…', text: 'deprecated: --caps-retain'},
  'cap-remove': {value: 'CAP,…', text: 'deprecated: --caps-remove'},
  seccomp: {value: 'mode=retain|remove,…', text: 'seccomp filter of the app'},
}

/** The names of the flags that have no help entry, or help entries with no flag (for the tests). */
export function helpTableMismatches(): string[] {
  const flags = Object.keys(FLAGS).filter((n) => FLAGS[n]!.scope !== 'global')
  return [...flags.filter((n) => !Object.hasOwn(HELP, n)), ...Object.keys(HELP).filter((n) => !flags.includes(n))]
}

/** One flag in a command's help. */
export interface FlagHelp {
  readonly name: string
  /** The value placeholder; absent for booleans. */
  readonly value?: string
  readonly text: string
  readonly scope: 'pod' | 'app'
}

/** The pod and per-app flags of a command, for its help (deprecated spellings left out). */
export function runFlagHelp(command: RunCommand): FlagHelp[] {
  const out: FlagHelp[] = []
  for (const [name, def] of Object.entries(FLAGS)) {
    if (def.scope === 'global' || !def.commands.includes(command) || def.deprecated !== undefined) continue
    const h = HELP[name]!
    out.push({
      name,
      ...(h.value === undefined ? {} : {value: h.value}),
      text: h.text,
      scope: name === 'mount' ? 'app' : def.scope,
    })
  }
  return out
}

function quantityOf(flag: string, v: string): Quantity {
  try {
    return parseQuantity(v, `--${flag}`)
  } catch (err) {
    throw new UsageError(`--${flag}: ${schemaProblem(err)}`, {
      hint: `e.g. --${flag}=${flag === 'cpu' ? '500m' : '128M'}`,
    })
  }
}

// ---------------------------------------------------------------------------------------------------------
// The parser.

function newState(command: RunCommand): State {
  return {
    command,
    help: false,
    globals: {debug: false, insecureOptions: [], trustKeysFromHttps: false},
    net: [],
    ports: [],
    dns: {dns: [], dnsSearch: [], dnsOpt: [], hostsEntries: []},
    inheritEnv: false,
    setEnv: new Map(),
    setEnvFiles: [],
    pullPolicy: 'new',
    storeOnly: false,
    noStore: false,
    volumes: [],
    mounts: [],
    noOverlay: false,
    privateUsers: false,
    interactive: false,
    mdsRegister: false,
    quiet: false,
    apps: [],
    positionals: [],
    warnings: [],
    seen: new Set(),
  }
}

function commandsOf(def: FlagDef): string {
  return def.commands.map((c) => `rkt ${c}`).join(' and ')
}

function unknownFlag(s: State, word: string, name: string): UsageError {
  const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined
  if (def !== undefined) {
    const where =
      s.command === 'prepare' && def.commands.includes('run-prepared') ? '; give it to rkt run-prepared' : ''
    return new UsageError(`--${name} is not a flag of rkt ${s.command}`, {
      hint: `--${name} belongs to ${commandsOf(def)}${where}`,
    })
  }
  const appHint =
    s.command !== 'run-prepared' && s.apps.length > 0
      ? `; to pass ${word} to the app, put it after "--": rkt ${s.command} IMAGE -- ${word}`
      : ''
  return new UsageError(`unknown flag: ${word}`, {hint: `see 'rkt ${s.command} --help'${appHint}`})
}

/**
 * Handles the flag at argv[i]; returns how many words it used (1, or 2 for `--x v`).
 */
function parseFlag(s: State, argv: readonly string[], i: number): number {
  const word = argv[i] as string
  if (word === '-h' || word === '--help') {
    s.help = true
    return 1
  }
  if (!word.startsWith('--')) {
    return fail(unknownFlag(s, word, ''))
  }
  const body = word.slice(2)
  const eq = body.indexOf('=')
  const name = eq < 0 ? body : body.slice(0, eq)
  const inline = eq < 0 ? undefined : body.slice(eq + 1)
  const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined
  if (def === undefined || !def.commands.includes(s.command)) return fail(unknownFlag(s, word, name))
  let value: string
  let used = 1
  switch (def.kind) {
    case 'bool':
    case 'bool-value': {
      if (inline !== undefined) {
        const b = parseGoBool(inline)
        if (b === undefined) {
          throw new UsageError(`invalid argument ${q(inline)} for --${name}: not a boolean`, {
            hint: `write --${name} or --${name}=false`,
          })
        }
        value = String(b)
      } else if (def.kind === 'bool-value' && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) {
        // rkt's --readonly-rootfs is a value flag: `--readonly-rootfs true` takes the next word.
        value = argv[i + 1] as string
        used = 2
      } else value = 'true'
      break
    }
    case 'optional':
      value = inline ?? (def.noOptValue as string)
      break
    case 'value': {
      if (inline !== undefined) value = inline
      else {
        const next = argv[i + 1]
        if (next === undefined) {
          throw new UsageError(`flag needs an argument: --${name}`, {hint: `write --${name}=VALUE`})
        }
        value = next
        used = 2
      }
      break
    }
  }
  const app = s.apps.at(-1)
  if (def.scope === 'app' && app === undefined) {
    throw new UsageError(`--${name} must follow an image`, {
      hint: `per-app flags apply to the image before them: rkt ${s.command} IMAGE ${def.example ?? `--${name}=…`}`,
    })
  }
  if (def.deprecated !== undefined) s.warnings.push(`--${name} is deprecated: ${def.deprecated}`)
  s.seen.add(name)
  def.apply(s, value, def.scope === 'global' ? undefined : app)
  return used
}

function fail(err: UsageError): never {
  throw err
}

function checkNoNul(argv: readonly string[]): void {
  const at = argv.findIndex((a) => a.includes('\0'))
  if (at >= 0) {
    throw new UsageError(`argument ${at + 1} contains a NUL byte`, {hint: 'command-line words cannot contain NUL'})
  }
}

/**
 * Parses everything after the command word of `rkt run`, `rkt prepare` or `rkt run-prepared`.
 * Throws UsageError (exit status 2) with rkt's meaning and a hint naming the fix.
 */
export function parseRunArgs(argv: readonly string[], command: 'run-prepared'): RunPreparedArgs
export function parseRunArgs(argv: readonly string[], command: 'run' | 'prepare'): RunArgs
export function parseRunArgs(argv: readonly string[], command: RunCommand): RunArgs | RunPreparedArgs
export function parseRunArgs(argv: readonly string[], command: RunCommand): RunArgs | RunPreparedArgs {
  checkNoNul(argv)
  const s = newState(command)
  if (command === 'run-prepared') return parseRunPrepared(s, argv)

  // parseApps: "--" starts the last image's arguments, a lone "---" ends them; between images, flags.
  let inAppArgs = false
  let appsAtLastArgs = 0
  for (let i = 0; i < argv.length;) {
    const word = argv[i] as string
    if (inAppArgs) {
      // rkt drops empty words everywhere, even app arguments; an empty argument is kept for the app here.
      if (word === '---') inAppArgs = false
      else s.apps.at(-1)?.args.push(word)
      i++
      continue
    }
    if (word === '') {
      i++
      continue
    }
    if (word === '--') {
      if (appsAtLastArgs === s.apps.length) {
        if (s.apps.length === 0) {
          throw new UsageError('an image is required before any app arguments', {
            hint: `rkt ${command} IMAGE -- ARG…`,
          })
        }
        throw new UsageError('only one set of app arguments allowed per image', {
          hint: 'end the arguments with "---" before the next image: IMAGE1 -- a b --- IMAGE2 -- c',
        })
      }
      appsAtLastArgs = s.apps.length
      inAppArgs = true
      i++
      continue
    }
    if (word === '---') {
      // rkt ignores a "---" outside app arguments.
      i++
      continue
    }
    if (word.startsWith('-') && word !== '-') {
      i += parseFlag(s, argv, i)
      continue
    }
    s.apps.push({
      image: word,
      args: [],
      readOnlyRootFS: false,
      mounts: [],
      annotations: new Map(),
      environment: new Map(),
    })
    i++
  }
  return finishRun(s, command)
}

function finishRun(s: State, command: 'run' | 'prepare'): RunArgs {
  const globals = freezeGlobals(s)
  if (s.storeOnly && s.noStore) {
    throw new UsageError('both --store-only and --no-store specified', {hint: 'use --pull-policy=never or update'})
  }
  const pullPolicy: PullPolicy = s.storeOnly ? 'never' : s.noStore ? 'update' : s.pullPolicy
  const dns = parseDnsFlags(s.dns)
  const apps = s.apps.map(freezeApp)
  const pod: PodFlags = {
    ...(s.stage1 === undefined ? {} : {stage1: s.stage1}),
    net: s.net,
    ports: s.ports,
    dns,
    ...(s.hostname === undefined ? {} : {hostname: s.hostname}),
    inheritEnv: s.inheritEnv,
    setEnv: [...s.setEnv].map(([name, value]) => ({name, value})),
    setEnvFiles: s.setEnvFiles,
    pullPolicy,
    ...(s.podManifest === undefined ? {} : {podManifest: s.podManifest}),
    volumes: s.volumes,
    mounts: s.mounts,
    noOverlay: s.noOverlay,
    privateUsers: s.privateUsers,
    interactive: s.interactive,
    mdsRegister: s.mdsRegister,
    ...(s.uuidFileSave === undefined ? {} : {uuidFileSave: s.uuidFileSave}),
    ...(s.ipc === undefined ? {} : {ipc: s.ipc}),
    quiet: s.quiet,
  }
  const result: RunArgs = {command, help: s.help, globals, pod, apps, warnings: s.warnings}
  if (s.help) return result

  const netNames = new Set(s.net.map((n) => n.name))
  if (s.ports.length > 0 && netNames.has('none')) {
    throw new UsageError("--port flag does not work with 'none' networking", {hint: 'drop --port or --net=none'})
  }
  if (s.ports.length > 0 && netNames.has('host')) {
    throw new UsageError("--port flag does not work with 'host' networking", {
      hint: 'with --net=host the apps listen on the host directly; drop --port',
    })
  }
  if (s.mdsRegister && netNames.has('none')) {
    throw new UsageError('--mds-register flag does not work with --net=none', {
      hint: "use 'host', 'default' or an equivalent network",
    })
  }
  if (s.podManifest !== undefined) {
    // rkt/run.go and prepare.go: whatever would shape the pod manifest conflicts with one given whole.
    const conflicts = [
      ...(apps.length > 0 ? ['IMAGE arguments'] : []),
      ...['volume', 'mount', 'port', 'inherit-env', 'set-env', 'set-env-file']
        .filter((f) => s.seen.has(f) && (f !== 'inherit-env' || s.inheritEnv))
        .map((f) => `--${f}`),
      ...(pullPolicy !== 'new'
        ? [s.storeOnly ? '--store-only' : s.noStore ? '--no-store' : `--pull-policy=${pullPolicy}`]
        : []),
    ]
    if (conflicts.length > 0) {
      const allowed = command === 'run' ? '--net, --no-overlay, --interactive' : '--quiet, --no-overlay'
      throw new UsageError(`conflicting flags set with --pod-manifest: ${conflicts.join(', ')}`, {
        hint: `the pod manifest already says what runs; with it, use only flags like ${allowed} (and the stage1, DNS and global flags)`,
      })
    }
  }
  if (s.interactive && apps.length > 1) {
    throw new UsageError('interactive option only supports one image', {hint: 'run one image with --interactive'})
  }
  if (apps.length < 1 && s.podManifest === undefined) {
    throw new UsageError('must provide at least one image or specify the pod manifest', {
      hint: `rkt ${command} [flags] IMAGE [-- ARGS…] or rkt ${command} --pod-manifest=FILE`,
    })
  }
  // apps.Validate: every --mount names a --volume (declared anywhere on the line).
  const volumeNames = new Set(s.volumes.map((v) => v.name))
  for (const m of [...s.mounts, ...apps.flatMap((a) => a.mounts)]) {
    if (!volumeNames.has(m.volume)) {
      throw new UsageError(`dangling mount point ${q(m.path)}: volume ${q(m.volume)} not found`, {
        hint: `declare it: --volume=${m.volume},kind=host,source=/PATH or --volume=${m.volume},kind=empty`,
      })
    }
  }
  for (const a of apps) {
    if (a.capsRetain !== undefined && a.capsRemove !== undefined) {
      throw new UsageError(`cannot use both --caps-retain and --caps-remove on the same image (${a.image})`, {
        hint: 'keep one: --caps-retain lists what the app keeps, --caps-remove what it loses',
      })
    }
  }
  return result
}

function freezeGlobals(s: State): GlobalFlagValues {
  const g = s.globals
  return {
    ...(g.dir === undefined ? {} : {dir: g.dir}),
    ...(g.localConfig === undefined ? {} : {localConfig: g.localConfig}),
    ...(g.systemConfig === undefined ? {} : {systemConfig: g.systemConfig}),
    ...(g.userConfig === undefined ? {} : {userConfig: g.userConfig}),
    debug: g.debug,
    insecureOptions: g.insecureOptions,
    trustKeysFromHttps: g.trustKeysFromHttps,
  }
}

function pairs(map: ReadonlyMap<string, string>): NameValue[] {
  return [...map].map(([name, value]) => ({name, value}))
}

function freezeApp(a: MutableApp): AppFlags {
  return {
    image: a.image,
    args: a.args,
    ...(a.signature === undefined ? {} : {signature: a.signature}),
    ...(a.exec === undefined ? {} : {exec: a.exec}),
    ...(a.workingDir === undefined ? {} : {workingDir: a.workingDir}),
    readOnlyRootFS: a.readOnlyRootFS,
    mounts: a.mounts,
    ...(a.user === undefined ? {} : {user: a.user}),
    ...(a.group === undefined ? {} : {group: a.group}),
    ...(a.supplementaryGIDs === undefined ? {} : {supplementaryGIDs: a.supplementaryGIDs}),
    ...(a.name === undefined ? {} : {name: a.name}),
    annotations: pairs(a.annotations),
    // Object.fromEntries defines own properties, so a key like "__proto__" stays a plain key.
    ...(a.userAnnotations === undefined ? {} : {userAnnotations: Object.fromEntries(a.userAnnotations)}),
    ...(a.userLabels === undefined ? {} : {userLabels: Object.fromEntries(a.userLabels)}),
    environment: pairs(a.environment),
    ...(a.memory === undefined ? {} : {memory: a.memory}),
    ...(a.cpu === undefined ? {} : {cpu: a.cpu}),
    ...(a.cpuShares === undefined ? {} : {cpuShares: a.cpuShares}),
    ...(a.capsRetain === undefined ? {} : {capsRetain: a.capsRetain}),
    ...(a.capsRemove === undefined ? {} : {capsRemove: a.capsRemove}),
    ...(a.seccomp === undefined ? {} : {seccomp: a.seccomp}),
    ...(a.oomScoreAdj === undefined ? {} : {oomScoreAdj: a.oomScoreAdj}),
  }
}

function parseRunPrepared(s: State, argv: readonly string[]): RunPreparedArgs {
  // Cobra's default: flags anywhere, "--" ends them.
  for (let i = 0; i < argv.length;) {
    const word = argv[i] as string
    if (word === '--') {
      s.positionals.push(...argv.slice(i + 1))
      break
    }
    if (word.startsWith('-') && word !== '-') {
      i += parseFlag(s, argv, i)
      continue
    }
    s.positionals.push(word)
    i++
  }
  const pod: RunPreparedFlags = {
    net: s.net,
    dns: parseDnsFlags(s.dns),
    ...(s.hostname === undefined ? {} : {hostname: s.hostname}),
    interactive: s.interactive,
    mdsRegister: s.mdsRegister,
    ...(s.ipc === undefined ? {} : {ipc: s.ipc}),
  }
  const result = {command: 'run-prepared', help: s.help, globals: freezeGlobals(s), pod, warnings: s.warnings} as const
  if (s.help) return {...result, uuid: s.positionals[0] ?? ''}
  if (s.mdsRegister && s.net.some((n) => n.name === 'none')) {
    throw new UsageError('--mds-register flag does not work with --net=none', {
      hint: "use 'host', 'default' or an equivalent network",
    })
  }
  const [uuid, ...extra] = s.positionals
  if (uuid === undefined || uuid === '') {
    throw new UsageError('missing the UUID of the prepared pod', {hint: 'rkt run-prepared UUID (see rkt list)'})
  }
  if (extra.length > 0) {
    throw new UsageError(`run-prepared takes one UUID, got ${s.positionals.length} arguments`, {
      hint: 'rkt run-prepared [flags] UUID',
    })
  }
  return {...result, uuid}
}
