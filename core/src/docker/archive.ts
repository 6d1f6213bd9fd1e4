// `docker save` archives (docker-archive:FILE[:REF]): an uncompressed tar holding manifest.json
// (`[{Config, RepoTags, Layers}]`), the config JSON and one tar per layer. The archive is scanned once to
// index its entries; layers are then read straight from their byte ranges. Names from manifest.json are
// normalised and looked up in that index only (never joined to a filesystem path); an in-archive symlink
// (legacy `<id>/layer.tar -> ../<diffid>.tar`) is followed inside the archive, never out of it.
import fs from 'node:fs'
import path from 'node:path'
import {Readable} from 'node:stream'

import {RktError, wrap} from '../errors.js'
import {TarReader, normalizeEntryName} from '../aci/index.js'
import type {TarEntry} from '../aci/index.js'
import {MAX_JSON_BYTES, badImage, parseImageConfig, sha256Of} from './source.js'
import type {ImageSource} from './source.js'

interface Member {
  readonly type: TarEntry['type']
  readonly linkname: string
  /** Byte offset of the data and its size. */
  start: number
  readonly size: number
  /** The data, for the small JSON files. */
  data?: Buffer
}

/** Indexes the members of an uncompressed tar file: name → type, data range, and the data of small ones. */
function indexTar(file: string): Map<string, Member> {
  const members = new Map<string, Member>()
  let current: Member | undefined
  let parts: Buffer[] | undefined
  const reader: TarReader = new TarReader({
    onEntry(e) {
      const name = normalizeEntryName(e.name)
      current = {type: e.type, linkname: e.linkname, start: -1, size: e.size}
      if (members.has(name)) throw badImage(`docker archive ${file}: duplicate entry ${JSON.stringify(e.name)}`)
      members.set(name, current)
      parts = e.type === 'file' && e.size <= MAX_JSON_BYTES && /\.json$|^repositories$/.test(name) ? [] : undefined
    },
    onData(chunk) {
      parts?.push(Buffer.from(chunk))
    },
    onEntryEnd() {
      if (current) {
        current.start = reader.position - current.size
        if (parts) current.data = Buffer.concat(parts)
      }
      current = undefined
      parts = undefined
    },
  })
  const fd = fs.openSync(file, 'r')
  try {
    const head = Buffer.alloc(4)
    fs.readSync(fd, head, 0, 4, 0)
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw new RktError(`${file} is gzip-compressed`, {
        code: 'EBADIMAGE',
        hint: `decompress it first: gunzip -k ${file}`,
      })
    }
    const buf = Buffer.allocUnsafe(1 << 20)
    let pos = 0
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos)
      if (n === 0) break
      reader.push(buf.subarray(0, n))
      pos += n
    }
    reader.end()
  } finally {
    fs.closeSync(fd)
  }
  return members
}

/** Follows in-archive symlinks (at most 8) to a regular file member. */
function resolve(members: Map<string, Member>, name: string, file: string): {name: string; member: Member} {
  let cur = name
  for (let hops = 0; hops < 8; hops++) {
    const m = members.get(cur)
    if (!m) throw badImage(`docker archive ${file} has no ${JSON.stringify(name)}`)
    if (m.type === 'file') return {name: cur, member: m}
    if (m.type !== 'symlink' && m.type !== 'hardlink') throw badImage(`docker archive ${file}: ${cur} is a ${m.type}`)
    const target =
      m.type === 'hardlink' || m.linkname.startsWith('/')
        ? m.linkname
        : path.posix.join(path.posix.dirname(cur), m.linkname)
    cur = normalizeEntryName(target.replace(/^\/+/, ''), () => `link target of ${cur}`)
  }
  throw badImage(`docker archive ${file}: too many links from ${name}`)
}

function json(member: Member, what: string): unknown {
  if (!member.data) throw badImage(`${what} is too large or not a .json entry`)
  try {
    return JSON.parse(member.data.toString('utf8'))
  } catch (err) {
    throw badImage(`${what} is not JSON: ${(err as Error).message}`)
  }
}

/** Opens the image `ref` (a RepoTag) or the only image of a `docker save` archive. */
export function openDockerArchive(file: string, ref?: string): ImageSource {
  let members: Map<string, Member>
  try {
    members = indexTar(file)
  } catch (err) {
    throw wrap(`cannot read the docker archive ${file}`, err)
  }
  const mf = members.get('manifest.json')
  if (!mf) throw badImage(`${file} has no manifest.json: not a docker save archive`)
  const list = json(mf, `${file}: manifest.json`)
  if (!Array.isArray(list) || list.length === 0) throw badImage(`${file}: manifest.json lists no image`)
  type Item = {Config?: unknown; RepoTags?: unknown; Layers?: unknown}
  const items = list as Item[]
  const tagsOf = (it: Item): string[] =>
    Array.isArray(it.RepoTags) ? it.RepoTags.filter((t): t is string => typeof t === 'string') : []
  let item: Item
  if (ref !== undefined) {
    const found = items.filter((it) =>
      tagsOf(it).some((t) => t === ref || t === `docker.io/library/${ref}` || t === `docker.io/${ref}`),
    )
    if (found.length !== 1) {
      throw new RktError(
        `${file} has ${found.length === 0 ? 'no' : 'more than one'} image tagged ${JSON.stringify(ref)}`,
        {
          code: 'ENOTFOUND',
          hint: `it has: ${items.flatMap(tagsOf).join(', ') || 'no tags'}`,
        },
      )
    }
    item = found[0]!
  } else {
    if (items.length !== 1) {
      throw new RktError(`${file} holds ${items.length} images; say which`, {
        code: 'EUSAGE',
        hint: `append :TAG, one of: ${items.flatMap(tagsOf).join(', ')}`,
      })
    }
    item = items[0]!
  }
  if (typeof item.Config !== 'string' || !Array.isArray(item.Layers)) {
    throw badImage(`${file}: manifest.json entry without Config or Layers`)
  }
  const cfgName = normalizeEntryName(item.Config)
  const cfg = resolve(members, cfgName, file).member
  if (!cfg.data) throw badImage(`${file}: config ${cfgName} is too large`)
  const configDigest = sha256Of(cfg.data)
  const config = parseImageConfig(cfg.data, `${file}: ${cfgName}`)
  const layers = (item.Layers as unknown[]).map((l, i) => {
    if (typeof l !== 'string') throw badImage(`${file}: manifest.json Layers[${i}] is not a string`)
    return resolve(members, normalizeEntryName(l), file).member
  })
  if (layers.length !== config.rootfs.diff_ids.length) {
    throw badImage(`${file}: the config lists ${config.rootfs.diff_ids.length} layers, manifest.json ${layers.length}`)
  }
  const tag = ref ?? tagsOf(item)[0]
  return {
    config,
    configDigest,
    layers: layers.map((m, i) => ({
      // Layers are stored uncompressed: the blob digest is the diff ID (convertLayer checks it).
      digest: config.rootfs.diff_ids[i]!,
      diffId: config.rootfs.diff_ids[i]!,
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
      size: m.size,
      open: () =>
        Promise.resolve(
          m.size === 0
            ? Readable.from([])
            : fs.createReadStream(file, {start: m.start, end: m.start + m.size - 1, highWaterMark: 1 << 20}),
        ),
    })),
    ...(tag === undefined ? {} : {tag}),
  }
}
