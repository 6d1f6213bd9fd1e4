// What every Docker/OCI source (registry, `docker save` archive, OCI layout) hands the importer: the image
// config and the layers in order, each opened on demand so that layers already in the store are never read.
import crypto from 'node:crypto'
import {Transform} from 'node:stream'
import type {Readable, TransformCallback} from 'node:stream'

import {RktError} from '../errors.js'
import {readBounded} from '../http/client.js'

/** The parts of the image config (OCI image-spec config.md, Docker image JSON) the conversion uses. */
export interface ImageConfig {
  readonly architecture?: string
  readonly os?: string
  readonly variant?: string
  readonly created?: string
  readonly author?: string
  readonly config?: {
    readonly User?: string
    readonly ExposedPorts?: Readonly<Record<string, unknown>>
    readonly Env?: readonly string[]
    readonly Entrypoint?: readonly string[] | null
    readonly Cmd?: readonly string[] | null
    readonly Volumes?: Readonly<Record<string, unknown>>
    readonly WorkingDir?: string
    readonly Labels?: Readonly<Record<string, string>> | null
  }
  readonly rootfs: {readonly type: string; readonly diff_ids: readonly string[]}
}

/** One layer: its blob digest as stored (compressed or not), its diff ID (sha256 of the tar), and how to read it. */
export interface SourceLayer {
  readonly digest: string
  readonly diffId: string
  readonly mediaType: string
  /** Blob size in bytes, -1 when unknown. */
  readonly size: number
  /** The blob; the stream fails at its end if the bytes do not hash to `digest`. */
  open(): Promise<Readable>
}

/** An image found at a source, ready for import. */
export interface ImageSource {
  readonly config: ImageConfig
  /** sha256 digest of the config blob: the image ID Docker shows. */
  readonly configDigest: string
  /** Layers bottom first, one per diff ID. */
  readonly layers: readonly SourceLayer[]
  /** Where it came from, for the image name and annotations. */
  readonly registry?: string
  readonly repository?: string
  readonly tag?: string
  readonly digest?: string
  /** sha256 of the manifest document, when there was one. */
  readonly manifestDigest?: string
}

export const SHA256 = /^sha256:[0-9a-f]{64}$/

/** The largest JSON document (manifest, index, config) we read into memory. */
export const MAX_JSON_BYTES = 4 << 20

/** The error of a malformed image, with a hint at where the fault lies. */
export function badImage(message: string, hint?: string): RktError {
  return new RktError(message, {code: 'EBADIMAGE', hint: hint ?? 'the image is damaged or not a Docker/OCI image'})
}

/** sha256:<hex> of some bytes. */
export function sha256Of(data: Buffer | string): string {
  return `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`
}

/** Checks a digest string before it is used in a URL or a path. Only sha256 is accepted. */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest !== 'string' || !SHA256.test(digest)) {
    throw badImage(`${what}: digest ${JSON.stringify(digest)} is not sha256: and 64 lowercase hex digits`)
  }
  return digest
}

/**
 * Passes a stream through while hashing it; fails the stream at its end when the bytes do not hash to
 * `digest`, or as soon as more than `maxBytes` went by.
 */
export function verifyDigest(digest: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Transform {
  const hash = crypto.createHash('sha256')
  let n = 0
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      n += chunk.length
      if (n > maxBytes) {
        cb(badImage(`${what} is larger than the ${maxBytes} bytes announced`))
        return
      }
      hash.update(chunk)
      cb(null, chunk)
    },
    flush(cb: TransformCallback) {
      const got = `sha256:${hash.digest('hex')}`
      if (got !== digest) cb(badImage(`${what}: content has digest ${got}, expected ${digest}`))
      else cb()
    },
  })
}

/** OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = []
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256Of(`${out.at(-1)!} ${d}`))
  return out
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string')
}

/** Parses and checks an image config blob (already digest-verified by the caller). */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let raw: unknown
  try {
    raw = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw badImage(`${what}: the image config is not JSON: ${(err as Error).message}`)
  }
  const c = raw as Record<string, unknown> | null
  if (c === null || typeof c !== 'object' || Array.isArray(c))
    throw badImage(`${what}: the image config is not an object`)
  const rootfs = c['rootfs'] as Record<string, unknown> | undefined
  if (!rootfs || typeof rootfs !== 'object' || !isStringList(rootfs['diff_ids'])) {
    throw badImage(`${what}: the image config has no rootfs.diff_ids list`)
  }
  rootfs['diff_ids'].forEach((d, i) => checkDigest(d, `${what}: rootfs.diff_ids[${i}]`))
  const inner = c['config'] as Record<string, unknown> | undefined | null
  if (inner !== undefined && inner !== null) {
    if (typeof inner !== 'object' || Array.isArray(inner)) throw badImage(`${what}: config.config is not an object`)
    for (const k of ['Env', 'Entrypoint', 'Cmd']) {
      if (inner[k] !== undefined && inner[k] !== null && !isStringList(inner[k])) {
        throw badImage(`${what}: config.${k} is not a list of strings`)
      }
    }
    for (const k of ['User', 'WorkingDir']) {
      if (inner[k] !== undefined && typeof inner[k] !== 'string') throw badImage(`${what}: config.${k} is not a string`)
    }
  }
  const {config: _drop, ...rest} = c
  return (inner === null ? rest : c) as unknown as ImageConfig
}

/** Reads a whole stream into memory, refusing more than maxBytes (a hostile registry or archive). */
export function readAll(stream: Readable, maxBytes: number, what: string): Promise<Buffer> {
  return readBounded(stream, maxBytes, () => badImage(`${what} is larger than ${maxBytes} bytes`))
}

/** Media types of the JSON documents and layers we understand. */
export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const

/** A parsed image manifest (OCI or Docker schema 2): config and layer descriptors. */
export interface ManifestDoc {
  readonly config: {readonly digest: string; readonly size: number; readonly mediaType: string}
  readonly layers: readonly {readonly digest: string; readonly size: number; readonly mediaType: string}[]
}

/** One entry of an index / manifest list. */
export interface IndexEntry {
  readonly digest: string
  readonly mediaType: string
  readonly size: number
  readonly platform?: {readonly os?: string; readonly architecture?: string; readonly variant?: string}
  readonly annotations?: Readonly<Record<string, string>>
}

function descriptor(v: unknown, what: string): {digest: string; size: number; mediaType: string} {
  const d = v as Record<string, unknown> | null
  if (d === null || typeof d !== 'object') throw badImage(`${what} is not a descriptor object`)
  const digest = checkDigest(d['digest'], what)
  const size = typeof d['size'] === 'number' && Number.isSafeInteger(d['size']) && d['size'] >= 0 ? d['size'] : -1
  const mediaType = typeof d['mediaType'] === 'string' ? d['mediaType'] : ''
  if (Array.isArray(d['urls']) && d['urls'].length > 0) {
    // SEC-40: foreign layers would be fetched from wherever the manifest says, with our credentials in reach.
    throw badImage(`${what} names foreign URLs (${String(d['urls'][0])}); such layers are not fetched`)
  }
  return {digest, size, mediaType}
}

/**
 * Classifies a JSON document as an image manifest or an index (SEC-39: a document that could be read as
 * both, or whose mediaType contradicts what the server said it is, is refused).
 */
