// `actool build`: packs an image layout (manifest + rootfs/) into an ACI, reproducibly. The tree is walked in
// sorted order and the manifest goes last with the layout manifest's mtime, so the same input gives the same
// bytes and the same image ID (appc's actool stamps its manifest entry with the time of the build, so two
// builds of one layout differ).
import fs from 'node:fs'
import path from 'node:path'
import {Readable, Transform} from 'node:stream'
import type {TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import tar from 'tar-stream'
import type {Header, Pack} from 'tar-stream'

import {RktError, UsageError, wrap} from '../errors.js'
import {fsyncDir, tempPathFor} from '../sys/atomic.js'
import {getXattr, listXattrs} from '../sys/native.js'
import {DEFAULT_XATTRS} from './tree-writer.js'
import {ImageIdHasher} from './image-id.js'
import {deviceNodeError} from './device-nodes.js'
import {encodePaxHeader} from './tar-header.js'

/** What to build. */
export interface BuildOptions {
  /** A directory holding only `manifest` and `rootfs/`. */
  layoutDir: string
  /** The image file to write; must end in `.aci`. */
  outFile: string
  /** The manifest to store (already validated and serialised by the caller). */
  manifest: Buffer
  compression: 'gzip' | 'none'
  /** Replace an existing outFile. */
  overwrite?: boolean
  /** Store every file as 0:0 instead of its owner in the layout. */
  ownerRoot?: boolean
  /** xattr names to store (exact, or prefixes ending in `*`); default `user.*` and `security.capability`. */
  xattrs?: readonly string[]
}

/** What was built. */
export interface BuildResult {
  /** sha512- and the hex SHA-512 of the uncompressed tar. */
  imageId: string
  /** Size of the uncompressed tar. */
  tarBytes: number
  /** Size of the written file. */
  fileBytes: number
  /** Archive entries, the manifest included. */
  entries: number
}

type Headers = Partial<Header> & Pick<Header, 'name'>

const utf8 = new TextDecoder('utf-8', {fatal: true})
const TYPE_BITS = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  'character-device': 0o020000,
  'block-device': 0o060000,
  fifo: 0o010000,
}

/** True when tar-stream can store `name` in the ustar name/prefix fields (ASCII, split at a '/'). */
function fitsUstar(name: string): boolean {
  if (!/^[\x20-\x7e]*$/.test(name)) return false
  if (name.length <= 100) return true
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    if (name.length - i - 1 <= 100) return true
  }
  return false
}

/** A printable ASCII stand-in for a name carried by a pax record. */
function placeholder(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 100)
}

function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn))
}

function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn))
}

class Builder {
  entries = 0
  private readonly inodes = new Map<string, string>()

  constructor(
    private readonly pack: Pack,
    private readonly opts: BuildOptions,
  ) {}

  private allowed(name: string): boolean {
    return (this.opts.xattrs ?? DEFAULT_XATTRS).some((p) =>
      p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p,
    )
  }

  private readXattrs(file: string): [string, Buffer][] {
    let names: string[]
    try {
      names = listXattrs(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTSUP' || (err as NodeJS.ErrnoException).code === 'EOPNOTSUPP')
        return []
      throw err
    }
    return names
      .filter((n) => this.allowed(n))
      .sort()
      .map((n) => [n, getXattr(file, n)])
  }

  /** Adds one entry; a pax header of our own goes first when names, ids or xattrs need one. */
  private async add(header: Headers, xattrs: [string, Buffer][], body?: Buffer | {file: string}): Promise<void> {
    const records: [string, string | Buffer][] = []
    if (!fitsUstar(header.name)) {
      records.push(['path', header.name])
      header.name = placeholder(header.name)
    }
    if (
      header.linkname !== undefined &&
      header.linkname !== null &&
      (!/^[\x20-\x7e]*$/.test(header.linkname) || header.linkname.length > 100)
    ) {
      records.push(['linkpath', header.linkname])
      header.linkname = placeholder(header.linkname)
    }
    // tar-stream writes ids in 6 octal digits and silently clamps larger ones.
    if ((header.uid ?? 0) > 0o777777) records.push(['uid', String(header.uid)])
    if ((header.gid ?? 0) > 0o777777) records.push(['gid', String(header.gid)])
    for (const [k, v] of xattrs) records.push([`SCHILY.xattr.${k}`, v])
    if (records.length > 0) {
      // Pushed between entries, when tar-stream has nothing in flight, so the order in the stream is exact.
      this.pack.push(
        encodePaxHeader(records, {
          name: `PaxHeaders/${placeholder(path.posix.basename(header.name)).slice(0, 80)}`,
          mtime: (header.mtime?.getTime() ?? 0) / 1000,
        }),
      )
    }
    this.entries++
    if (body !== undefined && !Buffer.isBuffer(body)) {
      await this.streamFile(header, body.file)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      if (body) this.pack.entry(header, body, cb)
      else this.pack.entry(header, cb)
    })
  }

