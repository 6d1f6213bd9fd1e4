// The pod manifest (spec/pods.md "Pod Manifest Schema"; schema/pod.go and schema/types/volume.go), which serves
// both as a template (apps named by image name and labels) and as the reified runtime manifest.

import {isIP} from 'node:net'

import {appToJson, decodeApp, decodePort, portToJson} from './app.js'
import type {App, Port} from './app.js'
import {
  Decoder,
  asArray,
  asBoolean,
  asInteger,
  asString,
  asStringMap,
  fieldPath,
  guard,
  indexPath,
  quote,
  readFields,
  readJsonDocument,
} from './decode.js'
import {decodeIsolators, isolatorValueToJson} from './isolators.js'
import type {AnyIsolator} from './isolators.js'
import type {ParseOptions, SchemaWarning} from './schema-error.js'
import {
  decodeACIdentifier,
  decodeACKind,
  decodeACName,
  decodeACVersion,
  decodeAnnotations,
  decodeImageId,
  decodeLabels,
} from './types.js'
import type {Annotation, Label} from './types.js'

/** Which image an app runs: pinned by `id` in a runtime manifest, or by name and labels in a template. */
export interface RuntimeImage {
  readonly id?: string
  readonly name?: string
  readonly labels: readonly Label[]
}

/** Binds a volume (by name, or given inline as `appVolume`) to a path in an app. */
export interface Mount {
  /** Absent only in manifests Go tolerates; executors must check it at run time. */
  readonly volume?: string
  /** Absent only in manifests Go tolerates; executors must check it at run time. */
  readonly path?: string
  readonly appVolume?: Volume
}

/** One app of a pod; `name` is its identity inside the pod (AC_APP_NAME, /apps/<name>/ metadata). */
export interface RuntimeApp {
  readonly name: string
  readonly image: RuntimeImage
  /** Replaces the image's whole `app` object when present. */
  readonly app?: App
  readonly readOnlyRootFS: boolean
  readonly mounts: readonly Mount[]
  readonly annotations: readonly Annotation[]
}

interface VolumeBase {
  readonly name: string
  readonly readOnly?: boolean
  /** Bind recursively (rbind); only read for host volumes, and executors should default to true. */
  readonly recursive?: boolean
}

/** A bind mount of an absolute host path. */
export interface HostVolume extends VolumeBase {
  readonly kind: 'host'
  readonly source: string
}

/** A directory the executor creates and shares among the pod's apps; defaults filled in as Go does. */
export interface EmptyVolume extends VolumeBase {
  readonly kind: 'empty'
  readonly mode: string
  readonly uid: number
  readonly gid: number
}

/** A pod volume. */
export type Volume = HostVolume | EmptyVolume

/** A port to expose on the host; `name` refers to an app port unless `podPort` defines one. */
export interface ExposedPort {
  readonly name: string
  readonly hostPort: number
  /** An IP literal to listen on; absent means all addresses. */
  readonly hostIP?: string
  readonly podPort?: Port
}

/** A parsed pod manifest. Lists and maps are empty rather than absent. */
export interface PodManifest {
  readonly acKind: 'PodManifest'
  /** Absent only in manifests Go tolerates (the spec requires it). */
  readonly acVersion?: string
  readonly apps: readonly RuntimeApp[]
  readonly volumes: readonly Volume[]
  readonly isolators: readonly AnyIsolator[]
  readonly annotations: readonly Annotation[]
  readonly ports: readonly ExposedPort[]
  readonly userAnnotations: Readonly<Record<string, string>>
  readonly userLabels: Readonly<Record<string, string>>
}

/** The result of a parse: the manifest and the spec violations tolerated for compatibility. */
export interface ParsedPodManifest {
  readonly manifest: PodManifest
  readonly warnings: readonly SchemaWarning[]
}

const FIELDS = [
  'acKind',
  'acVersion',
  'apps',
  'volumes',
  'isolators',
  'annotations',
  'ports',
  'userAnnotations',
  'userLabels',
] as const

const EMPTY_VOLUME_DEFAULT_MODE = '0755'

function list<T>(d: Decoder, raw: unknown, path: string, item: (raw: unknown, path: string) => T): T[] {
  return raw === undefined ? [] : asArray(d, raw, path).map((x, i) => item(x, indexPath(path, i)))
}

