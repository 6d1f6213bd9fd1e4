// Docker/OCI image config → appc image manifests, following docker2aci (appc/docker2aci
// lib/internal/internal.go GenerateManifestV22 and its helpers) wherever rkt users could see a difference:
// - name: `<registry>/<repository>` through appc's SanitizeACIdentifier (lowercase; characters outside
//   [a-z0-9-._~/] become `_`), so `docker://busybox` is `registry-1.docker.io/library/busybox` and
//   `docker://127.0.0.1:5000/app` is `127.0.0.1_5000/app` (the colon of the port becomes `_`);
// - labels: version = the tag (or the digest when fetched by digest), os and arch in appc's spelling;
// - app: exec = Entrypoint + Cmd, user/group from User (`""` → 0/0, `u` → u/u, `u:g` → u/g), Env split at
//   the first `=` (later duplicates win), WorkingDir, ports `<port>-<proto>` (SanitizeACName of `80/tcp`),
//   mount points `volume-<path>` (SanitizeACName of `volume/<path>`, duplicates suffixed -1, -2…), sorted;
// - annotations: author, created, appc.io/docker/{originalname,registryurl,repository,imageid,manifesthash,
//   entrypoint,cmd} (entrypoint and cmd as JSON arrays).
// Where we differ ("beyond rkt"): the layers are separate ACIs (see import.ts), so this image has an empty
// rootfs and depends on the top layer's ACI by image ID.
import type {App, ImageManifest} from '../schema/index.js'
import {APPC_SPEC_VERSION, serializeImageManifest} from '../schema/index.js'
import type {Annotation, Label} from '../schema/index.js'
import {RktError} from '../errors.js'
import type {LinkGroup} from './layer.js'
import type {ImageConfig} from './source.js'

/** Name prefix of the per-layer ACIs; the rest is the layer's OCI chain ID, so equal stacks share ACIs. */
export const LAYER_NAME_PREFIX = 'docker-layer/'
/** Annotation of a layer ACI carrying its live hardlink groups (JSON), for the layers converted above it. */
export const HARDLINKS_ANNOTATION = 'rkt-ts/docker-hardlinks'

export const ANNOTATION = {
  originalName: 'appc.io/docker/originalname',
  registryUrl: 'appc.io/docker/registryurl',
  repository: 'appc.io/docker/repository',
  imageId: 'appc.io/docker/imageid',
  manifestHash: 'appc.io/docker/manifesthash',
  entrypoint: 'appc.io/docker/entrypoint',
  cmd: 'appc.io/docker/cmd',
} as const

/** appc's SanitizeACIdentifier. */
export function sanitizeACIdentifier(s: string): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9\-._~/]/g, '_')
    .replace(/^[-._~/]+|[-._~/]+$/g, '')
  if (out === '') throw new RktError(`cannot make an image name of ${JSON.stringify(s)}`, {code: 'EBADIMAGE'})
  return out
}

/** appc's SanitizeACName, with runs of `-` collapsed so that the result is a valid AC Name. */
export function sanitizeACName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/** The image name docker2aci gives an image of a registry and repository. */
export function dockerImageName(registry: string, repository: string): string {
  return sanitizeACIdentifier(`${registry}/${repository}`)
}

/**
 * The name and version label of the image a registry reference gives: what a fetch stores it under, and so
 * what a later run looks it up by. The parser always sets a tag or a digest (the tag first, as Docker).
 */
export function registryImageName(r: {registry: string; repository: string; tag?: string; digest?: string}): {
  name: string
  version: string
} {
  return {name: dockerImageName(r.registry, r.repository), version: r.tag ?? r.digest ?? ''}
}

/** The name of the ACI of the layer with this chain ID. */
export function layerImageName(chainId: string): string {
  return `${LAYER_NAME_PREFIX}${chainId.replace(':', '-')}`
}

/** Docker's os/architecture/variant in appc's spelling (appc ToAppcOSArch). */
export function appcOsArch(config: ImageConfig): {os: string; arch: string} {
  const os = config.os ?? 'linux'
  const arch = config.architecture ?? 'amd64'
  const v = config.variant ?? ''
  const map: Record<string, string> = {
    amd64: 'amd64',
    '386': 'i386',
    arm64: 'aarch64',
    ppc64: 'ppc64',
    ppc64le: 'ppc64le',
    s390x: 's390x',
  }
  let a = map[arch]
  if (arch === 'arm') a = v === 'v6' ? 'armv6l' : 'armv7l'
  if (a === undefined) {
    throw new RktError(`the image is for the architecture ${arch}, which appc has no name for`, {code: 'ENOPLATFORM'})
  }
  return {os, arch: a}
}

function osArchLabels(config: ImageConfig): Label[] {
  const {os, arch} = appcOsArch(config)
  return [
    {name: 'os', value: os},
    {name: 'arch', value: arch},
  ]
}

