// `rkt prepare`, `rkt run` and `rkt run-prepared` (rkt's stage0/run.go; docs/architecture.md): resolve the images and
// the stage1, write the pod manifest, render the trees, lay out the pod directory, and hand the pod to the stage1's run
// entrypoint with the pod lock in RKT_LOCK_FD. `rkt run` becomes the pod: the stage1 bundle runs in this process (no
// second Node start) and execs its engine, so the PID that started `rkt run` is the pod's.
import fs from 'node:fs'
import path from 'node:path'

import type {Globals} from '../config/globals.js'
import type {PodManifest} from '../schema/index.js'
import type {ImageRecord} from '../store/index-file.js'
import type {RunArgs, RunPreparedArgs, SandboxArgs} from './spec.js'
import type {ResolvedImage} from './manifest.js'
import type {FileLock} from '../sys/lock.js'
import type {Stage1Choice, Stage1Image} from './stage1-image.js'

import {resolveGlobals} from '../config/globals.js'
import {RktError, wrap} from '../errors.js'
import {ImageLookup} from '../fetch/lookup.js'
import {registerPodDir} from '../mds/client.js'
import {parseImageManifest, serializePodManifest, VALID_OS_ARCH} from '../schema/index.js'
import {ENV, runArgv} from '../contract/entrypoints.js'
import type {PodPaths} from '../contract/paths.js'
import {formatIdRange, type IdRange} from '../contract/id-range.js'
import {LISTEN_FDS_START, listenFds} from '../contract/systemd.js'
import {ImageStore} from '../store/image-store.js'
import {TreeStore} from '../store/tree-store.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {mountOverlay, mountsUnder} from '../sys/mounts.js'
import {MNT_DETACH, setCloexec, umount2} from '../sys/native.js'
import {formatNetList} from './spec.js'
import {makeResolvConf} from '../contract/resolv-conf.js'
import {makeHostsFile} from './dns.js'
import {linkMtab} from './mtab.js'
import {buildPodManifest, completePodManifestArg, loadPodManifestArg, MUTABLE_ANNOTATION} from './manifest.js'
import {claimPodName} from './names.js'
import {type Pod, PodStore} from './pods.js'
import {releaseHostPorts} from './ports.js'
import {checkIdRangeFree, chownShifted, mountShifted, podIdRange, reserveIdRange} from './private-users.js'
import {becomeEntrypoint, podStage1, resolveStage1} from './stage1-image.js'

/** What the commands print and how (the library never writes to stdout or stderr itself). */
export interface RunIo {
  readonly warn: (message: string) => void
  readonly info: (message: string) => void
  /** Under --debug: what is being done, step by step. */
  readonly debug?: (message: string) => void
  /** Progress of long work (rendering an image): bytes done, total. */
  readonly progress?: (label: string) => ((done: number, total: number) => void) & {end(): void}
}

/**
 * Socket activation (docs/stage1.md "Under systemd"): the unit's sockets stay at 3, 4, … with LISTEN_FDS and
 * LISTEN_PID (ours, which stays the run entrypoint's) for the run entrypoint; variables meant for another process
 * are dropped so that no stage1 takes them for its own.
 */
function keepListenFds(io: RunIo): void {
  const fds = listenFds(process.env, process.pid)
  if (fds === undefined) {
    for (const name of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete process.env[name]
    return
  }
  for (let i = 0; i < fds.count; i++) setCloexec(LISTEN_FDS_START + i, false)
  io.debug?.(`socket activation: handing ${fds.count} listening sockets to the pod`)
}

/** rkt refuses to run pods unless root (ensureSuperuser). */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) {
    throw new RktError(`cannot run as unprivileged user: ${command} needs root`, {
      hint: `run it as root: sudo rkt ${command} …`,
    })
  }
}

