// `docker://`, `docker-archive:` and `oci:` images into the ACI store, one ACI per layer ("beyond rkt":
// rkt squashed every image into one ACI and re-downloaded every layer on update, rkt/rkt#3831).
//
// Layer k becomes the ACI `docker-layer/sha256-<chain ID k>`, depending on layer k-1's ACI by image ID, with
// the pathWhitelist of everything that exists after layers 0..k (see layer.ts). The chain ID names the
// whole stack below, so a layer already in the store is found by name and never downloaded again, and two
// images on one base share its ACIs. The image itself is a manifest-only ACI (docker2aci's name and app,
// convert.ts) depending on the top layer's ACI. Each ACI is staged and validated like any fetched image;
// none is committed until every layer of the image has been accepted, so a refused layer (a hostile entry,
// a wrong digest) leaves the store exactly as it was.
import fs from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {Transform} from 'node:stream'
import type {Readable, TransformCallback} from 'node:stream'

import type {Globals} from '../config/globals.js'
import type {HttpClient} from '../http/client.js'
import type {ImageRecord} from '../store/index-file.js'
import type {ImageStore, StagedImage} from '../store/image-store.js'
import {storeKey} from '../store/ids.js'

import {TarReader, encodeUstarHeader, limitsFromEnv, normalizeEntryName} from '../aci/index.js'
import type {AciLimits, TarEntry} from '../aci/index.js'
import {RktError, wrap} from '../errors.js'
import {StagingWriter} from '../store/staging.js'
import {httpClientFor} from '../http/client.js'
import {parseImageManifest, serializeImageManifest} from '../schema/index.js'
import type {Label} from '../schema/index.js'
import {onInterrupt} from '../sys/interrupt.js'
import {openDockerArchive} from './archive.js'
import {
  registryImageName,
  groupsOf,
  imageManifest,
  layerImageName,
  layerManifest,
  sanitizeACIdentifier,
} from './convert.js'
import type {ImageOrigin} from './convert.js'
import {convertLayer} from './layer.js'
import type {LinkGroup, LowerState} from './layer.js'
import {openOciLayout} from './oci-layout.js'
import {parseDockerSource, parseRegistryReference} from './reference.js'
import type {DockerSourceRef} from './reference.js'
import {openRegistryImage} from './registry.js'
import {chainIds} from './source.js'
import type {ImageSource, SourceLayer} from './source.js'

export interface DockerFetchOptions {
  readonly globals: Globals
  /** The HTTP client for registries; default httpClientFor(globals). */
  readonly http?: HttpClient | undefined
  /** Download progress per layer: label (short digest), bytes done, bytes total (-1 when unknown). */
  readonly onProgress?: ((label: string, done: number, total: number) => void) | undefined
  readonly onInfo?: ((message: string) => void) | undefined
  readonly onWarning?: ((message: string) => void) | undefined
  /** Per-phase durations in ms. */
  readonly timings?: Record<string, number> | undefined
}

/** A parent in the layer chain: its ACI's name, ID, manifest and where its tar is (stored or staged). */
interface Parent {
  readonly name: string
  readonly id: string
  readonly key: string
  readonly manifest: Buffer
  readonly blob: string
  /** True when the tar is a blob of the store (read under its image lock), false for a staging file. */
  readonly stored: boolean
}

/** Opens the source an argument names. */
async function openSource(ref: DockerSourceRef, opts: DockerFetchOptions): Promise<ImageSource> {
  if (ref.kind === 'archive') return openDockerArchive(ref.file, ref.ref)
  if (ref.kind === 'oci') return openOciLayout(ref.dir, ref.ref)
  // fetchDockerImage makes the client of a registry fetch when its caller gave none.
  return openRegistryImage(ref, {http: opts.http!, globals: opts.globals, onWarning: opts.onWarning})
}

/** docker2aci's name, version and annotations of the source. */
function originOf(arg: string, ref: DockerSourceRef, src: ImageSource): ImageOrigin {
  const base = {configDigest: src.configDigest, manifestDigest: src.manifestDigest}
  if (ref.kind === 'registry') {
    return {
      ...base,
      ...registryImageName(ref),
      originalName: arg.replace(/^docker:(\/\/)?/, ''),
      registry: ref.registry,
      repository: ref.repository,
    }
  }
  // A docker archive's RepoTag, or an OCI ref that looks like one, names the image as a pull of it would.
  const tag = src.tag
  if (tag !== undefined && (ref.kind === 'archive' || /[:/]/.test(tag))) {
    try {
      const r = parseRegistryReference(tag)
      return {...base, ...registryImageName(r), originalName: tag}
    } catch {
      // not a Docker reference: named after the file below
    }
  }
  const where = ref.kind === 'archive' ? ref.file : ref.dir
  const name = sanitizeACIdentifier(path.basename(path.resolve(where)).replace(/\.tar$/, ''))
  return {...base, name, version: tag ?? 'latest', originalName: arg}
}