/** The manifest of one layer's ACI: no app, the layer below as a dependency, the whitelist. */
export function layerManifest(opts: {
  name: string
  config: ImageConfig
  parent?: {name: string; id: string} | undefined
  whitelist: readonly string[]
  groups: readonly LinkGroup[]
}): Buffer {
  const m: ImageManifest = {
    acKind: 'ImageManifest',
    acVersion: APPC_SPEC_VERSION,
    name: opts.name,
    labels: osArchLabels(opts.config),
    dependencies: opts.parent ? [{imageName: opts.parent.name, imageID: opts.parent.id, labels: []}] : [],
    pathWhitelist: opts.whitelist,
    annotations:
      opts.groups.length > 0
        ? [{name: HARDLINKS_ANNOTATION, value: JSON.stringify(opts.groups.map((g) => [g.layer, g.target, ...g.links]))}]
        : [],
  }
  return Buffer.from(serializeImageManifest(m))
}

/** Reads the hardlink groups a layer ACI's manifest carries. */
export function groupsOf(annotations: readonly Annotation[]): LinkGroup[] {
  const a = annotations.find((x) => x.name === HARDLINKS_ANNOTATION)
  if (!a) return []
  const raw = JSON.parse(a.value) as unknown
  if (!Array.isArray(raw)) return []
  return raw
    .filter((g): g is string[] => Array.isArray(g) && g.length >= 3 && g.every((x) => typeof x === 'string'))
    .map(([layer, target, ...links]) => ({layer: layer!, target: target!, links}))
}

function user(u: string | undefined): {user: string; group: string} {
  if (u === undefined || u === '') return {user: '0', group: '0'}
  const i = u.indexOf(':')
  if (i < 0) return {user: u, group: u}
  return {user: u.slice(0, i) || '0', group: u.slice(i + 1) || '0'}
}

/** Where the image came from, for its name and annotations. */
export interface ImageOrigin {
  readonly name: string
  /** version label: the tag, or the digest. */
  readonly version?: string | undefined
  readonly originalName?: string | undefined
  readonly registry?: string | undefined
  readonly repository?: string | undefined
  readonly configDigest: string
  readonly manifestDigest?: string | undefined
}

/** The app of an image config, docker2aci's way. */
export function appOf(config: ImageConfig): App | undefined {
  const c = config.config
  if (!c) return undefined
  const exec = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])]
  const env = new Map<string, string>()
  for (const kv of c.Env ?? []) {
    const i = kv.indexOf('=')
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1))
  }
  const ports = Object.keys(c.ExposedPorts ?? {})
    .map((spec) => {
      const [p, proto] = spec.split('/') as [string, string | undefined]
      const port = Number(p)
      if (!/^[0-9]+$/.test(p) || port < 1 || port > 65535) {
        throw new RktError(`the image exposes the invalid port ${JSON.stringify(spec)}`, {code: 'EBADIMAGE'})
      }
      return {name: sanitizeACName(spec), protocol: proto ?? 'tcp', port, count: 1, socketActivated: false}
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const seen = new Map<string, number>()
  const mountPoints = Object.keys(c.Volumes ?? {})
    .sort()
    .map((p) => {
      let name = sanitizeACName(`volume/${p}`)
      const n = seen.get(name)
      seen.set(name, (n ?? 0) + 1)
      if (n !== undefined) name = `${name}-${n}`
      return {name, path: p, readOnly: false}
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const {user: u, group: g} = user(c.User)
  return {
    ...(exec.length > 0 ? {exec} : {}),
    user: u,
    group: g,
    supplementaryGIDs: [],
    eventHandlers: [],
    ...(c.WorkingDir ? {workingDirectory: c.WorkingDir} : {}),
    environment: [...env].map(([name, value]) => ({name, value})),
    isolators: [],
    mountPoints,
    ports,
    userAnnotations: {},
    userLabels: {},
  }
}

/** The manifest of the converted image: the app, empty rootfs, depending on its top layer's ACI. */
export function imageManifest(
  config: ImageConfig,
  origin: ImageOrigin,
  top: {name: string; id: string} | undefined,
): ImageManifest {
  const annotations: Annotation[] = []
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') annotations.push({name, value})
  }
  const c = config.config
  add('author', config.author)
  add('created', config.created)
  add(ANNOTATION.originalName, origin.originalName)
  add(ANNOTATION.registryUrl, origin.registry)
  add(ANNOTATION.repository, origin.repository)
  add(ANNOTATION.imageId, origin.configDigest)
  add(ANNOTATION.manifestHash, origin.manifestDigest)
  if (c?.Entrypoint && c.Entrypoint.length > 0) add(ANNOTATION.entrypoint, JSON.stringify(c.Entrypoint))
  if (c?.Cmd && c.Cmd.length > 0) add(ANNOTATION.cmd, JSON.stringify(c.Cmd))
  const app = appOf(config)
  return {
    acKind: 'ImageManifest',
    acVersion: APPC_SPEC_VERSION,
    name: origin.name,
    labels: [...(origin.version ? [{name: 'version', value: origin.version}] : []), ...osArchLabels(config)],
    ...(app ? {app} : {}),
    dependencies: top ? [{imageName: top.name, imageID: top.id, labels: []}] : [],
    pathWhitelist: [],
    annotations,
  }
}
