// Test support for the ACI module: archives packed by tar-stream (as an attacker would build them), and a
// sandbox with a victim directory beside the extraction root whose state can be compared byte for byte.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import tar from 'tar-stream'
import type {Header} from 'tar-stream'

/** One archive entry for packTar; `data` makes a regular file. */
export interface EntrySpec {
  name: string
  type?: Header['type']
  data?: string | Buffer
  linkname?: string
  mode?: number
  uid?: number
  gid?: number
  mtime?: Date
  devmajor?: number
  devminor?: number
}

/** A small valid image manifest. */
export const TEST_MANIFEST = Buffer.from(
  JSON.stringify({
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'example.com/test',
    labels: [{name: 'os', value: 'linux'}],
  }),
)

// tar-stream replaces a falsy mode with its default; file-type bits keep mode 0 (it masks them off).
const TYPE_BITS: Record<string, number> = {file: 0o100000, directory: 0o040000, symlink: 0o120000, fifo: 0o010000}

/** Packs entries with tar-stream (names and targets exactly as given, hostile ones included). */
export async function packTar(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c)
  })()
  for (const e of entries) {
    const type = e.type ?? (e.data !== undefined ? 'file' : 'directory')
    const header = {
      name: e.name,
      type,
      mode: (e.mode ?? (type === 'directory' ? 0o755 : 0o644)) | (TYPE_BITS[type ?? 'file'] ?? 0o100000),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      ...(e.linkname !== undefined ? {linkname: e.linkname} : {}),
      ...(e.devmajor !== undefined ? {devmajor: e.devmajor, devminor: e.devminor ?? 0} : {}),
    }
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      if (e.data !== undefined) pack.entry(header, typeof e.data === 'string' ? Buffer.from(e.data) : e.data, cb)
      else pack.entry(header, cb)
    })
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

/** Entries of a minimal image (`manifest`, `rootfs/`) followed by `rest`. */
export function imageEntries(rest: EntrySpec[], manifest: Buffer = TEST_MANIFEST): EntrySpec[] {
  return [{name: 'manifest', data: manifest}, {name: 'rootfs/'}, ...rest]
}

/** packTar of imageEntries. */
export async function packImage(rest: EntrySpec[]): Promise<Buffer> {
  return packTar(imageEntries(rest))
}

/** A temp root holding `dest/` (extraction root) and `victim/x` beside it. */
export interface Sandbox {
  root: string
  dest: string
  victim: string
  /** Writes an archive into the root and returns its path. */
  writeTar(data: Buffer, name?: string): string
  /** State of everything in the root except dest: names, types, modes, owners, link counts, inodes, contents. */
  snapshot(): string
  /** Paths under dest whose inode is also reachable outside dest (must always be empty). */
  sharedInodes(): string[]
  cleanup(): void
}

function walk(dir: string, out: string[], skip?: string): void {
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name)
    if (p === skip) continue
    const st = fs.lstatSync(p)
    let extra = ''
    if (st.isFile()) extra = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')
    else if (st.isSymbolicLink()) extra = fs.readlinkSync(p)
    out.push(
      `${p} mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid} nlink=${st.nlink} ino=${st.ino} mtime=${st.mtimeMs} ${extra}`,
    )
    if (st.isDirectory()) walk(p, out, skip)
  }
}

function inodes(dir: string, out: Map<string, string>): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name)
    const st = fs.lstatSync(p)
    out.set(`${st.dev}:${st.ino}`, p)
    if (st.isDirectory()) inodes(p, out)
  }
}

/** Creates a sandbox: root/dest (empty), root/victim/x ("precious", mode 0400). */
export function makeSandbox(): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-aci-'))
  const dest = path.join(root, 'dest')
  const victim = path.join(root, 'victim')
  fs.mkdirSync(dest)
  fs.mkdirSync(victim)
  fs.writeFileSync(path.join(victim, 'x'), 'precious\n', {mode: 0o400})
  return {
    root,
    dest,
    victim,
    writeTar(data, name = 'image.tar') {
      const p = path.join(root, name)
      fs.writeFileSync(p, data)
      return p
    },
    snapshot() {
      const out: string[] = []
      walk(root, out, dest)
      return out.join('\n')
    },
    sharedInodes() {
      const outside = new Map<string, string>()
      inodes(victim, outside)
      const inside = new Map<string, string>()
      if (fs.existsSync(dest)) inodes(dest, inside)
      return [...inside].filter(([k]) => outside.has(k)).map(([, p]) => p)
    },
    cleanup() {
      fs.rmSync(root, {recursive: true, force: true})
    },
  }
}
