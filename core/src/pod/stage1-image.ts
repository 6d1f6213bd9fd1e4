// Which stage1 runs a pod (rkt's rkt/stage1hash.go): one of the --stage1-* flags, else the stage1.d
// configuration, else the build's default. Images from the default stage1 location (beside the CLI) or the
// stage1-images directory are trusted without a signature, as in rkt; any other needs one like every image.
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import {createRequire} from 'node:module'
import {constants as osConstants} from 'node:os'
import path from 'node:path'

import type {Globals} from '../config/globals.js'
import type {ImageManifest} from '../schema/index.js'
import type {ImageRecord} from '../store/index-file.js'
import type {Pod} from './pods.js'

import {configLayers} from '../config/globals.js'
import {loadStage0Config, type Stage0Config} from '../config/stage0.js'
import {RktError, UsageError, wrap} from '../errors.js'
import {ImageLookup, type ImageRequest} from '../fetch/lookup.js'
import {parseImageManifest} from '../schema/index.js'
import {
  ANNOTATION,
  DEFAULT_INTERFACE_VERSION,
  ENTRYPOINT_ANNOTATIONS,
  ENTRYPOINTS,
  type Entrypoint,
} from '../contract/entrypoints.js'
import {ImageStore, imageQuery} from '../store/image-store.js'
import {stage1FlavourEngine} from '../store/stage1-flavours.js'
import {TreeStore} from '../store/tree-store.js'
import {getDistDir} from '../sys/dist.js'
import {execve} from '../sys/native.js'

/** How the user chose the stage1 (at most one flag). */
export type Stage1Choice =
  | {readonly kind: 'path'; readonly value: string}
  | {readonly kind: 'url'; readonly value: string}
  | {readonly kind: 'name'; readonly value: string}
  | {readonly kind: 'hash'; readonly value: string}
  | {readonly kind: 'from-dir'; readonly value: string}
  | {readonly kind: 'default'}

/** The build's default stage1 (written by npm run build beside the stage1 images). */
export interface Stage1Defaults {
  readonly name: string
  readonly version: string
  readonly file: string
}

/** A stage1 image ready to use. */
export interface Stage1Image {
  readonly record: ImageRecord
  readonly manifest: ImageManifest
  readonly interfaceVersion: number
  /** Entrypoint paths inside the stage1 rootfs, by name. */
  readonly entrypoints: Readonly<Partial<Record<Entrypoint, string>>>
}

/** Where the build puts the stage1 images: beside the CLI, like rkt's stage1-*.aci next to its binary. */
export function defaultStage1Dir(): string {
  return path.join(getDistDir(), 'stage1-images')
}

/** The build's default stage1 name, version and file. */
export function stage1Defaults(): Stage1Defaults {
  const file = path.join(defaultStage1Dir(), 'defaults.json')
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Stage1Defaults
  } catch (err) {
    throw wrap(`cannot read the default stage1 description ${file}`, err, {
      hint: 'build the project first: npm run build',
    })
  }
}

/** The entrypoints and interface version a stage1 image's manifest declares. */
export function stage1Info(manifest: ImageManifest): Pick<Stage1Image, 'interfaceVersion' | 'entrypoints'> {
  const ann = new Map(manifest.annotations.map((a) => [a.name, a.value]))
  const entrypoints: Partial<Record<Entrypoint, string>> = {}
  for (const e of ENTRYPOINTS) {
    const v = ann.get(ENTRYPOINT_ANNOTATIONS[e]!)
    if (v !== undefined) entrypoints[e] = v
  }
  if (!entrypoints.run) {
    throw new RktError(`image ${manifest.name} is not a stage1 image: it has no ${ANNOTATION.run} annotation`, {
      code: 'ESTAGE1',
      hint: 'choose a stage1 image with --stage1-image=PATH (e.g. the stage1-fly.aci the build makes)',
    })
  }
  const iv = ann.get(ANNOTATION.interfaceVersion)
  const interfaceVersion = iv === undefined ? DEFAULT_INTERFACE_VERSION : Number(iv)
  if (!Number.isInteger(interfaceVersion) || interfaceVersion < 1) {
    throw new RktError(`stage1 image ${manifest.name} has an invalid interface version ${JSON.stringify(iv)}`, {
      code: 'ESTAGE1',
    })
  }
  return {interfaceVersion, entrypoints}
}

function stage1ImageOf(store: ImageStore, record: ImageRecord): Stage1Image {
  const manifest = parseImageManifest(store.manifestBytes(record.key)).manifest
  return {record, manifest, ...stage1Info(manifest)}
}

/** Resolves (fetching if needed) the stage1 image of a pod: the choice makes a request of the image lookup. */
export async function resolveStage1(
  globals: Globals,
  store: ImageStore,
  choice: Stage1Choice,
  io: {readonly warn: (m: string) => void; readonly debug?: ((m: string) => void) | undefined} = {warn: () => {}},
): Promise<Stage1Image> {
  const cfg = loadStage0Config(configLayers(globals))
  const imagesDir = cfg.paths.stage1Images ?? defaultStage1Dir()
  const lookup = new ImageLookup(store, {
    globals,
    pullPolicy: 'new',
    trustedDirs: [defaultStage1Dir(), imagesDir],
    onWarning: io.warn,
    onDebug: io.debug,
  })
  try {
    return stage1ImageOf(store, await lookup.find(stage1Request(choice, store, cfg, imagesDir)))
  } catch (err) {
    throw wrap('cannot load the stage1 image', err)
  } finally {
    lookup.close()
  }
}