/** The apps' images, in order, fetched when needed; downloads (not local files) show progress, as rkt run's do. */
export async function lookupAppImages(
  globals: Globals,
  store: ImageStore,
  args: {readonly pod: Pick<RunArgs['pod'], 'pullPolicy'>; readonly apps: RunArgs['apps']},
  io: RunIo,
): Promise<ImageRecord[]> {
  const bars = new Map<string, ReturnType<NonNullable<RunIo['progress']>>>()
  const lookup = new ImageLookup(store, {
    globals,
    pullPolicy: args.pod.pullPolicy,
    onWarning: io.warn,
    onInfo: io.info,
    onDebug: io.debug,
    onProgress: (label, done, total, kind) => {
      if (kind === 'file') return
      let bar = bars.get(label)
      if (!bar && io.progress) bars.set(label, (bar = io.progress(`Downloading ${label}`)))
      bar?.(done, total)
    },
  })
  const images: ImageRecord[] = []
  try {
    for (const app of args.apps) {
      try {
        images.push(await lookup.find({image: app.image, signature: app.signature}))
      } finally {
        for (const bar of bars.values()) bar.end()
        bars.clear()
      }
      io.debug?.(`image ${app.image} is ${images.at(-1)!.id}`)
    }
  } finally {
    lookup.close()
  }
  return images
}

/** The resolved form buildPodManifest takes, after rkt's os/arch check (stage0/run.go prepareAppImage). */
export function resolvedImage(store: ImageStore, rec: ImageRecord): ResolvedImage {
  const manifest = parseImageManifest(store.manifestBytes(rec.key)).manifest
  const labels = new Map(manifest.labels.map((l) => [l.name, l.value]))
  const os = labels.get('os')
  const arch = labels.get('arch')
  if (os === undefined)
    throw new RktError(`missing os label in the image manifest of ${manifest.name}`, {code: 'EOSARCH'})
  if (arch === undefined)
    throw new RktError(`missing arch label in the image manifest of ${manifest.name}`, {code: 'EOSARCH'})
  // rkt's stage0 runs only Linux images, on the architectures it knows (stage0/arch.go).
  const archs = os === 'linux' ? (VALID_OS_ARCH['linux'] ?? []) : []
  if (os !== 'linux' || !archs.includes(arch)) {
    throw new RktError(`bad os "${os}" / arch "${arch}" in the image manifest of ${manifest.name}`, {
      code: 'EOSARCH',
      hint: 'rkt runs linux images only',
    })
  }
  return {id: rec.id, name: manifest.name, labels: manifest.labels, manifest}
}

function stage1ChoiceOf(args: RunArgs): Stage1Choice {
  const s = args.pod.stage1
  return s === undefined ? {kind: 'default'} : {kind: s.kind, value: s.location}
}

/**
 * Copies a tree exactly (ownership, modes, xattrs, links): --no-overlay. With a uid range, the copy is made
 * through an idmapped view of the tree (at `view`, unmounted after), so it is the range's from the start.
 */
async function copyTree(from: string, to: string, shift?: {range: IdRange; view: string}): Promise<void> {
  fs.mkdirSync(to, {recursive: true})
  const {execa} = await import('execa')
  if (shift) mountShifted(from, shift.view, shift.range)
  try {
    await execa('cp', ['-a', '--reflink=auto', `${shift ? shift.view : from}/.`, to])
  } finally {
    if (shift) umount2(shift.view, MNT_DETACH)
  }
}

/** A prepared pod, still locked by this process (in prepare/). */
interface PreparedPod {
  readonly pod: Pod
  readonly globals: Globals
}

/** What a sandbox's manifest has that run's has not: it is mutable, with the pod's own annotations and labels. */
type SandboxManifest = Pick<SandboxArgs, 'annotations' | 'userAnnotations' | 'userLabels'>

