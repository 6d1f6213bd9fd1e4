// The `app` object (spec/aci.md "Image Manifest Schema"): an image's default run parameters, also used by a
// pod manifest to replace them. Validation follows schema/types/app.go and the types it uses.

import type {Decoder} from './decode.js'
import {
  asArray,
  asBoolean,
  asInteger,
  asString,
  asStringList,
  asStringMap,
  fieldPath,
  indexPath,
  quote,
  readFields,
} from './decode.js'
import {decodeIsolators, isolatorValueToJson} from './isolators.js'
import type {AnyIsolator} from './isolators.js'
import {decodeACName} from './types.js'

/** A lifecycle hook; `pre-start` runs before the main process, `post-stop` after it exits. */
export interface EventHandler {
  readonly name: 'pre-start' | 'post-stop'
  readonly exec: readonly string[]
}

/** One environment variable; values are literal, never expanded. */
export interface EnvironmentVariable {
  readonly name: string
  readonly value: string
}

/** Where an app expects a volume; `name` is what pod mounts refer to. */
export interface MountPoint {
  readonly name: string
  /** Absent only in manifests Go tolerates; the spec requires it. */
  readonly path?: string
  readonly readOnly: boolean
}

/** A port or range of ports the app listens on (informational). */
export interface Port {
  readonly name: string
  /** Typically `tcp` or `udp`; absent only in manifests Go tolerates. */
  readonly protocol?: string
  readonly port: number
  readonly count: number
  readonly socketActivated: boolean
}

/** The run parameters of an app. Lists and maps are empty rather than absent. */
export interface App {
  /** argv of the main process; absent means the pod (or the user) must supply it. */
  readonly exec?: readonly string[]
  readonly user: string
  readonly group: string
  readonly supplementaryGIDs: readonly number[]
  readonly eventHandlers: readonly EventHandler[]
  /** Absolute; absent means `/`. */
  readonly workingDirectory?: string
  readonly environment: readonly EnvironmentVariable[]
  readonly isolators: readonly AnyIsolator[]
  readonly mountPoints: readonly MountPoint[]
  readonly ports: readonly Port[]
  readonly userAnnotations: Readonly<Record<string, string>>
  readonly userLabels: Readonly<Record<string, string>>
}

const APP_FIELDS = [
  'exec',
  'user',
  'group',
  'supplementaryGIDs',
  'eventHandlers',
  'workingDirectory',
  'environment',
  'isolators',
  'mountPoints',
  'ports',
  'userAnnotations',
  'userLabels',
] as const

function isHandlerName(name: string): name is EventHandler['name'] {
  return name === 'pre-start' || name === 'post-stop'
}

// POSIX names plus "." and "-" (schema/types/environment.go).
const ENV_NAME = /^[A-Za-z_][A-Za-z_0-9.-]*$/
const MAX_GID = 2 ** 32 - 1

function list<T>(d: Decoder, raw: unknown, path: string, item: (raw: unknown, path: string) => T): T[] {
  return raw === undefined ? [] : asArray(d, raw, path).map((x, i) => item(x, indexPath(path, i)))
}

function requiredString(d: Decoder, raw: unknown, path: string, hint: string): string {
  const value = raw === undefined ? '' : asString(d, raw, path)
  if (value === '') d.fail(path, `must be set (${hint})`)
  return value
}

/** Reads and validates an `app` object found at `path`. */
export function decodeApp(d: Decoder, raw: unknown, path: string): App {
  // The spec's own example spells supplementaryGIDs as "supplementaryGids"; Go accepts it, so do we, silently.
  const f = readFields(d, raw, path, APP_FIELDS, ['supplementaryGids'])
  const at = (key: string) => fieldPath(path, key)
  const exec = f.exec === undefined ? undefined : asStringList(d, f.exec, at('exec'))
  const user = requiredString(d, f.user, at('user'), 'a user name, a UID or an absolute path in the image')
  const group = requiredString(d, f.group, at('group'), 'a group name, a GID or an absolute path in the image')
  const supplementaryGIDs = list(d, f.supplementaryGIDs, at('supplementaryGIDs'), (x, p) => {
    const gid = asInteger(d, x, p, -MAX_GID, MAX_GID)
    // Go's []int takes negatives; the spec says unsigned.
    if (gid < 0) d.warn(p, `must be an unsigned integer, got ${gid}`)
    return gid
  })
  const seenHandlers = new Set<string>()
  const eventHandlers = list(d, f.eventHandlers, at('eventHandlers'), (x, p) => {
    const h = readFields(d, x, p, ['name', 'exec'])
    const name = h.name === undefined ? '' : asString(d, h.name, fieldPath(p, 'name'))
    if (!isHandlerName(name)) {
      return d.fail(fieldPath(p, 'name'), `${quote(name)} is not an event handler name (valid: pre-start, post-stop)`)
    }
    if (seenHandlers.has(name)) d.fail(fieldPath(p, 'name'), `duplicate event handler ${quote(name)} (one of each)`)
    seenHandlers.add(name)
    const exec = h.exec === undefined ? [] : asStringList(d, h.exec, fieldPath(p, 'exec'))
    return {name, exec}
  })
  // Go treats "" as unset.
  const cwd = f.workingDirectory === undefined ? '' : asString(d, f.workingDirectory, at('workingDirectory'))
  if (cwd !== '' && !cwd.startsWith('/')) d.fail(at('workingDirectory'), `must be an absolute path, got ${quote(cwd)}`)
  const seenEnv = new Set<string>()
  const environment = list(d, f.environment, at('environment'), (x, p) => {
    const e = readFields(d, x, p, ['name', 'value'])
    const name = e.name === undefined ? '' : asString(d, e.name, fieldPath(p, 'name'))
    if (!ENV_NAME.test(name)) {
      const rule = 'letters, digits, "_", "." and "-", not starting with a digit'
      d.fail(fieldPath(p, 'name'), `${quote(name)} is not a valid environment variable name (${rule})`)
    }
    if (seenEnv.has(name)) d.fail(fieldPath(p, 'name'), `duplicate environment variable ${quote(name)}`)
    seenEnv.add(name)
    return {name, value: e.value === undefined ? '' : asString(d, e.value, fieldPath(p, 'value'))}
  })
  const isolators = decodeIsolators(d, f.isolators, at('isolators'), 'app')
  const mountPoints = list(d, f.mountPoints, at('mountPoints'), (x, p) => decodeMountPoint(d, x, p))
  const ports = list(d, f.ports, at('ports'), (x, p) => decodePort(d, x, p))
  return {
    ...(exec === undefined ? {} : {exec}),
    user,
    group,
    supplementaryGIDs,
    eventHandlers,
    ...(cwd === '' ? {} : {workingDirectory: cwd}),
    environment,
    isolators,
    mountPoints,
    ports,
    userAnnotations: f.userAnnotations === undefined ? {} : asStringMap(d, f.userAnnotations, at('userAnnotations')),
    userLabels: f.userLabels === undefined ? {} : asStringMap(d, f.userLabels, at('userLabels')),
  }
}