  /** Streams a regular file into its entry in 1 MiB chunks (never read whole). */
  private async streamFile(header: Headers, file: string): Promise<void> {
    const fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    try {
      let sink!: ReturnType<Pack['entry']>
      // tar-stream calls back once the entry is complete (or failed, e.g. the file changed size).
      const done = new Promise<void>((resolve, reject) => {
        sink = this.pack.entry(header, (err?: Error | null) => (err ? reject(err) : resolve()))
      })
      for (;;) {
        // A fresh buffer per chunk: tar-stream queues the buffer it is given.
        const buf = Buffer.allocUnsafe(1 << 20)
        const {bytesRead} = await fh.read(buf, 0, buf.length, null)
        if (bytesRead === 0) break
        if (!sink.write(buf.subarray(0, bytesRead))) await new Promise<void>((r) => sink.once('drain', () => r()))
      }
      sink.end(undefined)
      await done
    } finally {
      await fh.close()
    }
  }

  /** Adds `abs` (archived as `name`) and, for a directory, its children in byte order. */
  async walk(abs: string, name: string): Promise<void> {
    const st = fs.lstatSync(abs, {bigint: true})
    const uid = this.opts.ownerRoot === true ? 0 : Number(st.uid)
    const gid = this.opts.ownerRoot === true ? 0 : Number(st.gid)
    const perm = Number(st.mode) & 0o7777
    const base = {
      uid,
      gid,
      uname: '',
      gname: '',
      mtime: new Date(Math.max(0, Math.floor(Number(st.mtimeMs) / 1000)) * 1000),
    }
    if (st.isSocket()) return // sockets cannot be archived (as actool)
    const xattrs = this.readXattrs(abs)
    if (st.isDirectory()) {
      await this.add({...base, name: `${name}/`, type: 'directory', mode: TYPE_BITS.directory | perm}, xattrs)
      const children = fs.readdirSync(abs, {encoding: 'buffer'}).sort((a, b) => Buffer.compare(a, b))
      for (const child of children) {
        let text: string
        try {
          text = utf8.decode(child)
        } catch {
          throw new RktError(`file name is not valid UTF-8: ${JSON.stringify(path.join(abs, child.toString()))}`, {
            code: 'EBADACI',
          })
        }
        await this.walk(path.join(abs, text), `${name}/${text}`)
      }
      return
    }
    // Second and later paths of one inode become tar hardlinks to the first.
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`
      const first = this.inodes.get(key)
      if (first !== undefined) {
        await this.add({...base, name, type: 'link', linkname: first, mode: TYPE_BITS.file | perm, size: 0}, [])
        return
      }
      this.inodes.set(key, name)
    }
    if (st.isFile()) {
      await this.add({...base, name, type: 'file', mode: TYPE_BITS.file | perm, size: Number(st.size)}, xattrs, {
        file: abs,
      })
    } else if (st.isSymbolicLink()) {
      await this.add(
        {...base, name, type: 'symlink', linkname: fs.readlinkSync(abs), mode: TYPE_BITS.symlink | perm},
        xattrs,
      )
    } else if (st.isFIFO()) {
      await this.add({...base, name, type: 'fifo', mode: TYPE_BITS.fifo | perm}, xattrs)
    } else {
      throw deviceNodeError(name, st.isCharacterDevice() ? 'char' : 'block', major(st.rdev), minor(st.rdev))
    }
  }

  /** Appends the manifest last, as actool does: 0644, root:root, with the layout manifest's mtime. */
  async manifest(bytes: Buffer, mtime: Date): Promise<void> {
    await this.add(
      {
        name: 'manifest',
        type: 'file',
        mode: TYPE_BITS.file | 0o644,
        uid: 0,
        gid: 0,
        uname: '',
        gname: '',
        mtime,
        size: bytes.length,
      },
      [],
      bytes,
    )
  }
}

/** Checks that the layout holds exactly `manifest` (a file) and `rootfs/` (a directory), as actool does. */
function checkLayout(dir: string): fs.Stats {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch (err) {
    throw wrap(`cannot read the image layout ${dir}`, err)
  }
  for (const n of names) {
    if (n !== 'manifest' && n !== 'rootfs') {
      throw new RktError(`unrecognized file path in layout: ${JSON.stringify(n)}`, {
        code: 'EBADACI',
        hint: `a layout holds only 'manifest' and 'rootfs/'`,
      })
    }
  }
  const m = fs.lstatSync(path.join(dir, 'manifest'), {throwIfNoEntry: false})
  if (!m?.isFile()) throw new RktError(`no image manifest (a regular file) in layout ${dir}`, {code: 'EBADACI'})
  if (!fs.lstatSync(path.join(dir, 'rootfs'), {throwIfNoEntry: false})?.isDirectory()) {
    throw new RktError(`no rootfs directory in layout ${dir}`, {code: 'EBADACI'})
  }
  return m
}

/** Builds an ACI from an image layout, writing a temp file beside outFile and renaming it at the end. */
export async function buildAci(opts: BuildOptions): Promise<BuildResult> {
  if (!opts.outFile.endsWith('.aci')) throw new UsageError(`the image file name must end in .aci: ${opts.outFile}`)
  if (opts.overwrite !== true && fs.existsSync(opts.outFile)) {
    throw new RktError(`${opts.outFile} already exists`, {code: 'EEXIST', hint: 'use --overwrite to replace it'})
  }
  const manifestStat = checkLayout(opts.layoutDir)
  const pack = tar.pack()
  const builder = new Builder(pack, opts)
  const hasher = new ImageIdHasher()
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      hasher.update(chunk)
      cb(null, chunk)
    },
  })
  const tmp = tempPathFor(opts.outFile)
  const producer = (async () => {
    await builder.walk(path.join(opts.layoutDir, 'rootfs'), 'rootfs')
    await builder.manifest(opts.manifest, new Date(Math.floor(manifestStat.mtimeMs / 1000) * 1000))
    pack.finalize()
  })().catch((err: unknown) => {
    pack.destroy(err as Error)
    throw err
  })
  const source = Readable.from(pack)
  const out = fs.createWriteStream(tmp, {flags: 'wx', mode: 0o644})
  // zlib's gzip header carries no timestamp or name, so compressed output is as reproducible as the tar.
  const written =
    opts.compression === 'gzip' ? pipeline(source, tap, zlib.createGzip(), out) : pipeline(source, tap, out)
  const [p, w] = await Promise.allSettled([producer, written])
  try {
    if (p.status === 'rejected') throw p.reason
    if (w.status === 'rejected') throw w.reason
    const fd = fs.openSync(tmp, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, opts.outFile)
    fsyncDir(path.dirname(opts.outFile))
  } catch (err) {
    fs.rmSync(tmp, {force: true})
    throw wrap(`cannot build ${opts.outFile}`, err)
  }
  return {
    imageId: hasher.digest(),
    tarBytes: hasher.bytes,
    fileBytes: fs.statSync(opts.outFile).size,
    entries: builder.entries,
  }
}
