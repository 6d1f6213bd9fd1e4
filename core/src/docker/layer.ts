// One Docker/OCI layer tar → one ACI (beyond rkt, whose docker2aci squashed an image into one ACI: here one ACI per
// layer, layered by appc dependencies and pathWhitelist). Entries move under `rootfs/`; whiteouts are not emitted as
// files but shape the whitelist: the whitelist of layer k lists every non-directory that exists after layers 0..k, so
// rendering (store/tree-store.ts) drops what a whiteout deleted from the layers below.
//
// The output depends on nothing but the layer and the manifest, so the same layer on the same parent gives the same
// bytes and the same image ID. Hostile entries are refused with the entry named: `..` and absolute names
// (docs/security.md SEC-22/23), whiteouts that name `.`, `..` or nothing (SEC-36). A hardlink whose target a later
// layer deletes would lose its content at render time (SEC-38): the later layer re-emits the content (see LinkGroup).
import crypto from 'node:crypto'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream'
import zlib from 'node:zlib'

import {RktError} from '../errors.js'
import {encodePaxRecords, encodeUstarHeader, normalizeEntryName, resolveLimits, TarReader} from '../aci/index.js'
import type {AciLimits, TarEntry} from '../aci/index.js'
import {badImage} from './source.js'

/**
 * Hardlinked files that must survive together: `target` is the path the ACI named `layer` stores as
 * the regular file, `links` the live paths that the ACI stores as hardlinks to it.
 */
export interface LinkGroup {
  /** The image name of the layer ACI that stores `target` (known before its ID is). */
  readonly layer: string
  readonly target: string
  readonly links: readonly string[]
}

/** What layers 0..k-1 left: the non-directory paths (absolute, `/etc/motd`), and the live hardlink groups. */
export interface LowerState {
  readonly paths: ReadonlySet<string>
  readonly groups: readonly LinkGroup[]
}

/** Copies one file of a stored lower layer ACI: calls onEntry with its header, then onData with its bytes. */
export type LowerFileReader = (
  layer: string,
  path: string,
  onEntry: (e: TarEntry) => void,
  onData: (chunk: Buffer) => void,
) => void

export interface ConvertLayerOptions {
  /** The expected sha256 of the uncompressed tar (the config's diff_id). */
  readonly diffId: string
  /** For messages: `layer sha256:abcd…`. */
  readonly what: string
  readonly lower: LowerState
  /** The image name of the ACI being written: the groups it starts name it. */
  readonly selfName: string
  readonly readLower?: LowerFileReader
  /** The manifest bytes, given the final whitelist (sorted) and the live hardlink groups. */
  readonly manifest: (whitelist: readonly string[], groups: readonly LinkGroup[]) => Buffer
  /** Receives the ACI tar bytes in order (synchronously; the chunk may be reused after the call). */
  readonly write: (chunk: Buffer) => void
  readonly limits?: Partial<AciLimits>
  readonly onWarning?: (message: string) => void
}

export interface ConvertedLayer {
  /** Non-directory paths after this layer (the pathWhitelist), sorted. */
  readonly whitelist: readonly string[]
  /** Hardlink groups live after this layer; ones this layer starts carry `selfName`. */
  readonly groups: readonly LinkGroup[]
  /** Uncompressed layer bytes. */
  readonly tarBytes: number
}

const OPAQUE = '.wh..wh..opq'
const WH = '.wh.'
const WH_META = '.wh..wh.'
const MAX_USTAR_ID = 0o7777777
const MAX_USTAR_SIZE = 0o77777777777
const FIXED_MTIME = 0 // of the entries we add ourselves (rootfs/, manifest): reproducible

/** Buffers the output into large writes. */
class TarOut {
  private buf = Buffer.allocUnsafe(1 << 20)
  private len = 0
  bytes = 0

  constructor(private readonly sink: (chunk: Buffer) => void) {}

  push(data: Buffer): void {
    this.bytes += data.length
    if (this.len + data.length > this.buf.length) {
      this.flush()
      if (data.length > this.buf.length) {
        this.sink(data)
        return
      }
    }
    data.copy(this.buf, this.len)
    this.len += data.length
  }

  pad(size: number): void {
    const n = (512 - (size % 512)) % 512
    if (n > 0) this.push(Buffer.alloc(n))
  }

  flush(): void {
    if (this.len > 0) this.sink(this.buf.subarray(0, this.len))
    this.len = 0
  }