/** Reads a pod manifest from an already size-checked JSON object. */
export function decodePodManifest(d: Decoder, raw: unknown): PodManifest {
  const f = readFields(d, raw, '', FIELDS)
  const acKind = decodeACKind(d, f.acKind, 'PodManifest')
  // Go never checks it for pods; the spec requires it.
  if (f.acVersion === undefined) d.warn('acVersion', 'must be set')
  const acVersion = f.acVersion === undefined ? undefined : decodeACVersion(d, f.acVersion)
  if (f.apps === undefined) d.warn('apps', 'must be set (the list of apps in the pod)')
  const appNames = new Set<string>()
  const apps = list(d, f.apps, 'apps', (x, p) => {
    const app = decodeRuntimeApp(d, x, p)
    if (appNames.has(app.name)) d.fail(fieldPath(p, 'name'), `duplicate app name ${quote(app.name)}`)
    appNames.add(app.name)
    return app
  })
  const volumeNames = new Set<string>()
  const volumes = list(d, f.volumes, 'volumes', (x, p) => {
    const volume = decodeVolume(d, x, p)
    if (volumeNames.has(volume.name)) d.fail(fieldPath(p, 'name'), `duplicate volume name ${quote(volume.name)}`)
    volumeNames.add(volume.name)
    return volume
  })
  return {
    acKind,
    ...(acVersion === undefined ? {} : {acVersion}),
    apps,
    volumes,
    isolators: decodeIsolators(d, f.isolators, 'isolators', 'pod'),
    annotations: decodeAnnotations(d, f.annotations, 'annotations'),
    ports: list(d, f.ports, 'ports', (x, p) => decodeExposedPort(d, x, p)),
    userAnnotations: f.userAnnotations === undefined ? {} : asStringMap(d, f.userAnnotations, 'userAnnotations'),
    userLabels: f.userLabels === undefined ? {} : asStringMap(d, f.userLabels, 'userLabels'),
  }
}

function decodeRuntimeApp(d: Decoder, raw: unknown, path: string): RuntimeApp {
  const f = readFields(d, raw, path, ['name', 'image', 'app', 'readOnlyRootFS', 'mounts', 'annotations'])
  const at = (key: string) => fieldPath(path, key)
  if (f.name === undefined) d.fail(at('name'), 'must be set')
  const name = decodeACName(d, f.name, at('name'))
  const image = decodeRuntimeImage(d, f.image ?? {}, at('image'))
  const app = f.app === undefined ? undefined : decodeApp(d, f.app, at('app'))
  const readOnlyRootFS = f.readOnlyRootFS === undefined ? false : asBoolean(d, f.readOnlyRootFS, at('readOnlyRootFS'))
  const mounts = list(d, f.mounts, at('mounts'), (x, p) => decodeMount(d, x, p))
  const annotations = decodeAnnotations(d, f.annotations, at('annotations'))
  return {name, image, ...(app === undefined ? {} : {app}), readOnlyRootFS, mounts, annotations}
}

function decodeRuntimeImage(d: Decoder, raw: unknown, path: string): RuntimeImage {
  const f = readFields(d, raw, path, ['id', 'name', 'labels'])
  // A template may leave the ID out (Go never requires it), but an image with neither cannot be resolved.
  if (f.id === undefined && f.name === undefined) d.warn(path, 'must have an id or a name')
  const id = f.id === undefined ? undefined : decodeImageId(d, f.id, fieldPath(path, 'id'))
  const name = f.name === undefined ? undefined : decodeACIdentifier(d, f.name, fieldPath(path, 'name'))
  const labels = decodeLabels(d, f.labels, fieldPath(path, 'labels'))
  return {...(id === undefined ? {} : {id}), ...(name === undefined ? {} : {name}), labels}
}

