// The isolator registry of spec/ace.md "Isolators" plus Go's two extras (oom-score-adj and cpu-shares), with
// Go's per-list rules (schema/types/isolator*.go): which names may repeat in an app and which conflict.

import type {Decoder} from './decode.js'
import {
  asArray,
  asBoolean,
  asInteger,
  asObject,
  asString,
  asStringMap,
  describeType,
  fieldPath,
  indexPath,
  quote,
  readFields,
} from './decode.js'
import {decodeQuantity} from './quantity.js'
import type {Quantity} from './quantity.js'
import {SchemaError} from './schema-error.js'
import {checkACIdentifier} from './types.js'

/** A resource with a guaranteed `request` and a hard `limit` (resource/cpu, resource/memory). */
export interface ResourceRequestLimit {
  readonly request?: Quantity
  readonly limit?: Quantity
}

/** A resource whose limit applies to every device by default (block/network bandwidth, block IOPS). */
export interface ResourceDefaultLimit {
  readonly default: true
  readonly limit?: Quantity
}

/** A capability set for the bounding set (os/linux/capabilities-*-set); names are not checked, as in Go. */
export interface CapabilitySet {
  readonly set: readonly string[]
}

/** A seccomp syscall set; entries starting with `@` are scoped wildcards such as `@appc.io/all`. */
export interface SeccompSet {
  readonly set: readonly string[]
  /** Errno name returned by blocked calls, e.g. `EPERM`; absent means the app is killed with SIGSYS. */
  readonly errno?: string
}

/** The four parts of an SELinux context. */
export interface SELinuxContext {
  readonly user: string
  readonly role: string
  readonly type: string
  readonly level: string
}

/** An AppArmor profile that must already be loaded on the host. */
export interface AppArmorProfile {
  readonly profile: string
}

/** The typed value of each known isolator. */
export interface IsolatorValues {
  'resource/cpu': ResourceRequestLimit
  'resource/memory': ResourceRequestLimit
  'resource/block-bandwidth': ResourceDefaultLimit
  'resource/block-iops': ResourceDefaultLimit
  'resource/network-bandwidth': ResourceDefaultLimit
  'os/linux/capabilities-retain-set': CapabilitySet
  'os/linux/capabilities-remove-set': CapabilitySet
  'os/linux/no-new-privileges': boolean
  'os/linux/seccomp-retain-set': SeccompSet
  'os/linux/seccomp-remove-set': SeccompSet
  'os/linux/selinux-context': SELinuxContext
  'os/linux/apparmor-profile': AppArmorProfile
  'os/linux/oom-score-adj': number
  'os/linux/cpu-shares': number
  'os/unix/sysctl': Readonly<Record<string, string>>
}

/** The name of an isolator this module understands. */
export type KnownIsolatorName = keyof IsolatorValues

/** A known isolator with its typed value; `Isolator` alone is the union over every known name. */
export type Isolator<N extends KnownIsolatorName = KnownIsolatorName> = N extends KnownIsolatorName
  ? {readonly name: N; readonly value: IsolatorValues[N]}
  : never

/** An isolator this module does not know, kept as raw JSON so it survives a round-trip. */
export interface OpaqueIsolator {
  readonly name: string
  readonly value: unknown
  readonly opaque: true
}

/** Any entry of an isolator list. */
export type AnyIsolator = Isolator | OpaqueIsolator

/** Where an isolator may appear, whether it may repeat in one app's list, and what it excludes. */
export interface IsolatorRule {
  readonly scope: readonly ('app' | 'pod')[]
  readonly multipleAllowed: boolean
  /** Names Go refuses in the same app list. */
  readonly conflicts: readonly KnownIsolatorName[]
  /** Names the spec forbids alongside but Go accepts: a warning. */
  readonly discouraged: readonly KnownIsolatorName[]
}

const APP: IsolatorRule['scope'] = ['app']
const BOTH: IsolatorRule['scope'] = ['app', 'pod']
const rule = (scope: IsolatorRule['scope'], multipleAllowed: boolean, conflicts: KnownIsolatorName[] = []) => ({
  scope,
  multipleAllowed,
  conflicts,
  discouraged: [] as KnownIsolatorName[],
})