  /** One entry header (with a pax header first when a field does not fit ustar). */
  header(e: {
    name: string
    typeflag: string
    mode: number
    uid: number
    gid: number
    size: number
    mtime: number
    linkname?: string
    uname?: string
    gname?: string
    xattrs?: ReadonlyMap<string, Buffer> | undefined
  }): void {
    const records: [string, string | Buffer][] = []
    const ascii = (s: string, max: number): boolean => s.length <= max && /^[\x20-\x7e]*$/.test(s)
    let name = e.name
    if (!ascii(name, 100)) {
      records.push(['path', name])
      name = name.replace(/[^\x20-\x7e]/g, '_').slice(0, 100)
    }
    let linkname = e.linkname ?? ''
    if (!ascii(linkname, 100)) {
      records.push(['linkpath', linkname])
      linkname = linkname.replace(/[^\x20-\x7e]/g, '_').slice(0, 100)
    }
    let {uid, gid, size} = e
    if (uid > MAX_USTAR_ID) {
      records.push(['uid', String(uid)])
      uid = 0
    }
    if (gid > MAX_USTAR_ID) {
      records.push(['gid', String(gid)])
      gid = 0
    }
    if (size > MAX_USTAR_SIZE) {
      records.push(['size', String(size)])
      size = 0
    }
    for (const [k, v] of [...(e.xattrs ?? new Map<string, Buffer>())].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )) {
      records.push([`SCHILY.xattr.${k}`, v])
    }
    if (records.length > 0) {
      const body = encodePaxRecords(records)
      this.push(encodeUstarHeader({name: 'PaxHeader', typeflag: 'x', size: body.length, mtime: 0}))
      this.push(body)
      this.pad(body.length)
    }
    const uname = e.uname !== undefined && ascii(e.uname, 32) ? e.uname : ''
    const gname = e.gname !== undefined && ascii(e.gname, 32) ? e.gname : ''
    this.push(
      encodeUstarHeader({
        name,
        typeflag: e.typeflag,
        mode: e.mode & 0o7777,
        uid,
        gid,
        size,
        mtime: Math.max(0, Math.floor(e.mtime)),
        linkname,
        ...(uname ? {uname} : {}),
        ...(gname ? {gname} : {}),
      }),
    )
  }
}

const TYPEFLAG: Record<string, string> = {file: '0', hardlink: '1', symlink: '2', directory: '5', fifo: '6'}

/** The uncompressed tar of a layer blob: gzip is inflated, zstd refused, anything else read as a tar. */
async function* uncompressed(blob: Readable, what: string): AsyncGenerator<Buffer> {
  const it = (blob as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  let head = Buffer.alloc(0)
  while (head.length < 4) {
    const r = await it.next()
    if (r.done === true) break
    head = Buffer.concat([head, r.value])
  }
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head
    for (;;) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    blob.destroy()
    throw badImage(
      `${what} is compressed with zstd, which is not supported`,
      'push the image with gzip-compressed layers (e.g. skopeo copy --dest-compress-format gzip)',
    )
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = zlib.createGunzip({chunkSize: 256 * 1024})
    pipeline(Readable.from(rest(), {objectMode: false}), gunzip, () => {})
    try {
      for await (const c of gunzip as AsyncIterable<Buffer>) yield c
    } catch (err) {
      if (err instanceof RktError) throw err
      throw badImage(`${what}: corrupt or truncated gzip data: ${(err as Error).message}`)
    }
    return
  }
  yield* rest()
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/')
  return i < 0 ? '' : p.slice(0, i)
}

/**
 * Converts one layer blob (compressed or not) into an ACI tar given to `opts.write`. Throws, naming the
 * entry, on anything hostile or malformed, and when the tar's sha256 is not the expected diff ID.
 */