function decodeMount(d: Decoder, raw: unknown, path: string): Mount {
  const f = readFields(d, raw, path, ['volume', 'path', 'appVolume'])
  // Go checks neither field when decoding JSON (pod.go Mount.assertValid is never called), so both only warn.
  const volume = f.volume === undefined ? undefined : decodeACName(d, f.volume, fieldPath(path, 'volume'))
  if (volume === undefined) d.warn(fieldPath(path, 'volume'), 'must be set (the name of a pod volume)')
  const target = f.path === undefined ? '' : asString(d, f.path, fieldPath(path, 'path'))
  if (target === '') d.warn(fieldPath(path, 'path'), 'must be set (where the volume is mounted in the app)')
  const appVolume = f.appVolume === undefined ? undefined : decodeVolume(d, f.appVolume, fieldPath(path, 'appVolume'))
  return {
    ...(volume === undefined ? {} : {volume}),
    ...(target === '' ? {} : {path: target}),
    ...(appVolume === undefined ? {} : {appVolume}),
  }
}

/** Reads a volume: `host` needs an absolute source and no mode/uid/gid; `empty` forbids a source. */
export function decodeVolume(d: Decoder, raw: unknown, path: string): Volume {
  const f = readFields(d, raw, path, ['name', 'kind', 'source', 'readOnly', 'recursive', 'mode', 'uid', 'gid'])
  const at = (key: string) => fieldPath(path, key)
  if (f.name === undefined) d.fail(at('name'), 'must be set')
  const name = decodeACName(d, f.name, at('name'))
  const kind = f.kind === undefined ? '' : asString(d, f.kind, at('kind'))
  const source = f.source === undefined ? '' : asString(d, f.source, at('source'))
  const base: VolumeBase = {
    name,
    ...(f.readOnly === undefined ? {} : {readOnly: asBoolean(d, f.readOnly, at('readOnly'))}),
    ...(f.recursive === undefined ? {} : {recursive: asBoolean(d, f.recursive, at('recursive'))}),
  }
  const id = (key: 'uid' | 'gid') =>
    f[key] === undefined ? 0 : asInteger(d, f[key], at(key), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  switch (kind) {
    case 'empty': {
      if (source !== '') d.fail(at('source'), 'must not be set for an empty volume')
      const mode = f.mode === undefined ? EMPTY_VOLUME_DEFAULT_MODE : asString(d, f.mode, at('mode'))
      // Go stores the string unchecked ("rwx" passes); the executor needs an octal permission.
      if (!/^[0-7]{3,4}$/.test(mode))
        d.warn(at('mode'), `should be an octal permission like "0755", got ${quote(mode)}`)
      return {...base, kind, mode, uid: id('uid'), gid: id('gid')}
    }
    case 'host': {
      if (source === '') d.fail(at('source'), 'must be set for a host volume (an absolute host path)')
      for (const key of ['mode', 'uid', 'gid'] as const) {
        if (f[key] !== undefined) d.fail(at(key), 'must not be set for a host volume (only empty volumes have it)')
      }
      if (!source.startsWith('/')) d.fail(at('source'), `must be an absolute path, got ${quote(source)}`)
      return {...base, kind, source}
    }
    default:
      return d.fail(at('kind'), `${quote(kind)} is not a volume kind (valid: empty, host)`)
  }
}

function decodeExposedPort(d: Decoder, raw: unknown, path: string): ExposedPort {
  const f = readFields(d, raw, path, ['name', 'hostPort', 'hostIP', 'podPort'])
  const at = (key: string) => fieldPath(path, key)
  if (f.name === undefined) d.fail(at('name'), 'must be set')
  const name = decodeACName(d, f.name, at('name'))
  // Go reads hostPort as an unchecked uint: a missing one is 0.
  if (f.hostPort === undefined) d.warn(at('hostPort'), 'must be set (the port number on the host)')
  const hostPort = f.hostPort === undefined ? 0 : asInteger(d, f.hostPort, at('hostPort'), 0, 2 ** 32 - 1)
  if (hostPort > 65535) d.warn(at('hostPort'), `must be at most 65535, got ${hostPort}`)
  const hostIP = f.hostIP === undefined ? '' : asString(d, f.hostIP, at('hostIP'))
  if (hostIP !== '') {
    const family = hostIP.includes('%') ? 0 : isIP(hostIP)
    if (family === 0) d.fail(at('hostIP'), `${quote(hostIP)} is not an IP address (e.g. "203.0.113.23")`)
    if (family === 6) d.warn(at('hostIP'), `${quote(hostIP)} should be an IPv4 address in dotted-quad notation`)
  }
  const podPort = f.podPort === undefined ? undefined : decodePort(d, f.podPort, at('podPort'))
  return {
    name,
    hostPort,
    ...(hostIP === '' ? {} : {hostIP}),
    ...(podPort === undefined ? {} : {podPort}),
  }
}

/**
 * Parses and validates a pod manifest given as JSON text, UTF-8 bytes or a parsed value. Throws SchemaError
 * (and nothing else) on the first problem; spec violations that Go tolerates are warnings unless `strict`.
 */
export function parsePodManifest(input: unknown, opts: ParseOptions = {}): ParsedPodManifest {
  return guard('cannot parse pod manifest', () => {
    const d = new Decoder(opts.strict === true)
    const manifest = decodePodManifest(d, readJsonDocument(input))
    return {manifest, warnings: d.warnings}
  })
}

function nameValues(list: readonly {name: string; value: string}[]): {name: string; value: string}[] {
  return list.map((x) => ({name: x.name, value: x.value}))
}

function volumeToJson(v: Volume): Record<string, unknown> {
  return {
    name: v.name,
    kind: v.kind,
    ...(v.kind === 'host' ? {source: v.source} : {}),
    ...(v.readOnly === undefined ? {} : {readOnly: v.readOnly}),
    ...(v.recursive === undefined ? {} : {recursive: v.recursive}),
    ...(v.kind === 'empty' ? {mode: v.mode, uid: v.uid, gid: v.gid} : {}),
  }
}

function runtimeAppToJson(a: RuntimeApp): Record<string, unknown> {
  return {
    name: a.name,
    image: {
      ...(a.image.name === undefined ? {} : {name: a.image.name}),
      ...(a.image.id === undefined ? {} : {id: a.image.id}),
      ...(a.image.labels.length === 0 ? {} : {labels: nameValues(a.image.labels)}),
    },
    ...(a.app === undefined ? {} : {app: appToJson(a.app)}),
    ...(a.readOnlyRootFS ? {readOnlyRootFS: true} : {}),
    ...(a.mounts.length === 0
      ? {}
      : {
          mounts: a.mounts.map((m) => ({
            ...(m.volume === undefined ? {} : {volume: m.volume}),
            ...(m.path === undefined ? {} : {path: m.path}),
            ...(m.appVolume === undefined ? {} : {appVolume: volumeToJson(m.appVolume)}),
          })),
        }),
    ...(a.annotations.length === 0 ? {} : {annotations: nameValues(a.annotations)}),
  }
}

/**
 * The manifest as a plain JSON object in spec order. `volumes`, `isolators`, `annotations` and `ports` are
 * always written (as Go does), as `[]` when empty: the metadata service must serve `[]`, not null.
 */
export function podManifestToJson(m: PodManifest): Record<string, unknown> {
  return {
    acKind: m.acKind,
    ...(m.acVersion === undefined ? {} : {acVersion: m.acVersion}),
    apps: m.apps.map(runtimeAppToJson),
    volumes: m.volumes.map(volumeToJson),
    isolators: m.isolators.map((i) => ({name: i.name, value: isolatorValueToJson(i)})),
    annotations: nameValues(m.annotations),
    ports: m.ports.map((p) => ({
      name: p.name,
      hostPort: p.hostPort,
      ...(p.hostIP === undefined ? {} : {hostIP: p.hostIP}),
      ...(p.podPort === undefined ? {} : {podPort: portToJson(p.podPort)}),
    })),
    ...(Object.keys(m.userAnnotations).length === 0
      ? {}
      : {userAnnotations: Object.fromEntries(Object.entries(m.userAnnotations))}),
    ...(Object.keys(m.userLabels).length === 0 ? {} : {userLabels: Object.fromEntries(Object.entries(m.userLabels))}),
  }
}

/** Serializes a pod manifest in a fixed key order after checking that it parses back. */
export function serializePodManifest(m: PodManifest, opts: {pretty?: boolean; indent?: string | number} = {}): string {
  const text = guard('cannot serialize pod manifest', () =>
    JSON.stringify(podManifestToJson(m), null, opts.pretty === true ? (opts.indent ?? 4) : undefined),
  )
  parsePodManifest(text)
  return text
}