/** A pass-through that reports bytes as they go by. */
function counter(report: (n: number) => void): Transform {
  let n = 0
  let last = 0
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      n += chunk.length
      const now = Date.now()
      if (now - last >= 100) {
        last = now
        report(n)
      }
      cb(null, chunk)
    },
    flush(cb: TransformCallback) {
      report(n)
      cb()
    },
  })
}

/** Stages an ACI produced by `produce` (which writes the tar bytes) and validates it; the caller commits. */
async function stageAci(
  store: ImageStore,
  limits: Partial<AciLimits>,
  produce: (write: (chunk: Buffer) => void) => Promise<void>,
): Promise<StagedImage> {
  const staging = store.stage()
  try {
    const writer = new StagingWriter(staging, limits)
    await produce((chunk) => writer.write(chunk))
    const {id, checked} = writer.finish()
    const {manifest} = parseImageManifest(checked.manifest)
    return {
      staging,
      id,
      size: checked.bytes,
      manifest: checked.manifest,
      name: manifest.name,
      labels: manifest.labels,
    }
  } catch (err) {
    staging.discard()
    throw err
  }
}

/** The state layers 0..k-1 left, read from the stored manifest of layer k-1's ACI. */
function lowerStateOf(parent: Parent | undefined): LowerState {
  if (!parent) return {paths: new Set(), groups: []}
  const {manifest} = parseImageManifest(parent.manifest)
  return {paths: new Set(manifest.pathWhitelist), groups: groupsOf(manifest.annotations)}
}

