// docker2aci: a Docker image (a `docker save` archive or a registry's `docker://` image) into .aci files.
//
// The conversion is rkt fetch's own (import.ts, one ACI per layer) into a throw-away store; the files come out
// of that store. Squashed (the default, as appc's docker2aci): the layers rendered into one rootfs (whiteouts
// applied) and built into one ACI with the image's manifest and no dependencies. `nosquash`: every layer's ACI
// as converted (named docker-layer/sha256-<chain ID>, each depending on the one below) and the image's
// manifest-only ACI on top, listed bottom-up: fetch them in that order.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import type {Globals} from '../config/globals.js'
import type {ImageManifest} from '../schema/index.js'

import {buildAci} from '../aci/index.js'
import {DEFAULT_LOCAL_CONFIG, DEFAULT_SYSTEM_CONFIG} from '../config/globals.js'
import {RktError, UsageError} from '../errors.js'
import {parseImageManifest, serializeImageManifest} from '../schema/index.js'
import {ImageStore, TreeStore} from '../store/index.js'
import {onInterrupt} from '../sys/interrupt.js'
import {fetchDockerImage} from './import.js'

export interface Docker2AciOptions {
  /** One ACI for the whole image (default), or one per layer. */
  readonly squash: boolean
  readonly outputDir: string
  readonly compression: 'gzip' | 'none'
  /** For a `docker save` archive holding several images: which one (NAME[:TAG]). */
  readonly image?: string | undefined
  /** Registry connections: plain http allowed, TLS certificates not verified. */
  readonly allowHttp?: boolean
  readonly skipVerify?: boolean
  readonly debug?: boolean
  readonly onInfo?: ((message: string) => void) | undefined
}

export interface Docker2AciResult {
  /** The written files, bottom layer first; the last is the image. */
  readonly files: readonly string[]
  /** The image's manifest (the last file's). */
  readonly manifest: ImageManifest
}

/** The source rkt fetch names: `docker://…` as given, anything else a `docker save` archive. */
export function docker2aciSource(arg: string, image: string | undefined): string {
  if (arg.startsWith('docker://')) {
    if (image !== undefined)
      throw new UsageError('--image selects an image of an archive file', {hint: 'name the tag in the docker:// URL'})
    return arg
  }
  if (!fs.statSync(arg, {throwIfNoEntry: false})?.isFile()) {
    throw new UsageError(`${arg}: no such file`, {
      hint: 'give a `docker save` archive or docker://[REGISTRY[:PORT]/]NAME[:TAG]',
    })
  }
  return `docker-archive:${path.resolve(arg)}${image === undefined ? '' : `:${image}`}`
}

/**
 * The file name of an image, as appc's docker2aci made it: the name without its registry host, `/` → `-`,
 * then the version (`library-busybox-latest.aci`); `suffix` tells a layer's file apart.
 */
export function aciFileName(m: ImageManifest, suffix?: string): string {
  const parts = m.name.split('/')
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift()
  const version = m.labels.find((l) => l.name === 'version')?.value ?? 'latest'
  const base = [...parts, suffix ?? version].join('-')
  return `${base.replace(/[^A-Za-z0-9._-]/g, '-')}.aci`
}

/** Copies a stored (uncompressed) ACI to a new file, gzip-compressed when asked. */
async function writeStored(store: ImageStore, key: string, file: string, compression: 'gzip' | 'none'): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  const lock = store.lockImage(key, false)
  try {
    const src = fs.createReadStream(store.blobPath(key))
    const out = fs.createWriteStream(tmp, {flags: 'wx', mode: 0o644})
    await (compression === 'gzip' ? pipeline(src, zlib.createGzip(), out) : pipeline(src, out))
    fs.renameSync(tmp, file)
  } finally {
    lock.release()
    fs.rmSync(tmp, {force: true})
  }
}

/** Converts `arg` into .aci files in opts.outputDir; refuses to overwrite a file. */
export async function docker2aci(arg: string, opts: Docker2AciOptions): Promise<Docker2AciResult> {
  const source = docker2aciSource(arg, opts.image)
  if (!fs.statSync(opts.outputDir, {throwIfNoEntry: false})?.isDirectory())
    throw new UsageError(`the output directory ${opts.outputDir} does not exist`, {hint: 'create it first'})
  // Squashing renders the layers into a directory: only root can give its files their owners, and an image
  // whose files all belong to the user who converted it would be wrong without a word.
  if (opts.squash && process.getuid?.() !== 0) {
    throw new RktError('squashing the layers into one ACI needs root (their files keep their owners)', {
      code: 'EPERM',
      hint: 'run docker2aci as root, or give --nosquash (one ACI per layer; no root needed)',
    })
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docker2aci-'))
  const interrupted = onInterrupt(() => fs.rmSync(tmp, {recursive: true, force: true}))
  try {
    const insecure = new Set(['image', ...(opts.allowHttp ? ['http'] : []), ...(opts.skipVerify ? ['tls'] : [])])
    const globals = {
      dir: tmp,
      localConfig: DEFAULT_LOCAL_CONFIG,
      systemConfig: DEFAULT_SYSTEM_CONFIG,
      userConfig: '',
      debug: opts.debug === true,
      insecure,
      trustKeysFromHttps: false,
    } as Globals
    const store = ImageStore.open(tmp)
    const record = await fetchDockerImage(store, source, {
      globals,
      ...(opts.onInfo ? {onInfo: opts.onInfo} : {}),
    })
    const manifest = parseImageManifest(store.manifestBytes(record.key)).manifest
    const trees = new TreeStore(store)
    const plan = trees.plan(record.key)
    const target = (name: string): string => {
      const file = path.join(opts.outputDir, name)
      if (fs.existsSync(file))
        throw new RktError(`${file} already exists`, {code: 'EEXIST', hint: 'remove it, or give another --output'})
      return file
    }
    const files: string[] = []
    if (!opts.squash) {
      for (const [k, layer] of plan.layers.entries()) {
        // A layer's ACI is named docker-layer/sha256-<chain ID>: its file by position and the ID's start.
        const {name} = parseImageManifest(store.manifestBytes(layer.key)).manifest
        const last = k === plan.layers.length - 1
        const file = target(aciFileName(manifest, last ? undefined : `layer${k + 1}-${name.slice(-64, -52)}`))
        await writeStored(store, layer.key, file, opts.compression)
        files.push(file)
      }
      return {files, manifest}
    }
    const layout = path.join(tmp, 'squashed')
    fs.mkdirSync(path.join(layout, 'rootfs'), {recursive: true})
    trees.extractLayers(plan, path.join(layout, 'rootfs'))
    const squashed: ImageManifest = {...manifest, dependencies: [], pathWhitelist: []}
    const bytes = Buffer.from(serializeImageManifest(squashed))
    fs.writeFileSync(path.join(layout, 'manifest'), bytes)
    const file = target(aciFileName(manifest))
    await buildAci({layoutDir: layout, outFile: file, manifest: bytes, compression: opts.compression})
    return {files: [file], manifest: squashed}
  } finally {
    interrupted()
    fs.rmSync(tmp, {recursive: true, force: true})
  }
}
