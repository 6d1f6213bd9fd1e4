// The runtime pod manifest stage0 writes for `rkt run`/`rkt prepare` (stage0/run.go generatePodManifest,
// stage0/common.go generateRuntimeApp, prepareIsolators, MergeMounts), and the checks of a manifest given
// whole with --pod-manifest (validatePodManifest).
//
// Every app gets its image's whole `app` section with the command line's overrides applied, so that stage1
// never needs to merge anything: exec (--exec and the app arguments), user, group, supplementary GIDs, working
// directory, environment, isolators, user annotations and labels. Where rkt's code and its documentation
// disagree, this module follows the choices listed in the doc comments below (and in the report).
import fs from 'node:fs'
import path from 'node:path'

import type {
  AnyIsolator,
  App,
  EnvironmentVariable,
  ExposedPort,
  ImageManifest,
  Isolator,
  Label,
  Mount,
  PodManifest,
  Port,
  RuntimeApp,
  SchemaWarning,
  Volume,
} from '../schema/index.js'
import type {AppFlags, EnvVar, MountFlag, PodFlags} from './spec.js'

import {RktError, UsageError, wrap} from '../errors.js'
import {MAX_MANIFEST_SIZE, isCanonicalImageId, parsePodManifest, serializePodManifest} from '../schema/index.js'
import {RKT_VERSION} from '../version.js'
import {ENV_NAME_PATTERN} from './spec.js'

/** An image the caller found for one app: its ID, name, labels and manifest. */
export interface ResolvedImage {
  /** The canonical image ID, `sha512-` and 128 hex digits. */
  readonly id: string
  readonly name: string
  readonly labels: readonly Label[]
  readonly manifest: ImageManifest
}

/** Inputs of buildPodManifest besides the command line and the images. */
export interface BuildPodManifestOptions {
  /** The caller's environment, read only with --inherit-env (default: process.env). */
  readonly environ?: Readonly<Record<string, string | undefined>>
  /** The --set-env-file variables, already read; when absent, the files named by the flags are read here. */
  readonly setEnvFile?: readonly EnvVar[]
  /** User and group of an app built from --exec for an image without an app section (rkt: rkt's own IDs). */
  readonly uid?: number
  readonly gid?: number
  /** Receives warnings (implicit volumes, inherited variables that cannot be passed on). */
  readonly warn?: (message: string) => void
  /** acVersion to write; rkt writes its own version. */
  readonly acVersion?: string
}

/** An empty volume made up for an image mount point that nothing satisfies. */
export interface ImplicitVolume {
  readonly app: string
  readonly mountPoint: string
  readonly path: string
  readonly volume: string
}

/** The manifest, its serialized text (what stage0 writes to `pod`), and the implicit volumes it added. */
export interface BuiltPodManifest {
  readonly manifest: PodManifest
  readonly text: string
  readonly implicitVolumes: readonly ImplicitVolume[]
}

/** What buildPodManifest reads of run's arguments (app add gives it one app and no pod flags). */
export interface ManifestArgs {
  readonly pod: Pick<PodFlags, 'podManifest' | 'setEnvFiles' | 'inheritEnv' | 'setEnv' | 'mounts' | 'volumes' | 'ports'>
  readonly apps: readonly AppFlags[]
}

/** Pod annotation rkt writes into every manifest it generates: `false` for run and prepare. */
export const MUTABLE_ANNOTATION = 'coreos.com/rkt/stage1/mutable'

const MAX_ENV_FILE_SIZE = 1024 * 1024

const shortId = (id: string): string => id.slice(0, 'sha512-'.length + 32)

/**
 * The default app name of an image (common.ImageNameToAppName): its last path component, lower-cased, every
 * character outside [a-z0-9-] replaced by "-", leading and trailing dashes dropped. `example.com/My_App` → `my-app`.
 */
export function imageNameToAppName(imageName: string): string {
  const last = imageName.split('/').at(-1) ?? ''
  const name = last
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
  if (name === '') {
    throw new UsageError(`cannot derive an app name from image name ${JSON.stringify(imageName)}`, {
      hint: 'name the app with --name after the image',
    })
  }
  return name
}

// ---------------------------------------------------------------------------------------------------------
// Environment.

/**
 * Reads a --set-env-file text: `NAME=VALUE` lines; empty lines and lines starting with "#" or ";" are skipped
 * (no trimming, as rkt); the value is everything after the first "=", verbatim. A malformed line, an invalid
 * name or a name given twice is an error naming `source:line`.
 */