/** Copies one regular file out of a lower layer's ACI, stored or staged (the SEC-38 rescue of hardlinked content). */
function readLowerFile(
  store: ImageStore,
  chain: ReadonlyMap<string, Parent>,
  layer: string,
  file: string,
  onEntry: (e: TarEntry) => void,
  onData: (chunk: Buffer) => void,
): void {
  const rec = chain.get(layer)
  if (!rec) throw new RktError(`layer image ${layer} is not below this layer`, {code: 'EDEPENDENCY'})
  const want = `rootfs${file}`
  let inside = false
  let found = false
  const reader = new TarReader({
    onEntry(e) {
      inside = e.type === 'file' && normalizeEntryName(e.name) === want
      if (inside) {
        found = true
        onEntry(e)
      }
    },
    onData(c) {
      if (inside) onData(c)
    },
    onEntryEnd() {
      inside = false
    },
  })
  const lock = rec.stored ? store.lockImage(rec.key, false) : undefined
  const fd = fs.openSync(rec.blob, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    let n: number
    while (!found && (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) reader.push(buf.subarray(0, n))
    // Read on to the end of the found entry's data.
    while (inside && (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) reader.push(buf.subarray(0, n))
  } finally {
    fs.closeSync(fd)
    lock?.release()
  }
  if (!found) throw new RktError(`layer image ${layer} has no file ${file}`, {code: 'EDEPENDENCY'})
}

/** Converts one layer into a staged ACI (committed with the rest of its image). */
async function convertToStaging(
  store: ImageStore,
  layer: SourceLayer,
  name: string,
  parent: Parent | undefined,
  chain: ReadonlyMap<string, Parent>,
  src: ImageSource,
  opts: DockerFetchOptions,
  limits: Partial<AciLimits>,
): Promise<StagedImage> {
  const what = `layer ${layer.digest}`
  const label = layer.digest.slice('sha256:'.length, 'sha256:'.length + 12)
  const lower = lowerStateOf(parent)
  return stageAci(store, limits, async (write) => {
    const blob: Readable = await layer.open()
    const counted = blob.pipe(counter((n) => opts.onProgress?.(label, n, layer.size)))
    blob.on('error', (err) => counted.destroy(err))
    await convertLayer(counted, {
      diffId: layer.diffId,
      what,
      lower,
      selfName: name,
      readLower: (l, f, onEntry, onData) => readLowerFile(store, chain, l, f, onEntry, onData),
      manifest: (whitelist: readonly string[], groups: readonly LinkGroup[]) =>
        layerManifest({name, config: src.config, parent, whitelist, groups}),
      write,
      limits,
      ...(opts.onWarning ? {onWarning: opts.onWarning} : {}),
    })
  })
}

/** The manifest-only ACI of the image itself. */
function imageAci(manifest: Buffer): Buffer {
  const pad = Buffer.alloc((512 - (manifest.length % 512)) % 512)
  return Buffer.concat([
    encodeUstarHeader({name: 'rootfs', typeflag: '5', mode: 0o755}),
    encodeUstarHeader({name: 'manifest', typeflag: '0', mode: 0o644, size: manifest.length}),
    manifest,
    pad,
    Buffer.alloc(1024),
  ])
}

/**
 * Fetches a Docker or OCI image (`docker://…`, `docker:…`, `docker-archive:FILE[:REF]`, `oci:DIR[:REF]`)
 * into the store, converting only the layers not already there. Returns the record of the image.
 */
export async function fetchDockerImage(store: ImageStore, arg: string, opts: DockerFetchOptions): Promise<ImageRecord> {
  const ref = parseDockerSource(arg)
  if (!opts.globals.insecure.has('image')) {
    throw new RktError(`cannot verify the Docker image ${arg}: Docker and OCI images carry no appc signature`, {
      code: 'ENOSIG',
      hint: 'to use it unverified, add --insecure-options=image',
    })
  }
  opts.onWarning?.('image signature verification has been disabled')
  const t = opts.timings
  const t0 = performance.now()
  const limits = limitsFromEnv()
  const http =
    ref.kind === 'registry' && !opts.http ? httpClientFor(opts.globals, {onWarning: opts.onWarning}) : opts.http
  try {
    let src: ImageSource
    try {
      src = await openSource(ref, {...opts, http})
    } catch (err) {
      throw wrap(`cannot fetch ${arg}`, err)
    }
    if (t) t['resolve'] = performance.now() - t0
    const chains = chainIds(src.layers.map((l) => l.diffId))
    const chain = new Map<string, Parent>()
    const pending: StagedImage[] = []
    const interrupted = onInterrupt(() => pending.forEach((p) => p.staging.discard()))
    let committed = false
    try {
      let parent: Parent | undefined
      for (const [k, layer] of src.layers.entries()) {
        const name = layerImageName(chains[k]!)
        const rec = store.findByName({name, labels: {}})[0]
        if (rec) {
          opts.onInfo?.(`layer ${layer.digest.slice(0, 19)}: already in the store`)
          parent = {
            name,
            id: rec.id,
            key: rec.key,
            manifest: store.manifestBytes(rec.key),
            blob: store.blobPath(rec.key),
            stored: true,
          }
        } else {
          const l0 = performance.now()
          let staged: StagedImage
          try {
            staged = await convertToStaging(store, layer, name, parent, chain, src, opts, limits)
          } catch (err) {
            throw wrap(`cannot import layer ${k + 1} of ${src.layers.length} (${layer.digest}) of ${arg}`, err)
          }
          pending.push(staged)
          if (t) t[`layer ${k}`] = performance.now() - l0
          parent = {
            name,
            id: staged.id,
            key: storeKey(staged.id),
            manifest: staged.manifest,
            blob: staged.staging.path,
            stored: false,
          }
        }
        chain.set(name, parent)
      }
      const origin = originOf(arg, ref, src)
      const manifest = Buffer.from(serializeImageManifest(imageManifest(src.config, origin, parent)))
      const top = await stageAci(store, limits, (write) => {
        write(imageAci(manifest))
        return Promise.resolve()
      })
      // Every layer was accepted: commit bottom-up, so no image is ever listed before what it depends on.
      const converted = pending.length
      pending.push(top)
      let record: ImageRecord | undefined
      while (pending.length > 0) record = store.commit(pending.shift()!) // commit consumes the staging file
      committed = true
      opts.onInfo?.(
        `${origin.name}: ${src.layers.length} layer${src.layers.length === 1 ? '' : 's'}, ${converted} converted, ${src.layers.length - converted} already stored`,
      )
      if (t) t['total'] = performance.now() - t0
      return record!
    } finally {
      interrupted()
      if (!committed) for (const p of pending) p.staging.discard()
    }
  } finally {
    if (http && !opts.http) http.close()
  }
}

/** The labels a converted image gets (for callers that look it up again). */
export function versionLabel(record: ImageRecord): Label | undefined {
  return record.labels.find((l) => l.name === 'version')
}