/** Everything before the pod is handed to a stage1: shared by prepare, run and app sandbox. */
async function preparePod(args: RunArgs, globals: Globals, io: RunIo, sandbox?: SandboxManifest): Promise<PreparedPod> {
  const store = ImageStore.open(globals.dir)
  const trees = new TreeStore(store)
  let images: ImageRecord[]
  let built: {readonly text: string; readonly manifest: PodManifest}
  if (args.pod.podManifest !== undefined) {
    const arg = loadPodManifestArg(args.pod.podManifest)
    for (const w of arg.warnings) io.warn(`pod manifest: ${w.message}`)
    images = arg.images.map((ref) =>
      ref.id !== undefined
        ? store.resolve(ref.id)
        : store.resolve(
            `${ref.name}${ref.labels.map((l) => (l.name === 'version' ? `:${l.value}` : `,${l.name}=${l.value}`)).join('')}`,
          ),
    )
    built = completePodManifestArg(
      arg,
      images.map((r) => resolvedImage(store, r)),
      {warn: io.warn},
    )
  } else {
    images = await lookupAppImages(globals, store, args, io)
    built = buildPodManifest(
      args,
      images.map((r) => resolvedImage(store, r)),
      {warn: io.warn},
    )
  }
  if (sandbox) {
    const manifest = {
      ...built.manifest,
      annotations: [{name: MUTABLE_ANNOTATION, value: 'true'}, ...sandbox.annotations],
      userAnnotations: sandbox.userAnnotations,
      userLabels: sandbox.userLabels,
    }
    built = {manifest, text: serializePodManifest(manifest)}
  }
  const manifestText = built.text
  const appNames = built.manifest.apps.map((a) => a.name)
  if (args.pod.interactive && appNames.length !== 1) {
    throw new RktError('--interactive needs exactly one app', {code: 'EUSAGE'})
  }
  const stage1 = await resolveStage1(globals, store, stage1ChoiceOf(args), io)
  io.debug?.(`stage1 is ${stage1.manifest.name} (${stage1.record.id}), interface version ${stage1.interfaceVersion}`)

  // Render first (the long part), then make the pod: nothing half-made is left for a bad image. Each tree
  // stays locked (shared) until the pod has recorded it, so `rkt image gc` cannot remove it in between.
  // One render (and one lock) per distinct image: apps sharing an image share its tree, and a second
  // lock on the same tree from this process would wait for the first.
  const held: FileLock[] = []
  const rendered = new Map<string, string>()
  const render = (rec: ImageRecord, label: string): string => {
    const known = rendered.get(rec.key)
    if (known) return known
    const bar = io.progress?.(`Rendering ${label}`)
    try {
      const tree = trees.renderHeld(rec.key, bar ? {onProgress: bar} : {})
      held.push(tree.lock)
      rendered.set(rec.key, tree.treeId)
      return tree.treeId
    } finally {
      bar?.end()
    }
  }
  try {
    const stage1Tree = render(stage1.record, stage1.manifest.name)
    const appTrees = images.map((rec, i) => render(rec, appNames[i]!))
    return await makePod(globals, store, args, {stage1, stage1Tree, images, appNames, appTrees, manifestText}, io)
  } finally {
    for (const l of held) l.release()
  }
}

/** What preparePod has resolved and rendered for the pod. */
interface PodParts {
  readonly stage1: Stage1Image
  readonly stage1Tree: string
  readonly images: readonly ImageRecord[]
  readonly appNames: readonly string[]
  readonly appTrees: readonly string[]
  readonly manifestText: string
}