export function parseManifestDoc(
  bytes: Buffer,
  what: string,
  contentType?: string,
):
  | {kind: 'manifest'; manifest: ManifestDoc; mediaType: string}
  | {kind: 'index'; entries: IndexEntry[]; mediaType: string} {
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
  } catch (err) {
    throw badImage(`${what} is not JSON: ${(err as Error).message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badImage(`${what} is not a JSON object`)
  const mediaType = typeof raw['mediaType'] === 'string' ? raw['mediaType'] : ''
  const ct = (contentType ?? '').split(';')[0]!.trim()
  if (raw['schemaVersion'] === 1 || ct === MEDIA.dockerSchema1 || ct === MEDIA.dockerSchema1Signed) {
    throw badImage(
      `${what} is a Docker schema 1 manifest, which is not supported`,
      'push the image again with a current Docker or skopeo (schema 2 or OCI)',
    )
  }
  if (
    mediaType !== '' &&
    ct !== '' &&
    ct !== 'application/json' &&
    ct !== 'application/octet-stream' &&
    mediaType !== ct
  ) {
    throw badImage(
      `${what}: its mediaType ${mediaType} differs from the Content-Type ${ct} it was served with (SEC-39)`,
    )
  }
  const type = mediaType || ct
  const hasManifests = raw['manifests'] !== undefined
  const hasImage = raw['layers'] !== undefined || raw['config'] !== undefined
  if (hasManifests && hasImage) {
    throw badImage(`${what} has both "manifests" and "layers"/"config": it is ambiguous and refused (SEC-39)`)
  }
  const isIndex = hasManifests || type === MEDIA.ociIndex || type === MEDIA.dockerList
  if (isIndex) {
    if (type !== '' && type !== MEDIA.ociIndex && type !== MEDIA.dockerList) {
      throw badImage(`${what} lists manifests but its type is ${type}`)
    }
    if (!Array.isArray(raw['manifests'])) throw badImage(`${what} is an index without a "manifests" list`)
    const entries = raw['manifests'].map((m: unknown, i: number) => {
      const d = descriptor(m, `${what}: manifests[${i}]`)
      const o = m as Record<string, unknown>
      const p = o['platform'] as Record<string, unknown> | undefined
      const a = o['annotations'] as Record<string, unknown> | undefined
      return {
        ...d,
        ...(p && typeof p === 'object'
          ? {
              platform: {
                ...(typeof p['os'] === 'string' ? {os: p['os']} : {}),
                ...(typeof p['architecture'] === 'string' ? {architecture: p['architecture']} : {}),
                ...(typeof p['variant'] === 'string' ? {variant: p['variant']} : {}),
              },
            }
          : {}),
        ...(a && typeof a === 'object'
          ? {
              annotations: Object.fromEntries(Object.entries(a).filter(([, v]) => typeof v === 'string')) as Record<
                string,
                string
              >,
            }
          : {}),
      }
    })
    return {kind: 'index', entries, mediaType: type}
  }
  if (type !== '' && type !== MEDIA.ociManifest && type !== MEDIA.dockerManifest) {
    throw badImage(`${what} has the unsupported media type ${type}`)
  }
  if (!Array.isArray(raw['layers'])) throw badImage(`${what} has no "layers" list`)
  const config = descriptor(raw['config'], `${what}: config`)
  const layers = raw['layers'].map((l: unknown, i: number) => descriptor(l, `${what}: layers[${i}]`))
  return {kind: 'manifest', manifest: {config, layers}, mediaType: type}
}

/** Picks the linux/amd64 entry of an index, or explains which platforms there are. */
export function pickPlatform(entries: readonly IndexEntry[], what: string): IndexEntry {
  const found = entries.find((e) => e.platform?.os === 'linux' && e.platform.architecture === 'amd64')
  if (found) return found
  const platforms = entries.map((e) =>
    e.platform ? [e.platform.os, e.platform.architecture, e.platform.variant].filter(Boolean).join('/') : 'unknown',
  )
  throw new RktError(`${what} has no linux/amd64 image (it has: ${platforms.join(', ') || 'none'})`, {
    code: 'ENOPLATFORM',
    hint: 'this runtime runs linux/amd64 images; pick another tag, or fetch by the digest of a linux/amd64 manifest',
  })
}
