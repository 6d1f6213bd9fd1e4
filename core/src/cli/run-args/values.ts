// Parsers and formatters of single flag values (parse → format → parse round-trips).
import type {Quantity, Volume} from '../../schema/index.js'
import type {EnvVar, MountFlag, NetEntry, PortFlag, SeccompFlag} from '../../pod/spec.js'

import {UsageError} from '../../errors.js'
import {SchemaError, parseQuantity, validateACIdentifier, validateACName} from '../../schema/index.js'
import {ENV_NAME_PATTERN} from '../../pod/spec.js'

export const q = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s)

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false
  return undefined
}

/** Go's strconv.Atoi within the safe integer range; undefined when not a decimal integer. */
export function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Go's strings.SplitN. */
export function splitN(s: string, sep: string, n: number): string[] {
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

export function schemaProblem(err: unknown): string {
  if (err instanceof SchemaError) return err.message.replace(/^[^:]*: /, '')
  throw err
}

export function checkACName(value: string, what: string, hint: string): void {
  try {
    validateACName(value)
  } catch (err) {
    throw new UsageError(`invalid ${what} ${q(value)}: ${schemaProblem(err)}`, {hint})
  }
}

export function checkACIdentifier(value: string, what: string, hint: string): void {
  try {
    validateACIdentifier(value)
  } catch (err) {
    throw new UsageError(`invalid ${what} ${q(value)}: ${schemaProblem(err)}`, {hint})
  }
}

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

/** app sandbox's `--port=NAME:PROTO:PODPORT:HOSTIP:HOSTPORT` (rkt's appPortList): the pod port is named here. */
export function parseSandboxPortFlag(s: string): PortFlag {
  const hint = 'write --port=NAME:PROTO:PODPORT:HOSTIP:HOSTPORT, e.g. --port=http:tcp:8080:0.0.0.0:80'
  const bad = (problem: string): UsageError => new UsageError(`--port ${q(s)}: ${problem}`, {hint})
  const [name = '', protocol = '', podText = '', hostIP = '', hostText = ''] = splitN(s, ':', 5)
  if (splitN(s, ':', 5).length !== 5) throw bad('not in NAME:PROTO:PODPORT:HOSTIP:HOSTPORT format')
  checkACName(name, 'port name', hint)
  if (protocol !== 'tcp' && protocol !== 'udp') throw bad(`invalid protocol ${q(protocol)} (tcp or udp)`)
  if (!isIPv4(hostIP)) throw bad(`${q(hostIP)} is not a valid IPv4 address`)
  const port = (text: string): number => {
    const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN
    if (!(n >= 1 && n <= 65535)) throw bad(`${q(text)} is not a valid port number (1-65535)`)
    return n
  }
  const podPort = {name, protocol, port: port(podText), count: 1, socketActivated: false}
  return {name, hostPort: port(hostText), hostIP, podPort}
}

/** Writes a port back as a --port value. */
export function formatPortFlag(p: PortFlag): string {
  return p.hostIP === undefined ? `${p.name}:${p.hostPort}` : `${p.name}:${p.hostIP}:${p.hostPort}`
}

const NET_HINT = 'e.g. --net=default, --net=host, --net=none or --net=mynet1:IP=10.1.2.3,mynet2'

/** Adds one --net value to the list (common.NetList.Set): names may not repeat, host and all take no args. */
export function addNets(list: NetEntry[], value: string): void {
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

export function parseCapabilities(flag: string, s: string): string[] {
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

export function quantityOf(flag: string, v: string): Quantity {
  try {
    return parseQuantity(v, `--${flag}`)
  } catch (err) {
    throw new UsageError(`--${flag}: ${schemaProblem(err)}`, {
      hint: `e.g. --${flag}=${flag === 'cpu' ? '500m' : '128M'}`,
    })
  }
}