function decodeMountPoint(d: Decoder, raw: unknown, path: string): MountPoint {
  const f = readFields(d, raw, path, ['name', 'path', 'readOnly'])
  if (f.name === undefined) d.fail(fieldPath(path, 'name'), 'must be set')
  const name = decodeACName(d, f.name, fieldPath(path, 'name'))
  const target = f.path === undefined ? '' : asString(d, f.path, fieldPath(path, 'path'))
  // Go's JSON decoding never checks it; without a path the mount point cannot be satisfied.
  if (target === '') d.warn(fieldPath(path, 'path'), 'must be set (where the volume is mounted in the app)')
  const readOnly = f.readOnly === undefined ? false : asBoolean(d, f.readOnly, fieldPath(path, 'readOnly'))
  return target === '' ? {name, readOnly} : {name, path: target, readOnly}
}

/** Reads a port object (image `app.ports[]` and pod `ports[].podPort`). */
export function decodePort(d: Decoder, raw: unknown, path: string): Port {
  const f = readFields(d, raw, path, ['name', 'protocol', 'port', 'count', 'socketActivated'])
  const at = (key: string) => fieldPath(path, key)
  if (f.name === undefined) d.fail(at('name'), 'must be set')
  const name = decodeACName(d, f.name, at('name'))
  const protocol = f.protocol === undefined ? undefined : asString(d, f.protocol, at('protocol'))
  if (protocol !== 'tcp' && protocol !== 'udp') {
    d.warn(at('protocol'), protocol === undefined ? 'must be set; should be tcp or udp' : 'should be tcp or udp')
  }
  if (f.port === undefined) d.fail(at('port'), 'must be set (between 1 and 65535)')
  const port = asInteger(d, f.port, at('port'), 1, 65535)
  let count = f.count === undefined ? 1 : asInteger(d, f.count, at('count'), 0, 65535)
  if (count === 0) {
    // Go turns 0 into the default 1; the spec says count must be at least 1.
    d.warn(at('count'), 'must be at least 1 (0 is read as 1)')
    count = 1
  }
  if (port + count - 1 > 65535) {
    d.fail(at('count'), `the range ${port}-${port + count - 1} goes past port 65535`)
  }
  const socketActivated =
    f.socketActivated === undefined ? false : asBoolean(d, f.socketActivated, at('socketActivated'))
  return {name, ...(protocol === undefined ? {} : {protocol}), port, count, socketActivated}
}

/** A port as JSON, with actool's defaults written out. */
export function portToJson(p: Port): Record<string, unknown> {
  return {
    name: p.name,
    ...(p.protocol === undefined ? {} : {protocol: p.protocol}),
    port: p.port,
    count: p.count,
    socketActivated: p.socketActivated,
  }
}

function nonEmpty<T>(key: string, items: readonly T[], map: (item: T) => unknown = (x) => x): Record<string, unknown> {
  return items.length === 0 ? {} : {[key]: items.map(map)}
}

function nonEmptyMap(key: string, map: Readonly<Record<string, string>>): Record<string, unknown> {
  return Object.keys(map).length === 0 ? {} : {[key]: Object.fromEntries(Object.entries(map))}
}

/** An app as JSON in spec field order; empty lists and maps and a false `readOnly` are left out (Go omitempty). */
export function appToJson(app: App): Record<string, unknown> {
  return {
    ...(app.exec === undefined ? {} : {exec: [...app.exec]}),
    user: app.user,
    group: app.group,
    ...nonEmpty('supplementaryGIDs', app.supplementaryGIDs),
    ...nonEmpty('eventHandlers', app.eventHandlers, (h) => ({name: h.name, exec: [...h.exec]})),
    ...(app.workingDirectory === undefined ? {} : {workingDirectory: app.workingDirectory}),
    ...nonEmpty('environment', app.environment, (e) => ({name: e.name, value: e.value})),
    ...nonEmpty('isolators', app.isolators, (i) => ({name: i.name, value: isolatorValueToJson(i)})),
    ...nonEmpty('mountPoints', app.mountPoints, (m) => ({
      name: m.name,
      ...(m.path === undefined ? {} : {path: m.path}),
      ...(m.readOnly ? {readOnly: true} : {}),
    })),
    ...nonEmpty('ports', app.ports, portToJson),
    ...nonEmptyMap('userAnnotations', app.userAnnotations),
    ...nonEmptyMap('userLabels', app.userLabels),
  }
}