/** The rules of every known isolator (appc spec/ace.md "Isolators": its names, value forms and limits). */
export const ISOLATOR_RULES: Readonly<Record<KnownIsolatorName, IsolatorRule>> = {
  'resource/cpu': rule(BOTH, true),
  'resource/memory': rule(BOTH, true),
  'resource/block-bandwidth': rule(BOTH, true),
  'resource/block-iops': rule(BOTH, true),
  'resource/network-bandwidth': rule(BOTH, true),
  'os/linux/capabilities-retain-set': {...rule(APP, true), discouraged: ['os/linux/capabilities-remove-set']},
  'os/linux/capabilities-remove-set': {...rule(APP, true), discouraged: ['os/linux/capabilities-retain-set']},
  'os/linux/no-new-privileges': rule(APP, true),
  'os/linux/seccomp-retain-set': rule(APP, false, ['os/linux/seccomp-remove-set']),
  'os/linux/seccomp-remove-set': rule(APP, false, ['os/linux/seccomp-retain-set']),
  'os/linux/selinux-context': rule(BOTH, false),
  'os/linux/apparmor-profile': rule(BOTH, false),
  'os/linux/oom-score-adj': rule(APP, false),
  'os/linux/cpu-shares': rule(APP, false),
  'os/unix/sysctl': rule(['pod'], false),
}

/** True for a name in the registry. */
export function isKnownIsolatorName(name: string): name is KnownIsolatorName {
  return Object.hasOwn(ISOLATOR_RULES, name)
}

/** Narrows an isolator list entry to a known isolator of the given name. */
export function isIsolator<N extends KnownIsolatorName>(i: AnyIsolator, name: N): i is Isolator<N> {
  return i.name === name && !('opaque' in i)
}

/** The last isolator of that name in the list, as Go's Isolators.GetByName: a later entry overrides. */
export function getIsolator<N extends KnownIsolatorName>(
  isolators: readonly AnyIsolator[],
  name: N,
): Isolator<N> | undefined {
  for (let i = isolators.length - 1; i >= 0; i--) {
    const candidate = isolators[i] as AnyIsolator
    if (isIsolator(candidate, name)) return candidate
  }
  return undefined
}

/** The bounding set an app gets when it has no capability isolator (spec/ace.md, 14 capabilities). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_KILL',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETFCAP',
  'CAP_SYS_CHROOT',
])

/**
 * An app's capability bounding set: the retain set exactly, or the defaults minus the remove set, or the
 * defaults. The last isolator of each name wins. Both kinds at once cannot be resolved (spec/ace.md): it throws.
 */
export function effectiveCapabilities(isolators: readonly AnyIsolator[]): string[] {
  const retain = getIsolator(isolators, 'os/linux/capabilities-retain-set')
  const remove = getIsolator(isolators, 'os/linux/capabilities-remove-set')
  if (retain !== undefined && remove !== undefined) {
    throw new SchemaError(
      'isolators',
      'cannot have both os/linux/capabilities-retain-set and os/linux/capabilities-remove-set',
    )
  }
  if (retain !== undefined) return [...new Set(retain.value.set)]
  if (remove !== undefined) return DEFAULT_CAPABILITIES.filter((c) => !remove.value.set.includes(c))
  return [...DEFAULT_CAPABILITIES]
}

type ValueDecoder<N extends KnownIsolatorName> = (d: Decoder, raw: unknown, path: string, name: N) => IsolatorValues[N]

function requestLimit(d: Decoder, raw: unknown, path: string, name: string): ResourceRequestLimit {
  const f = readFields(d, objectValue(d, raw, path, '{"limit": "1G"}'), path, ['default', 'request', 'limit'])
  if (f.default !== undefined && asBoolean(d, f.default, fieldPath(path, 'default'))) {
    d.fail(fieldPath(path, 'default'), `must be false or absent for ${name}`)
  }
  return {
    ...(f.request === undefined ? {} : {request: decodeQuantity(d, f.request, fieldPath(path, 'request'))}),
    ...(f.limit === undefined ? {} : {limit: decodeQuantity(d, f.limit, fieldPath(path, 'limit'))}),
  }
}