export async function convertLayer(blob: Readable, opts: ConvertLayerOptions): Promise<ConvertedLayer> {
  const limits = resolveLimits(opts.limits)
  const out = new TarOut(opts.write)
  const diffHash = crypto.createHash('sha256')
  const dirs = new Set<string>() // rootfs-relative, this layer
  const nondirs = new Set<string>()
  const whiteouts = new Set<string>()
  const opaque = new Set<string>()
  const localLinks = new Map<string, string[]>() // stored file → its links, within this layer
  const rootOf = new Map<string, string>() // link → the stored file it shares
  let skipData = false
  let dataSize = 0

  out.header({name: 'rootfs', typeflag: '5', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: FIXED_MTIME})

  const refuse = (e: TarEntry, why: string): RktError =>
    badImage(
      `${opts.what}: entry ${JSON.stringify(e.name)}: ${why}`,
      'the layer is hostile or damaged; it was not imported',
    )

  const reader = new TarReader(
    {
      onEntry(e: TarEntry) {
        skipData = true
        dataSize = e.size
        // `/`, `./` (GNU tar's) and the like name the layer's root, as containerd and GNU tar read them: the
        // rootfs entry stands for it. Every other absolute name stays refused below.
        if (e.name.split('/').every((c) => c === '' || c === '.')) {
          if (e.type !== 'directory') throw refuse(e, 'the root of the layer must be a directory')
          return
        }
        let p: string
        try {
          p = normalizeEntryName(e.name, () => `entry ${JSON.stringify(e.name)}`)
        } catch (err) {
          throw badImage(
            `${opts.what}: ${(err as Error).message.replace(/^invalid image: /, '')}`,
            'the layer is hostile or damaged; it was not imported',
          )
        }
        const slash = p.lastIndexOf('/')
        const base = slash < 0 ? p : p.slice(slash + 1)
        const dir = parentOf(p)
        if (base.startsWith(WH)) {
          if (base === OPAQUE) {
            opaque.add(dir)
          } else if (!base.startsWith(WH_META)) {
            const target = base.slice(WH.length)
            if (target === '' || target === '.' || target === '..') {
              throw refuse(e, `a whiteout must name a file, not ${JSON.stringify(target)} (SEC-36)`)
            }
            whiteouts.add(dir === '' ? target : `${dir}/${target}`)
          }
          // other `.wh..wh.` names are aufs bookkeeping: never part of the image
          return
        }
        if (e.type === 'char' || e.type === 'block') {
          opts.onWarning?.(`${opts.what}: device node /${p} skipped (the runtime provides /dev)`)
          return
        }
        let linkname = e.linkname
        if (e.type === 'hardlink') {
          let t: string
          try {
            t = normalizeEntryName(e.linkname, () => `hardlink target ${JSON.stringify(e.linkname)}`)
          } catch (err) {
            throw refuse(e, (err as Error).message.replace(/^invalid image: /, ''))
          }
          if (!nondirs.has(t))
            throw refuse(e, `hardlink target ${JSON.stringify(e.linkname)} is not an earlier file of this layer`)
          // Links to a link: point at the group's first file, as the ACI stores it.
          const root = rootOf.get(t) ?? t
          rootOf.set(p, root)
          const ls = localLinks.get(root) ?? []
          ls.push(p)
          localLinks.set(root, ls)
          linkname = `rootfs/${root}`
        }
        if (e.type === 'directory') dirs.add(p)
        else nondirs.add(p)
        out.header({
          name: `rootfs/${p}`,
          typeflag: TYPEFLAG[e.type]!,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          size: e.type === 'file' ? e.size : 0,
          mtime: e.mtime,
          linkname,
          uname: e.uname,
          gname: e.gname,
          xattrs: e.xattrs,
        })
        skipData = e.type !== 'file'
      },
      onData(chunk: Buffer) {
        if (!skipData) out.push(chunk)
      },
      onEntryEnd() {
        if (!skipData) out.pad(dataSize)
        skipData = true
      },
    },
    limits,
  )

  let tarBytes = 0
  for await (const chunk of uncompressed(blob, opts.what)) {
    diffHash.update(chunk)
    tarBytes += chunk.length
    reader.push(chunk)
  }
  if (tarBytes > 0) reader.end() // an empty blob is an empty layer (docker save writes some)
  const diffId = `sha256:${diffHash.digest('hex')}`
  if (diffId !== opts.diffId) {
    throw badImage(
      `${opts.what}: the uncompressed layer has digest ${diffId}, but the image config says ${opts.diffId}`,
    )
  }

  // What is deleted from below: whited-out paths and everything under them, children of opaque
  // directories, and whatever this layer replaces by an entry of another kind.
  const deleted = (p: string): boolean => {
    if (whiteouts.has(p) || dirs.has(p)) return true
    if (opaque.has('')) return true
    for (let a = parentOf(p); ; a = parentOf(a)) {
      if (a === '') return false
      if (whiteouts.has(a) || opaque.has(a) || nondirs.has(a)) return true
    }
  }
  const live = new Set<string>()
  for (const abs of opts.lower.paths) if (!deleted(abs.slice(1))) live.add(abs)
  for (const p of nondirs) live.add(`/${p}`)

  // SEC-38: a lower group whose stored file is gone but whose links live on gets its content re-emitted here.
  const groups: LinkGroup[] = []
  for (const g of opts.lower.groups) {
    const links = g.links.filter((l) => live.has(l) && !nondirs.has(l.slice(1)))
    if (links.length === 0) continue
    if (live.has(g.target) && !nondirs.has(g.target.slice(1))) {
      groups.push({...g, links})
      continue
    }
    if (!opts.readLower)
      throw new RktError(`${opts.what}: cannot keep the hardlinks of ${g.target}: no reader of lower layers`)
    const [first, ...others] = links as [string, ...string[]]
    let size = 0
    opts.readLower(
      g.layer,
      g.target,
      (e) => {
        size = e.size
        out.header({
          name: `rootfs${first}`,
          typeflag: '0',
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          size: e.size,
          mtime: e.mtime,
          uname: e.uname,
          gname: e.gname,
          xattrs: e.xattrs,
        })
      },
      (c) => out.push(c),
    )
    out.pad(size)
    for (const l of others) {
      out.header({
        name: `rootfs${l}`,
        typeflag: '1',
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        linkname: `rootfs${first}`,
      })
    }
    if (others.length > 0) groups.push({layer: opts.selfName, target: first, links: others})
  }
  for (const [t, ls] of localLinks) groups.push({layer: opts.selfName, target: `/${t}`, links: ls.map((l) => `/${l}`)})

  const whitelist = [...live].sort()
  const manifest = opts.manifest(whitelist, groups)
  out.header({name: 'manifest', typeflag: '0', mode: 0o644, uid: 0, gid: 0, size: manifest.length, mtime: FIXED_MTIME})
  out.push(manifest)
  out.pad(manifest.length)
  out.push(Buffer.alloc(1024))
  out.flush()
  return {whitelist, groups, tarBytes}
}