/** Creates the pod directory (locked, in prepare/) and fills it. */
async function makePod(
  globals: Globals,
  store: ImageStore,
  args: RunArgs,
  parts: PodParts,
  io: RunIo,
): Promise<PreparedPod> {
  const {stage1, stage1Tree, images, appNames, appTrees, manifestText} = parts
  const trees = new TreeStore(store)
  const pods = new PodStore(globals.dir)
  const pod = pods.create()
  io.debug?.(`pod ${pod.uuid} created in ${pod.path}`)
  const p = pod.paths
  if (args.pod.name !== undefined) {
    try {
      claimPodName(pods, pod, args.pod.name)
    } catch (err) {
      fs.rmSync(pod.path, {recursive: true}) // nothing in it yet: no aborted prepare is left behind
      pod.unlock()
      throw err
    }
  }
  try {
    writeFileAtomic(p.manifest, manifestText, 0o640)
    fs.mkdirSync(p.stage1, {recursive: true})
    fs.writeFileSync(p.stage1Manifest, store.manifestBytes(stage1.record.key))
    fs.writeFileSync(p.stage1TreeStoreId, stage1Tree)
    fs.mkdirSync(path.join(pod.path, 'appsinfo')) // a sandbox's is empty until rkt app add
    appNames.forEach((name, i) => {
      fs.mkdirSync(p.appInfo(name), {recursive: true})
      fs.writeFileSync(p.appInfoManifest(name), store.manifestBytes(images[i]!.key))
      fs.writeFileSync(p.appTreeStoreId(name), appTrees[i]!)
      const cache = store.layout.engineCache(images[i]!.key)
      fs.mkdirSync(cache, {recursive: true, mode: 0o700})
      fs.writeFileSync(p.appEngineCache(name), path.resolve(cache))
    })
    const range = args.pod.privateUsers ? reserveIdRange(pods, pod) : undefined
    if (args.pod.noOverlay) {
      const copy = (tree: string, to: string) =>
        copyTree(trees.rootfs(tree), to, range && {range, view: p.idmappedTree(tree)})
      await copy(stage1Tree, p.stage1Rootfs)
      for (const [i, name] of appNames.entries()) {
        fs.mkdirSync(p.app(name), {recursive: true})
        fs.writeFileSync(p.appManifest(name), store.manifestBytes(images[i]!.key))
        await copy(appTrees[i]!, p.appRootfs(name))
      }
    } else {
      fs.writeFileSync(p.overlayPrepared, '')
      for (const kind of ['upper', 'work'] as const) {
        fs.mkdirSync(p.overlay(stage1Tree, kind), {recursive: true})
        appNames.forEach((name, i) => fs.mkdirSync(p.overlay(appTrees[i]!, kind, name), {recursive: true}))
      }
    }
    if (args.pod.uuidFileSave) writeFileAtomic(args.pod.uuidFileSave, `${pod.uuid}\n`)
    store.touch([stage1.record.key, ...images.map((r) => r.key)])
  } catch (err) {
    pod.unlock() // left in prepare/, unlocked: an aborted prepare that gc removes
    throw wrap(`cannot prepare pod ${pod.uuid}`, err)
  }
  return {pod, globals}
}

/**
 * Mounts the pod's overlays (stage1 rootfs, then each app's rootfs inside it) when it was prepared for them.
 * With a uid range, each overlay's lower layer is its store tree seen through an idmapped mount and its upper
 * directory belongs to the range, so the pod's root owns its trees (copy-ups keep the shifted owners). Host
 * root still writes the stage1's files through the overlays: an idmapped mount would refuse it (EOVERFLOW),
 * as its ids lie outside the range. A --no-overlay pod's copies were made shifted (copyTree).
 */
function mountPod(pod: Pod, trees: TreeStore, range: IdRange | undefined): void {
  try {
    mountPodLayers(pod, trees, range)
    closeAppTrees(pod.paths)
  } catch (err) {
    throw wrap(`cannot mount the root file systems of pod ${pod.uuid}`, err)
  }
}

/**
 * The apps' files are for their owner only, also where the data directory's group may read the pod's records (`rkt
 * install`, docs/install.md): the overlays' layers and the stage1's opt/stage2, where each app's root is mounted.
 */
function closeAppTrees(p: PodPaths): void {
  for (const dir of [p.overlays, p.stage2]) if (fs.existsSync(dir)) fs.chmodSync(dir, 0o700)
}

function mountPodLayers(pod: Pod, trees: TreeStore, range: IdRange | undefined): void {
  const p = pod.paths
  if (!fs.existsSync(p.overlayPrepared)) return
  mountLayer(pod, trees, range, fs.readFileSync(p.stage1TreeStoreId, 'utf8').trim(), p.stage1Rootfs)
  for (const name of fs.readdirSync(path.join(pod.path, 'appsinfo'))) mountAppRootfs(pod, trees, range, name)
}

/** One overlay of the pod: a store tree as its lower layer, the pod's upper and work directories for it. */
function mountLayer(
  pod: Pod,
  trees: TreeStore,
  range: IdRange | undefined,
  tree: string,
  target: string,
  app?: string,
): void {
  const p = pod.paths
  let lower = trees.rootfs(tree)
  for (const kind of ['upper', 'work'] as const) fs.mkdirSync(p.overlay(tree, kind, app), {recursive: true})
  if (range) {
    const shifted = p.idmappedTree(tree)
    if (!mountsUnder(shifted).some((m) => m.mountPoint === path.resolve(shifted))) mountShifted(lower, shifted, range)
    chownShifted(p.overlay(tree, 'upper', app), lower, range)
    lower = shifted
  }
  fs.mkdirSync(target, {recursive: true})
  mountOverlay(lower, p.overlay(tree, 'upper', app), p.overlay(tree, 'work', app), target)
}