function defaultLimit(d: Decoder, raw: unknown, path: string, name: string): ResourceDefaultLimit {
  const f = readFields(d, objectValue(d, raw, path, '{"default": true, "limit": "1M"}'), path, [
    'default',
    'request',
    'limit',
  ])
  const isDefault = f.default !== undefined && asBoolean(d, f.default, fieldPath(path, 'default'))
  if (!isDefault) d.fail(fieldPath(path, 'default'), `must be true for ${name} (the limit applies to every device)`)
  if (f.request !== undefined) d.fail(fieldPath(path, 'request'), `is not supported by ${name}; set only limit`)
  return {
    default: true,
    ...(f.limit === undefined ? {} : {limit: decodeQuantity(d, f.limit, fieldPath(path, 'limit'))}),
  }
}

function objectValue(d: Decoder, raw: unknown, path: string, example: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    d.fail(path, `must be an object like ${example}, got ${describeType(raw)}`)
  }
  return asObject(d, raw, path)
}

function nonEmptySet(d: Decoder, raw: unknown, path: string, what: string): string[] {
  const set = raw === undefined ? [] : asArray(d, raw, path).map((s, i) => asString(d, s, indexPath(path, i)))
  if (set.length === 0) d.fail(path, `must be a non-empty list of ${what}`)
  return set
}

function capabilitySet(d: Decoder, raw: unknown, path: string): CapabilitySet {
  const f = readFields(d, objectValue(d, raw, path, '{"set": ["CAP_NET_BIND_SERVICE"]}'), path, ['set'])
  return {set: nonEmptySet(d, f.set, fieldPath(path, 'set'), 'capability names, e.g. ["CAP_NET_BIND_SERVICE"]')}
}

function seccompSet(d: Decoder, raw: unknown, path: string): SeccompSet {
  const f = readFields(d, objectValue(d, raw, path, '{"set": ["reboot"]}'), path, ['set', 'errno'])
  const set = nonEmptySet(d, f.set, fieldPath(path, 'set'), 'syscall names, e.g. ["reboot"]')
  const errno = f.errno === undefined ? '' : asString(d, f.errno, fieldPath(path, 'errno'))
  // Go: 'E' then Unicode upper-case letters or digits (isolator_linux_specific.go).
  if (errno !== '' && !/^E[\p{Lu}\p{N}]*$/u.test(errno)) {
    d.fail(
      fieldPath(path, 'errno'),
      `${quote(errno)} is not an errno name ("E" then upper-case letters or digits, e.g. "EPERM")`,
    )
  }
  return errno === '' ? {set} : {set, errno}
}

function nonEmptyString(d: Decoder, raw: unknown, path: string, noColon: boolean): string {
  const value = raw === undefined ? '' : asString(d, raw, path)
  if (value === '' || (noColon && value.includes(':'))) {
    d.fail(path, `must be a non-empty string${noColon ? ' without ":"' : ''}, got ${quote(value)}`)
  }
  return value
}

function selinuxContext(d: Decoder, raw: unknown, path: string): SELinuxContext {
  const example = '{"user": "system_u", "role": "system_r", "type": "svirt_lxc_net_t", "level": "s0"}'
  const f = readFields(d, objectValue(d, raw, path, example), path, ['user', 'role', 'type', 'level'])
  return {
    user: nonEmptyString(d, f.user, fieldPath(path, 'user'), true),
    role: nonEmptyString(d, f.role, fieldPath(path, 'role'), true),
    type: nonEmptyString(d, f.type, fieldPath(path, 'type'), true),
    level: nonEmptyString(d, f.level, fieldPath(path, 'level'), false),
  }
}

function apparmorProfile(d: Decoder, raw: unknown, path: string): AppArmorProfile {
  const f = readFields(d, objectValue(d, raw, path, '{"profile": "rkt-default"}'), path, ['profile'])
  return {profile: nonEmptyString(d, f.profile, fieldPath(path, 'profile'), false)}
}

