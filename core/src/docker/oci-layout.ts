// OCI image layouts (image-spec image-layout.md): `oci-layout`, `index.json`, `blobs/sha256/<hex>`. The image
// is picked by its `org.opencontainers.image.ref.name` or, when there is one, the only manifest. Every blob
// path is built from a checked digest and must resolve inside the layout (no symlink leads out of it);
// every blob is verified against its digest as it is read.
import fs from 'node:fs'
import path from 'node:path'

import {RktError, wrap} from '../errors.js'
import {
  MAX_JSON_BYTES,
  badImage,
  checkDigest,
  parseImageConfig,
  parseManifestDoc,
  pickPlatform,
  sha256Of,
  verifyDigest,
} from './source.js'
import type {ImageSource, IndexEntry} from './source.js'

export const REF_NAME = 'org.opencontainers.image.ref.name'

/** Reads blobs of one layout directory, safely. */
class Layout {
  readonly root: string

  constructor(dir: string) {
    try {
      this.root = fs.realpathSync(dir)
      if (!fs.statSync(this.root).isDirectory()) throw new RktError(`${dir} is not a directory`, {code: 'ENOTDIR'})
    } catch (err) {
      throw wrap(`cannot open the OCI layout ${dir}`, err)
    }
  }

  /** The real path of a file of the layout, refused when it resolves outside or is not a regular file. */
  private file(rel: string): string {
    let real: string
    try {
      real = fs.realpathSync(path.join(this.root, rel))
    } catch (err) {
      throw wrap(`the OCI layout ${this.root} has no ${rel}`, err, {code: 'EBADIMAGE'})
    }
    if (!real.startsWith(`${this.root}/`))
      throw badImage(`${this.root}/${rel} resolves outside the layout (to ${real})`)
    if (!fs.statSync(real).isFile()) throw badImage(`${this.root}/${rel} is not a regular file`)
    return real
  }

  readSmall(rel: string, what: string): Buffer {
    const file = this.file(rel)
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    try {
      const size = fs.fstatSync(fd).size
      if (size > MAX_JSON_BYTES) throw badImage(`${what} is larger than ${MAX_JSON_BYTES} bytes`)
      const buf = Buffer.alloc(size)
      let off = 0
      while (off < size) {
        const n = fs.readSync(fd, buf, off, size - off, off)
        if (n === 0) break
        off += n
      }
      return buf.subarray(0, off)
    } finally {
      fs.closeSync(fd)
    }
  }

  blobRel(digest: string, what: string): string {
    return `blobs/sha256/${checkDigest(digest, what).slice('sha256:'.length)}`
  }

  /** A small blob, verified. */
  readBlob(digest: string, what: string): Buffer {
    const data = this.readSmall(this.blobRel(digest, what), what)
    if (sha256Of(data) !== digest)
      throw badImage(`${what}: blob content has digest ${sha256Of(data)}, expected ${digest}`)
    return data
  }

  /** A blob as a verified stream. */
  openBlob(digest: string, what: string): fs.ReadStream & NodeJS.ReadableStream {
    const file = this.file(this.blobRel(digest, what))
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    return fs.createReadStream('', {fd, highWaterMark: 1 << 20})
  }
}

/** Chooses the image of an index by ref name, or the only one; an index entry resolves to linux/amd64. */
function pick(entries: readonly IndexEntry[], ref: string | undefined, where: string): IndexEntry {
  if (ref !== undefined) {
    const found = entries.filter((e) => e.annotations?.[REF_NAME] === ref)
    if (found.length === 1) return found[0]!
    if (found.length > 1) return pickPlatform(found, `${where}:${ref}`)
    const names = entries.map((e) => e.annotations?.[REF_NAME]).filter((n): n is string => n !== undefined)
    throw new RktError(`${where} has no image named ${JSON.stringify(ref)}`, {
      code: 'ENOTFOUND',
      hint: names.length > 0 ? `it has: ${names.join(', ')}` : 'it names none of its images',
    })
  }
  if (entries.length === 1) return entries[0]!
  const names = entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest)
  throw new RktError(`${where} holds ${entries.length} images; say which`, {
    code: 'EUSAGE',
    hint: `append :REF, one of: ${names.join(', ')}`,
  })
}

/** Opens the image `ref` (or the only one) of an OCI layout directory. */
export function openOciLayout(dir: string, ref?: string): ImageSource {
  const layout = new Layout(dir)
  const where = `OCI layout ${dir}`
  let marker: unknown
  try {
    marker = JSON.parse(layout.readSmall('oci-layout', 'oci-layout').toString('utf8'))
  } catch (err) {
    throw wrap(`${dir} is not an OCI image layout (no valid oci-layout file)`, err, {code: 'EBADIMAGE'})
  }
  if (typeof (marker as {imageLayoutVersion?: unknown}).imageLayoutVersion !== 'string') {
    throw badImage(`${dir}/oci-layout has no imageLayoutVersion`)
  }
  const index = parseManifestDoc(layout.readSmall('index.json', 'index.json'), `${where}: index.json`)
  if (index.kind !== 'index') throw badImage(`${where}: index.json is not an image index`)
  let entry = pick(index.entries, ref, where)
  let doc = layout.readBlob(entry.digest, `manifest ${entry.digest}`)
  let parsed = parseManifestDoc(doc, `manifest ${entry.digest}`, entry.mediaType)
  if (parsed.kind === 'index') {
    entry = pickPlatform(parsed.entries, `${where} image ${ref ?? entry.digest}`)
    doc = layout.readBlob(entry.digest, `manifest ${entry.digest}`)
    parsed = parseManifestDoc(doc, `manifest ${entry.digest}`, entry.mediaType)
    if (parsed.kind === 'index')
      throw badImage(`manifest ${entry.digest} is an index inside an index, which is not supported`)
  }
  const m = parsed.manifest
  const cfgWhat = `image config ${m.config.digest}`
  const config = parseImageConfig(layout.readBlob(m.config.digest, cfgWhat), cfgWhat)
  if (config.rootfs.diff_ids.length !== m.layers.length) {
    throw badImage(`${cfgWhat} lists ${config.rootfs.diff_ids.length} layers, the manifest ${m.layers.length}`)
  }
  return {
    config,
    configDigest: m.config.digest,
    manifestDigest: entry.digest,
    layers: m.layers.map((l, i) => ({
      digest: l.digest,
      diffId: config.rootfs.diff_ids[i]!,
      mediaType: l.mediaType,
      size: l.size,
      open: () => {
        const what = `layer ${l.digest}`
        const s = layout.openBlob(l.digest, what)
        const v = verifyDigest(l.digest, what, l.size >= 0 ? l.size : undefined)
        s.on('error', (err) => v.destroy(err))
        return Promise.resolve(s.pipe(v))
      },
    })),
    ...(ref === undefined ? {} : {tag: ref}),
  }
}