/**
 * The rootfs of an app added to a running mutable pod, as the pod's others were made: an overlay, or with
 * --no-overlay a copy of its tree.
 */
export async function addAppRootfs(pod: Pod, trees: TreeStore, name: string): Promise<void> {
  const p = pod.paths
  if (fs.existsSync(p.overlayPrepared)) return mountAppRootfs(pod, trees, undefined, name)
  fs.mkdirSync(p.app(name), {recursive: true})
  fs.copyFileSync(p.appInfoManifest(name), p.appManifest(name))
  await copyTree(trees.rootfs(fs.readFileSync(p.appTreeStoreId(name), 'utf8').trim()), p.appRootfs(name))
}

/**
 * Mounts one app's rootfs (its overlay, as appsinfo/ records it) with its manifest beside it: every app at the
 * pod's start, and an app added to a running mutable pod.
 */
function mountAppRootfs(pod: Pod, trees: TreeStore, range: IdRange | undefined, name: string): void {
  const p = pod.paths
  fs.mkdirSync(p.app(name), {recursive: true})
  fs.copyFileSync(p.appInfoManifest(name), p.appManifest(name))
  mountLayer(pod, trees, range, fs.readFileSync(p.appTreeStoreId(name), 'utf8').trim(), p.appRootfs(name), name)
}

/** What run and run-prepared share: the stage1's run flags. */
interface RunFlags {
  readonly net: string
  readonly interactive: boolean
  readonly hostname?: string | undefined
  readonly ipc?: RunArgs['pod']['ipc']
  readonly dns: RunArgs['pod']['dns']
  readonly mdsRegister: boolean
  readonly mutable?: boolean
}

/**
 * Moves the (locked) pod to run/, mounts it, writes the stage0 DNS files, and hands it to the stage1's run
 * entrypoint. Returns the entrypoint's exit status when it returns instead of exec'ing (a JS bundle that
 * failed, or finished without exec).
 */
async function handOff(prep: PreparedPod, flags: RunFlags, io: RunIo): Promise<number> {
  const {pod, globals} = prep
  const trees = new TreeStore(ImageStore.open(globals.dir))
  const stage1 = podStage1(pod, trees)
  const range = podIdRange(pod)
  if (range) checkIdRangeFree(pod, range)
  await releaseHostPorts(pod, globals, io.info)
  if (pod.dirState !== 'run') pod.move('run')
  mountPod(pod, trees, range)
  const p = pod.paths
  for (const name of fs.readdirSync(path.join(pod.path, 'appsinfo'))) linkMtab(p.appRootfs(name), range)
  fs.mkdirSync(p.statusDir, {recursive: true})
  if (flags.dns.mode.resolv === 'stage0') writeFileAtomic(p.resolvConf, makeResolvConf(flags.dns.resolv))
  if (flags.dns.mode.hosts === 'stage0') {
    const fallback = fs.existsSync(p.hostsFallback) ? fs.readFileSync(p.hostsFallback, 'utf8') : undefined
    writeFileAtomic(p.hosts, makeHostsFile(flags.dns.hostsEntries, fallback))
  }
  // --mds-register (as rkt's stage0 did, just before exec'ing run): registered before any app can ask; the run
  // entrypoint gets the token and puts AC_METADATA_URL in the apps' environment (docs/metadata-service.md).
  const mdsToken = flags.mdsRegister ? await registerPodDir(pod.uuid, p) : undefined
  const argv = runArgv(
    {
      uuid: pod.uuid,
      mdsToken,
      debug: globals.debug,
      net: flags.net,
      interactive: flags.interactive,
      privateUsers: range && formatIdRange(range),
      localConfig: globals.localConfig,
      hostname: flags.hostname,
      disableCapabilities: globals.insecure.has('capabilities'),
      disablePaths: globals.insecure.has('paths'),
      disableSeccomp: globals.insecure.has('seccomp'),
      dnsConfMode: flags.dns.mode,
      mutable: flags.mutable ?? false,
      ipc: flags.ipc,
    },
    stage1.interfaceVersion,
    io.warn,
  )
  const entry = stage1.entrypoint('run')!
  // The token is a secret: never in a log.
  io.debug?.(`handing pod ${pod.uuid} to ${entry} ${argv.join(' ').replace(/--mds-token=\S+/, '--mds-token=…')}`)
  keepListenFds(io)
  const lockFd = pod.lock!.fd
  setCloexec(lockFd, false)
  process.env[ENV.lockFd] = String(lockFd)
  process.env[ENV.networksDir] = pod.store.networksDir
  return becomeEntrypoint(entry, argv, pod.path)
}