const DECODERS: {readonly [N in KnownIsolatorName]: ValueDecoder<N>} = {
  'resource/cpu': requestLimit,
  'resource/memory': requestLimit,
  'resource/block-bandwidth': defaultLimit,
  'resource/block-iops': defaultLimit,
  'resource/network-bandwidth': defaultLimit,
  'os/linux/capabilities-retain-set': capabilitySet,
  'os/linux/capabilities-remove-set': capabilitySet,
  'os/linux/no-new-privileges': (d, raw, path) => asBoolean(d, raw, path),
  'os/linux/seccomp-retain-set': seccompSet,
  'os/linux/seccomp-remove-set': seccompSet,
  'os/linux/selinux-context': selinuxContext,
  'os/linux/apparmor-profile': apparmorProfile,
  'os/linux/oom-score-adj': (d, raw, path) => asInteger(d, raw, path, -1000, 1000),
  'os/linux/cpu-shares': (d, raw, path) => asInteger(d, raw, path, 2, 262144),
  'os/unix/sysctl': (d, raw, path) =>
    asStringMap(d, objectValue(d, raw, path, '{"net.ipv4.tcp_mtu_probing": "1"}'), path),
}

function decodeValue<N extends KnownIsolatorName>(d: Decoder, name: N, raw: unknown, path: string): Isolator {
  const decode = DECODERS[name] as ValueDecoder<N>
  return {name, value: decode(d, raw, path, name)} as Isolator
}

/**
 * Reads an isolator list. Values of known names are always checked. In an app list, unknown names are a
 * warning (Go rejects them, the spec lets executors ignore them) and Go's repeat and conflict rules apply; a
 * pod list only checks values, as Go does.
 */
export function decodeIsolators(d: Decoder, raw: unknown, path: string, scope: 'app' | 'pod'): AnyIsolator[] {
  if (raw === undefined) return []
  const seen = new Set<string>()
  return asArray(d, raw, path).map((item, i) => {
    const p = indexPath(path, i)
    const f = readFields(d, item, p, ['name', 'value'])
    if (f.name === undefined) d.fail(fieldPath(p, 'name'), 'must be set')
    const name = asString(d, f.name, fieldPath(p, 'name'))
    checkACIdentifier(d, name, fieldPath(p, 'name'))
    if (f.value === undefined) d.fail(fieldPath(p, 'value'), `must be set (every isolator needs a value)`)
    if (!isKnownIsolatorName(name)) {
      if (scope === 'app') d.warn(fieldPath(p, 'name'), `unknown isolator ${quote(name)}; executors may ignore it`)
      return {name, value: f.value, opaque: true} satisfies OpaqueIsolator
    }
    const isolator = decodeValue(d, name, f.value, fieldPath(p, 'value'))
    if (scope === 'app') checkAppRules(d, name, seen, fieldPath(p, 'name'))
    seen.add(name)
    return isolator
  })
}

function checkAppRules(d: Decoder, name: KnownIsolatorName, seen: ReadonlySet<string>, path: string): void {
  const r = ISOLATOR_RULES[name]
  if (seen.has(name) && !r.multipleAllowed) d.fail(path, `only one ${name} isolator is allowed per app`)
  for (const other of r.conflicts) if (seen.has(other)) d.fail(path, `${name} cannot be combined with ${other}`)
  for (const other of r.discouraged) {
    if (seen.has(other)) d.warn(path, `${name} must not be combined with ${other} (spec/ace.md)`)
  }
}

/** The JSON value of an isolator, with keys in spec order. */
export function isolatorValueToJson(i: AnyIsolator): unknown {
  if ('opaque' in i) return i.value
  switch (i.name) {
    case 'resource/cpu':
    case 'resource/memory':
      return {...quantityJson('request', i.value.request), ...quantityJson('limit', i.value.limit)}
    case 'resource/block-bandwidth':
    case 'resource/block-iops':
    case 'resource/network-bandwidth':
      return {default: i.value.default, ...quantityJson('limit', i.value.limit)}
    case 'os/linux/capabilities-retain-set':
    case 'os/linux/capabilities-remove-set':
      return {set: i.value.set}
    case 'os/linux/seccomp-retain-set':
    case 'os/linux/seccomp-remove-set':
      return i.value.errno === undefined ? {set: i.value.set} : {set: i.value.set, errno: i.value.errno}
    case 'os/linux/selinux-context':
      return {user: i.value.user, role: i.value.role, type: i.value.type, level: i.value.level}
    case 'os/linux/apparmor-profile':
      return {profile: i.value.profile}
    case 'os/unix/sysctl':
      return Object.fromEntries(Object.entries(i.value))
    default:
      return i.value
  }
}

function quantityJson(key: string, q: Quantity | undefined): Record<string, string> {
  return q === undefined ? {} : {[key]: q.text}
}