/** What a stage1 choice asks the image lookup for. */
function stage1Request(choice: Stage1Choice, store: ImageStore, cfg: Stage0Config, imagesDir: string): ImageRequest {
  switch (choice.kind) {
    case 'path': {
      let file = path.resolve(choice.value)
      // rkt also looks beside its own binary when the path does not exist.
      if (!fs.existsSync(file)) {
        const beside = path.join(defaultStage1Dir(), path.basename(choice.value))
        if (fs.existsSync(beside)) file = beside
      }
      if (!fs.existsSync(file)) {
        throw new RktError(`stage1 image ${choice.value} does not exist`, {
          code: 'ENOENT',
          hint: `the stage1 images the build made are in ${defaultStage1Dir()}`,
        })
      }
      return {image: file}
    }
    case 'url':
      return {image: choice.value}
    case 'name': {
      // rkt's flavour name of an engine this build made: the store's copy, else the build's file.
      const engine = stage1FlavourEngine(imageQuery(choice.value).name)
      const file = engine === undefined ? undefined : path.join(defaultStage1Dir(), `stage1-${engine}.aci`)
      if (file !== undefined && store.findByName(imageQuery(choice.value)).length === 0 && fs.existsSync(file))
        return {image: file}
      return {image: choice.value, as: 'name'}
    }
    case 'hash':
      return {image: choice.value, as: 'id'}
    case 'from-dir':
      if (choice.value.includes('/')) {
        throw new UsageError(`--stage1-from-dir takes a file name inside ${imagesDir}, not a path`)
      }
      return {image: path.resolve(imagesDir, choice.value)}
    case 'default': {
      const defaults = stage1Defaults()
      const name = cfg.stage1.name ?? defaults.name
      const version = cfg.stage1.version ?? defaults.version
      const stored = store.findByName({name, labels: {version}})[0]
      if (stored) return {image: stored.id, as: 'id'}
      return {image: cfg.stage1.location ?? path.join(defaultStage1Dir(), defaults.file)}
    }
  }
}

/** A pod's stage1 as stage0 runs it: what its image declares, and where its entrypoints are run from. */
export interface PodStage1 extends Pick<Stage1Image, 'interfaceVersion' | 'entrypoints'> {
  /** The stage1 image's rendered tree in the store. */
  readonly rootfs: string
  /** An entrypoint's path in that tree; undefined when the stage1 has none of that name. */
  entrypoint(name: Entrypoint): string | undefined
}

/**
 * The stage1 of a pod, with its entrypoints in the image's rendered tree in the store: never in the pod's own
 * `stage1/rootfs`, which the pod can write (an app holding CAP_SYS_PTRACE reaches it as /proc/1/root, a VM
 * through its 9p root), so that the host never executes anything a pod could have changed. The manifest and
 * the tree ID are stage0's own records in the pod directory, out of the pod's reach.
 */
export function podStage1(pod: Pod, trees = new TreeStore(ImageStore.open(pod.store.dataDir))): PodStage1 {
  const p = pod.paths
  const info = stage1Info(parseImageManifest(fs.readFileSync(p.stage1Manifest)).manifest)
  const tree = fs.readFileSync(p.stage1TreeStoreId, 'utf8').trim()
  if (!trees.isRendered(tree)) {
    throw new RktError(`the stage1 image of pod ${pod.uuid} is no longer in the store (tree ${tree})`, {
      code: 'ESTAGE1',
      hint: 'the pod can only be removed now: rkt rm (its stage1 cannot clean up after it)',
    })
  }
  const rootfs = trees.rootfs(tree)
  return {
    ...info,
    rootfs,
    entrypoint: (name) => {
      const e = info.entrypoints[name]
      return e === undefined ? undefined : path.join(rootfs, e)
    },
  }
}

/**
 * Becomes a stage1 entrypoint, in the pod directory: a `.cjs` bundle written with the SDK runs here (its
 * `main(argv)`, no second Node start; it execs its engine), any other executable is exec'd. Returns only
 * the exit status of a bundle that returned instead of exec'ing.
 */
export async function becomeEntrypoint(entry: string, argv: readonly string[], podDir: string): Promise<number> {
  process.chdir(podDir)
  if (entry.endsWith('.cjs')) {
    const mod = createRequire(entry)(entry) as {main?: (argv: string[]) => Promise<number>}
    if (typeof mod.main !== 'function') throw new RktError(`stage1 entrypoint ${entry} exports no main function`)
    return mod.main([...argv])
  }
  return execve(entry, [entry, ...argv], process.env)
}

/**
 * Runs a stage1 entrypoint to completion in the pod directory (gc, stop): a `.cjs` bundle in this process
 * (each Node start it saves is 40 ms or more per pod), any other executable as a child. Returns its status.
 */
export async function runEntrypoint(entry: string, argv: readonly string[], podDir: string): Promise<number> {
  if (!entry.endsWith('.cjs')) {
    const r = spawnSync(entry, argv, {cwd: podDir, stdio: ['ignore', 'inherit', 'inherit']})
    if (r.error) throw r.error
    return r.status ?? 128 + (r.signal === null ? 0 : osConstants.signals[r.signal])
  }
  const cwd = process.cwd()
  process.chdir(podDir)
  try {
    const mod = createRequire(entry)(entry) as {main?: (argv: string[]) => Promise<number>}
    if (typeof mod.main !== 'function') throw new RktError(`stage1 entrypoint ${entry} exports no main function`)
    return await mod.main([...argv])
  } finally {
    process.chdir(cwd)
  }
}