/** `rkt prepare`: prints the UUID of a pod ready for run-prepared. */
export async function prepare(args: RunArgs, io: RunIo): Promise<string> {
  requireRoot('prepare')
  const globals = resolveGlobals(args.globals)
  const prep = await preparePod(args, globals, io)
  prep.pod.move('prepared')
  prep.pod.unlock()
  return prep.pod.uuid
}

/** The run-time flags `run` and `run-prepared` both hand to the stage1. */
function handOffFlags(pod: RunPreparedArgs['pod']): Parameters<typeof handOff>[1] {
  return {
    net: formatNetList(pod.net),
    interactive: pod.interactive,
    hostname: pod.hostname,
    ipc: pod.ipc,
    dns: pod.dns,
    mdsRegister: pod.mdsRegister,
  }
}

/** `rkt run`: prepares a pod and becomes it. */
export async function run(args: RunArgs, io: RunIo): Promise<number> {
  requireRoot('run')
  const globals = resolveGlobals(args.globals)
  const prep = await preparePod(args, globals, io)
  return handOff(prep, handOffFlags(args.pod), io)
}

/**
 * `rkt app sandbox`: a mutable pod with no app, run like `rkt run` (this process becomes it); apps come with
 * `rkt app add`. Its stage1 must have the app/* entrypoints.
 */
export async function sandbox(args: SandboxArgs, io: RunIo): Promise<number> {
  requireRoot('app sandbox')
  const globals = resolveGlobals(args.globals)
  const runArgs: RunArgs = {...args, command: 'run', apps: []}
  const store = ImageStore.open(globals.dir)
  const stage1 = await resolveStage1(globals, store, stage1ChoiceOf(runArgs), io)
  if (stage1.entrypoints['app/add'] === undefined) {
    throw new RktError(`the stage1 ${stage1.manifest.name} cannot run mutable pods: it has no app/add entrypoint`, {
      code: 'EUNSUPPORTED',
      hint: 'use a stage1 that has them, e.g. the default nspawn one (--stage1-name=coreos.com/rkt/stage1-coreos) or kvm',
    })
  }
  const prep = await preparePod(runArgs, globals, io, args)
  return handOff(prep, {...handOffFlags(args.pod), mutable: true}, io)
}

/** `rkt run-prepared`: takes a prepared pod (exactly one caller wins a race for it) and becomes it. */
export async function runPrepared(args: RunPreparedArgs, io: RunIo): Promise<number> {
  requireRoot('run-prepared')
  const globals = resolveGlobals(args.globals)
  const pods = new PodStore(globals.dir)
  pods.ensure() // a pod prepared by an older rkt: its pods directory may not be fenced yet
  const pod = pods.find(args.uuid)
  const notPrepared = (): RktError => {
    // Say what the pod is now: after losing a race it has moved on (or is still locked in prepared/ by the
    // winner, which would otherwise read as "not prepared (it is prepared)").
    const now = !pod.refresh() ? 'gone' : pod.dirState === 'prepared' ? 'being started by another rkt' : pod.state()
    return new RktError(`pod ${pod.uuid} is not prepared (it is ${now})`, {
      code: 'ENOTPREPARED',
      hint: 'only a pod made with rkt prepare, and not run yet, can be run with run-prepared',
    })
  }
  if (pod.dirState !== 'prepared') throw notPrepared()
  let locked: boolean
  try {
    locked = pod.tryLock() !== undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    locked = false // another run-prepared renamed it away between find and lock
  }
  if (!locked) throw notPrepared()
  try {
    pod.move('run')
  } catch (err) {
    pod.unlock()
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notPrepared() // another run-prepared won
    throw err
  }
  // The stage1 was chosen at prepare time: its manifest and tree, recorded in the pod, say how to run it.
  return handOff({pod, globals}, handOffFlags(args.pod), io)
}