export function parseEnvFile(text: string, source: string): EnvVar[] {
  const vars = new Map<string, string>()
  const lines = text.split('\n')
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return
    const where = `${source}:${i + 1}`
    const eq = line.indexOf('=')
    if (eq <= 0) {
      throw new UsageError(`${where}: environment variable must be specified as NAME=VALUE`, {
        hint: 'one NAME=VALUE per line; lines starting with # or ; are comments',
      })
    }
    const name = line.slice(0, eq)
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new UsageError(`${where}: ${JSON.stringify(name)} is not a valid environment variable name`, {
        hint: 'names are letters, digits, "_", "." and "-", not starting with a digit',
      })
    }
    if (vars.has(name)) {
      throw new UsageError(`${where}: environment variable ${JSON.stringify(name)} already set`, {
        hint: 'give each variable once',
      })
    }
    const value = line.slice(eq + 1)
    if (value.includes('\0'))
      throw new UsageError(`${where}: the value of ${name} contains a NUL byte`, {
        hint: 'environment values cannot hold NUL',
      })
    vars.set(name, value)
  })
  return [...vars].map(([name, value]) => ({name, value}))
}

function readLimited(file: string, max: number, what: string): Buffer {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${(err as Error).message}`, {cause: err})
  }
  try {
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const buf = Buffer.alloc(64 * 1024)
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      total += n
      if (total > max)
        throw new UsageError(`${what} ${file} is larger than ${max} bytes`, {hint: `is ${file} the right file?`})
      chunks.push(buf.subarray(0, n))
    }
    return Buffer.concat(chunks)
  } catch (err) {
    if (err instanceof RktError) throw err
    throw new UsageError(`cannot read ${what} ${file}: ${(err as Error).message}`, {cause: err})
  } finally {
    fs.closeSync(fd)
  }
}

/** Reads the --set-env-file files in order; a variable set in two files is an error, as in rkt. */
export function loadEnvFiles(files: readonly string[]): EnvVar[] {
  const all = new Map<string, string>()
  for (const file of files) {
    let text: string
    try {
      text = new TextDecoder('utf-8', {fatal: true}).decode(readLimited(file, MAX_ENV_FILE_SIZE, '--set-env-file'))
    } catch (err) {
      if (err instanceof RktError) throw err
      throw new UsageError(`--set-env-file ${file} is not UTF-8 text`, {cause: err})
    }
    for (const {name, value} of parseEnvFile(text, file)) {
      if (all.has(name)) {
        throw new UsageError(`environment variable ${JSON.stringify(name)} already set (file ${file})`, {
          hint: 'set each variable in one --set-env-file only',
        })
      }
      all.set(name, value)
    }
  }
  return [...all].map(([name, value]) => ({name, value}))
}

/** The layers of an app's environment, lowest precedence first. */
export interface EnvironmentLayers {
  /** The caller's environment, with --inherit-env only. */
  readonly inherited: readonly EnvVar[]
  readonly image: readonly EnvironmentVariable[]
  readonly setEnvFile: readonly EnvVar[]
  readonly setEnv: readonly EnvVar[]
  /** --environment of this app. */
  readonly app: readonly EnvVar[]
}

/**
 * An app's environment, last wins: inherited < image < --set-env-file < --set-env < --environment (rkt's
 * documented order; rkt's code lets --set-env-file and --set-env override --environment). The image's
 * variables keep their order first; a variable keeps the position of its first appearance.
 */
export function composeEnvironment(layers: EnvironmentLayers): EnvironmentVariable[] {
  const env = new Map<string, string>()
  for (const e of layers.image) env.set(e.name, e.value)
  for (const e of layers.inherited) if (!env.has(e.name)) env.set(e.name, e.value)
  for (const layer of [layers.setEnvFile, layers.setEnv, layers.app]) for (const e of layer) env.set(e.name, e.value)
  return [...env].map(([name, value]) => ({name, value}))
}

function inheritedEnvironment(
  environ: Readonly<Record<string, string | undefined>>,
  warn: (m: string) => void,
): EnvVar[] {
  const out: EnvVar[] = []
  const skipped: string[] = []
  for (const [name, value] of Object.entries(environ)) {
    if (value === undefined) continue
    if (!ENV_NAME_PATTERN.test(name) || value.includes('\0')) skipped.push(name)
    else out.push({name, value})
  }
  if (skipped.length > 0) {
    warn(
      `--inherit-env: not passing ${skipped.map((n) => JSON.stringify(n)).join(', ')} (not valid environment variable names)`,
    )
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Isolators, mounts, volumes, ports.

/**
 * The image's isolators with the isolator flags applied (prepareIsolators): --memory and --cpu become
 * resource isolators with request = limit = the value; each flag replaces the image's isolators of the same
 * name (rkt appends memory and cpu, leaving the image's in place before them: the last one wins either way);
 * --caps-retain/--caps-remove drop both capability sets; --seccomp drops both seccomp sets.
 */
export function applyIsolatorFlags(isolators: readonly AnyIsolator[], f: AppFlags): AnyIsolator[] {
  let out = [...isolators]
  const replace = (names: readonly string[], isolator: Isolator): void => {
    out = out.filter((i) => !names.includes(i.name))
    out.push(isolator)
  }
  if (f.memory !== undefined) {
    replace(['resource/memory'], {name: 'resource/memory', value: {request: f.memory, limit: f.memory}})
  }
  if (f.cpu !== undefined) replace(['resource/cpu'], {name: 'resource/cpu', value: {request: f.cpu, limit: f.cpu}})
  if (f.cpuShares !== undefined) replace(['os/linux/cpu-shares'], {name: 'os/linux/cpu-shares', value: f.cpuShares})
  if (f.oomScoreAdj !== undefined) {
    replace(['os/linux/oom-score-adj'], {name: 'os/linux/oom-score-adj', value: f.oomScoreAdj})
  }
  const caps = ['os/linux/capabilities-retain-set', 'os/linux/capabilities-remove-set']
  if (f.capsRetain !== undefined) {
    replace(caps, {name: 'os/linux/capabilities-retain-set', value: {set: [...f.capsRetain]}})
  } else if (f.capsRemove !== undefined) {
    replace(caps, {name: 'os/linux/capabilities-remove-set', value: {set: [...f.capsRemove]}})
  }
  if (f.seccomp !== undefined) {
    const value = {set: [...f.seccomp.set], ...(f.seccomp.errno === undefined ? {} : {errno: f.seccomp.errno})}
    const seccomp = ['os/linux/seccomp-retain-set', 'os/linux/seccomp-remove-set']
    replace(
      seccomp,
      f.seccomp.mode === 'retain'
        ? {name: 'os/linux/seccomp-retain-set', value}
        : {name: 'os/linux/seccomp-remove-set', value},
    )
  }
  return out
}

/** A path for comparing mount targets (Go's path.Clean). */
function cleanPath(p: string): string {
  const n = path.posix.normalize(p)
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n
}

/** stage0.MergeMounts: the app's own mounts first, then the pod-wide ones; the first mount of a path wins. */
export function mergeMounts(podMounts: readonly MountFlag[], appMounts: readonly MountFlag[]): Mount[] {
  const seen = new Set<string>()
  const out: Mount[] = []
  for (const m of [...appMounts, ...podMounts]) {
    const key = cleanPath(m.path)
    if (seen.has(key)) continue
    seen.add(key)
    out.push({volume: m.volume, path: m.path})
  }
  return out
}

/**
 * Adds an `empty` volume for every image mount point that no mount (same path) and no pod volume (same name)
 * satisfies. rkt's stage1 does this at run time (stage1/init/common/mount.go); here it is written into the
 * manifest so every stage1 sees the same volumes: the volume is named `<app>-<mount point>` (rkt's name), is
 * mode 0755 owned by 0:0, read-only when the mount point is, and the app gets a mount binding it at the mount
 * point's path. A stage1 giving Docker images their copy-up semantics recognises these volumes by that name.
 */
function addImplicitVolumes(
  apps: RuntimeApp[],
  effective: (i: number) => App | undefined,
  volumes: Volume[],
  warn: (m: string) => void,
): ImplicitVolume[] {
  const names = new Set(volumes.map((v) => v.name))
  const made: ImplicitVolume[] = []
  apps.forEach((ra, i) => {
    const mounts = [...ra.mounts]
    for (const mp of effective(i)?.mountPoints ?? []) {
      if (mp.path === undefined) continue
      const target = cleanPath(mp.path)
      if (names.has(mp.name) || mounts.some((m) => m.path !== undefined && cleanPath(m.path) === target)) continue
      const volume = `${ra.name}-${mp.name}`
      if (names.has(volume)) {
        throw new UsageError(
          `no volume for mount point ${JSON.stringify(mp.name)} of app ${JSON.stringify(ra.name)}, and its implicit volume name ${JSON.stringify(volume)} is taken`,
          {hint: `provide the volume: --volume=${mp.name},kind=empty (or kind=host,source=/PATH)`},
        )
      }
      names.add(volume)
      volumes.push({
        name: volume,
        kind: 'empty',
        mode: '0755',
        uid: 0,
        gid: 0,
        ...(mp.readOnly ? {readOnly: true} : {}),
      })
      mounts.push({volume, path: mp.path})
      made.push({app: ra.name, mountPoint: mp.name, path: mp.path, volume})
      warn(
        `no volume specified for mount point ${JSON.stringify(mp.name)} of app ${JSON.stringify(ra.name)}, implicitly creating an "empty" volume ${JSON.stringify(volume)}; it will be removed when the pod is garbage-collected`,
      )
    }
    apps[i] = {...ra, mounts}
  })
  return made
}

/**
 * common/networking ForwardedPorts: each exposed port names exactly one app port (unless it carries its own
 * podPort), and no two forward the same protocol and host port on overlapping addresses.
 */
function checkPorts(ports: readonly ExposedPort[], apps: readonly (App | undefined)[]): void {
  const seen: {protocol: string; hostPort: number; hostIP: string; podPort: number}[] = []
  for (const ep of ports) {
    let podPort: Port | undefined = ep.podPort
    if (podPort === undefined) {
      const matches = apps.flatMap((a) => (a?.ports ?? []).filter((p) => p.name === ep.name))
      if (matches.length > 1) {
        throw new UsageError(`port name ${JSON.stringify(ep.name)} is defined in several apps`, {
          hint: 'rkt forwards a port name to exactly one app',
        })
      }
      podPort = matches[0]
      if (podPort === undefined) {
        const known = [...new Set(apps.flatMap((a) => (a?.ports ?? []).map((p) => p.name)))]
        throw new UsageError(`port name ${JSON.stringify(ep.name)} could not be found in any apps`, {
          hint:
            known.length === 0
              ? 'the images declare no ports; --port=NAME:HOSTPORT must name a port of the image'
              : `ports the images declare: ${known.join(', ')}`,
        })
      }
    }
    const protocol = podPort.protocol ?? ''
    const hostIP = ep.hostIP ?? '0.0.0.0'
    const clash = seen.find(
      (o) =>
        o.protocol === protocol &&
        o.hostPort === ep.hostPort &&
        (o.hostIP === '0.0.0.0' || hostIP === '0.0.0.0' || o.hostIP === hostIP),
    )
    if (clash !== undefined) {
      throw new UsageError(`port ${protocol}-${hostIP}:${ep.hostPort} already mapped to pod port ${clash.podPort}`, {
        hint: 'forward each host port once',
      })
    }
    seen.push({protocol, hostPort: ep.hostPort, hostIP, podPort: podPort.port})
  }
}

function serialize(manifest: PodManifest): string {
  try {
    return serializePodManifest(manifest)
  } catch (err) {
    throw wrap('the pod manifest is not valid', err, {hint: 'check the values given to the flags it names'})
  }
}

// ---------------------------------------------------------------------------------------------------------
// Generated manifests (run and prepare with images).

function checkImage(image: ResolvedImage | undefined, flags: AppFlags): ResolvedImage {
  if (image === undefined) throw new RktError(`no resolved image for ${flags.image}`)
  if (!isCanonicalImageId(image.id)) {
    throw new RktError(`image ${flags.image} resolved to ${JSON.stringify(image.id)}, which is not a full image ID`)
  }
  return image
}

function runtimeApp(
  name: string,
  flags: AppFlags,
  image: ResolvedImage,
  podMounts: readonly MountFlag[],
  env: Omit<EnvironmentLayers, 'image' | 'app'>,
  opts: BuildPodManifestOptions,
): RuntimeApp {
  const base = image.manifest.app
  if (base === undefined && flags.exec === undefined) {
    throw new UsageError(`image ${image.name} (${shortId(image.id)}) has no app section and --exec is not provided`, {
      hint: `give the command to run: rkt run ${flags.image} --exec=/path/to/program`,
    })
  }
  let exec = base?.exec
  if (flags.exec !== undefined) exec = [flags.exec]
  if (flags.args.length > 0) exec = [...(exec ?? []), ...flags.args]
  const workingDirectory = flags.workingDir ?? base?.workingDirectory
  const app: App = {
    ...(exec === undefined ? {} : {exec}),
    // An image without an app section runs as the invoking user (rkt: os.Getuid/os.Getgid).
    user: flags.user ?? base?.user ?? String(opts.uid ?? process.getuid?.() ?? 0),
    group: flags.group ?? base?.group ?? String(opts.gid ?? process.getgid?.() ?? 0),
    supplementaryGIDs: flags.supplementaryGIDs ?? base?.supplementaryGIDs ?? [],
    eventHandlers: base?.eventHandlers ?? [],
    ...(workingDirectory === undefined ? {} : {workingDirectory}),
    environment: composeEnvironment({...env, image: base?.environment ?? [], app: flags.environment}),
    isolators: applyIsolatorFlags(base?.isolators ?? [], flags),
    mountPoints: base?.mountPoints ?? [],
    ports: base?.ports ?? [],
    userAnnotations: flags.userAnnotations ?? base?.userAnnotations ?? {},
    userLabels: flags.userLabels ?? base?.userLabels ?? {},
  }
  return {
    name,
    image: {id: image.id, name: image.name, labels: image.labels},
    app,
    readOnlyRootFS: flags.readOnlyRootFS,
    mounts: mergeMounts(podMounts, flags.mounts),
    annotations: flags.annotations,
  }
}

/**
 * The runtime pod manifest of `rkt run`/`rkt prepare` with images, as stage0 writes it: one app per image in
 * command-line order (named by --name or after the image), pod volumes from --volume plus implicit empty
 * volumes, ports from --port, the pod annotation `coreos.com/rkt/stage1/mutable: "false"`, and acVersion set
 * to rkt's version (as rkt does). The result is validated by serializing it. `images[i]` is the image of
 * `args.apps[i]`.
 */
export function buildPodManifest(
  args: ManifestArgs,
  images: readonly ResolvedImage[],
  opts: BuildPodManifestOptions = {},
): BuiltPodManifest {
  const warn = opts.warn ?? (() => {})
  if (args.pod.podManifest !== undefined) {
    throw new RktError('buildPodManifest does not take --pod-manifest; use loadPodManifestArg')
  }
  if (images.length !== args.apps.length) {
    throw new RktError(`${args.apps.length} images on the command line but ${images.length} resolved`)
  }
  const setEnvFile = opts.setEnvFile ?? loadEnvFiles(args.pod.setEnvFiles)
  const inherited = args.pod.inheritEnv ? inheritedEnvironment(opts.environ ?? process.env, warn) : []
  const env = {inherited, setEnvFile, setEnv: args.pod.setEnv}
  const apps: RuntimeApp[] = []
  args.apps.forEach((flags, i) => {
    const image = checkImage(images[i], flags)
    const name = flags.name ?? imageNameToAppName(image.manifest.name)
    if (apps.some((a) => a.name === name)) {
      throw new UsageError(`multiple apps with name ${name}`, {
        hint: `give each app its own name with --name after its image, e.g. ${flags.image} --name=${name}-2`,
      })
    }
    apps.push(runtimeApp(name, flags, image, args.pod.mounts, env, opts))
  })
  const volumes = [...args.pod.volumes]
  const implicitVolumes = addImplicitVolumes(apps, (i) => apps[i]?.app, volumes, warn)
  const ports: ExposedPort[] = args.pod.ports.map((p) => ({...p}))
  checkPorts(
    ports,
    apps.map((a) => a.app),
  )
  const manifest: PodManifest = {
    acKind: 'PodManifest',
    acVersion: opts.acVersion ?? RKT_VERSION,
    apps,
    volumes,
    isolators: [],
    annotations: [{name: MUTABLE_ANNOTATION, value: 'false'}],
    ports,
    userAnnotations: {},
    userLabels: {},
  }
  return {manifest, text: serialize(manifest), implicitVolumes}
}

// ---------------------------------------------------------------------------------------------------------
// --pod-manifest.

/** What an app of a --pod-manifest names, for the caller to resolve in the store. */
export interface PodManifestImageRef {
  readonly app: string
  readonly id?: string
  readonly name?: string
  readonly labels: readonly Label[]
}

/** A --pod-manifest file, parsed, with the images its apps need. */
export interface PodManifestArg {
  readonly file: string
  readonly manifest: PodManifest
  readonly warnings: readonly SchemaWarning[]
  /** One per app, in order. */
  readonly images: readonly PodManifestImageRef[]
}

/**
 * Reads and parses a --pod-manifest file with our schema. Unlike rkt, which requires every app's `image.id`,
 * an app may name its image by `name` (and `labels`) instead: the caller resolves each entry of `images` (by
 * ID, or by name and labels in the store) and passes the results to completePodManifestArg. An app with
 * neither is an error, as is a pod without apps.
 */
export function loadPodManifestArg(file: string): PodManifestArg {
  const bytes = readLimited(file, MAX_MANIFEST_SIZE, 'pod manifest')
  let parsed: ReturnType<typeof parsePodManifest>
  try {
    parsed = parsePodManifest(bytes)
  } catch (err) {
    throw wrap(`cannot use --pod-manifest ${file}`, err, {hint: 'the file must be an appc pod manifest (JSON)'})
  }
  const {manifest, warnings} = parsed
  if (manifest.apps.length === 0) {
    throw new UsageError(`--pod-manifest ${file}: pod must contain at least one application`, {
      hint: 'list the apps under "apps", each with "name" and "image": {"id": …} or {"name": …}',
    })
  }
  const images = manifest.apps.map((ra): PodManifestImageRef => {
    if (ra.image.id === undefined && ra.image.name === undefined) {
      throw new UsageError(`--pod-manifest ${file}: no image ID or name for app ${JSON.stringify(ra.name)}`, {
        hint: 'give "image": {"id": "sha512-…"} (or a name the store knows)',
      })
    }
    return {
      app: ra.name,
      ...(ra.image.id === undefined ? {} : {id: ra.image.id}),
      ...(ra.image.name === undefined ? {} : {name: ra.image.name}),
      labels: ra.image.labels,
    }
  })
  return {file, manifest, warnings, images}
}

/**
 * Finishes a --pod-manifest with the images the caller resolved (`images[i]` for app i): pins each app's
 * `image.id` (a given ID must match), fills `image.name` when absent, checks that every app has an app section
 * in the pod manifest or its image, adds the implicit empty volumes as buildPodManifest does, and checks the
 * forwarded ports. The user's app sections are kept as written (the image's is not copied in).
 */
export function completePodManifestArg(
  arg: PodManifestArg,
  images: readonly ResolvedImage[],
  opts: Pick<BuildPodManifestOptions, 'warn'> = {},
): BuiltPodManifest {
  const warn = opts.warn ?? (() => {})
  const m = arg.manifest
  if (images.length !== m.apps.length) {
    throw new RktError(`${m.apps.length} apps in ${arg.file} but ${images.length} images resolved`)
  }
  const effective: (App | undefined)[] = []
  const apps = m.apps.map((ra, i): RuntimeApp => {
    const image = images[i] as ResolvedImage
    if (!isCanonicalImageId(image.id)) {
      throw new RktError(`the image of app ${ra.name} resolved to ${JSON.stringify(image.id)}, not a full image ID`)
    }
    // Any unique prefix of the ID names it (`rkt fetch` prints `sha512-` + 32 hex), as the store resolved it.
    if (ra.image.id !== undefined && !image.id.startsWith(ra.image.id)) {
      throw new RktError(`app ${ra.name}: image ${ra.image.id} resolved to a different image ${image.id}`)
    }
    const app = ra.app ?? image.manifest.app
    if (app === undefined) {
      throw new UsageError(`no app section in the pod manifest or the image manifest of app ${ra.name}`, {
        hint: `add "app": {"exec": […], "user": "0", "group": "0"} to app ${ra.name} in ${arg.file}`,
      })
    }
    effective.push(app)
    return {...ra, image: {...ra.image, id: image.id, ...(ra.image.name === undefined ? {name: image.name} : {})}}
  })
  const volumes = [...m.volumes]
  const implicitVolumes = addImplicitVolumes(apps, (i) => effective[i], volumes, warn)
  checkPorts(m.ports, effective)
  const manifest: PodManifest = {...m, apps, volumes}
  return {manifest, text: serialize(manifest), implicitVolumes}
}
