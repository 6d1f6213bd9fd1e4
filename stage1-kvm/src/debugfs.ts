// Reading an ext4 disk image a guest wrote, in user space (e2fsprogs' debugfs, read-only): the host kernel
// never mounts it, so a crafted file system meets only debugfs' parser, never the kernel's. `rdump` copies
// files, directories and symlinks with owners, modes and times; what it does not (device nodes, FIFOs, hard
// links, setuid/setgid bits: it chowns after chmod) is put right from a listing of every directory, which
// also refuses what would let rdump write outside the target (a name with a slash, two entries of one name,
// a directory reached twice).
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {requireHostTool, RktError} from '@rkt/core/stage1'

const ROOT_INO = 2
const S_IFMT = 0o170000
const TYPE = {dir: 0o040000, file: 0o100000, link: 0o120000, chr: 0o020000, blk: 0o060000, fifo: 0o010000}

/** One entry of the file system, as its directory lists it. */
export interface Ext4Entry {
  /** Relative to the root, without a leading slash. */
  readonly path: string
  readonly ino: number
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** What an export left out, by path (sockets: nothing to keep in an image). */
export interface DumpReport {
  readonly skipped: readonly string[]
}

/**
 * Runs debugfs read-only on `image` with `commands` (one per line on stdin) and returns each command's output
 * lines. Any message on stderr is a failure: debugfs exits 0 whatever its commands did.
 */
function debugfs(image: string, commands: readonly string[], cwd?: string): string[][] {
  const tool = requireHostTool('debugfs', 'e2fsprogs', 'the kvm stage1')
  const r = spawnSync(tool, ['-f', '-', image], {input: commands.join('\n') + '\n', cwd, maxBuffer: 1 << 30})
  const errors = r.stderr
    .toString()
    .split('\n')
    .filter((l) => l !== '' && !/^debugfs [0-9.]+ \(/.test(l))
  if (r.error || r.status !== 0 || errors.length > 0) {
    throw new RktError(`debugfs cannot read the disk image ${image}: ${errors.join('; ') || r.error?.message}`, {
      hint: 'the disk may be damaged: check it with e2fsck -n',
    })
  }
  // debugfs echoes each command as "debugfs: CMD" before its output; a file name cannot fake one, because
  // each must be the next command expected.
  const sections: string[][] = []
  for (const line of r.stdout.toString().split('\n')) {
    if (line === `debugfs: ${commands[sections.length]}`) sections.push([])
    else if (sections.length > 0) sections[sections.length - 1]!.push(line)
  }
  if (sections.length !== commands.length)
    throw new RktError(`debugfs gave no answer to "${commands[sections.length]}"`)
  return sections
}

const LS_LINE = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/([^/]*)\/\d*\/$/

/** Every entry of the file system (without `.`, `..`), parents before children, one debugfs per depth. */
export function listExt4(image: string): Ext4Entry[] {
  const out: Ext4Entry[] = []
  const dirsSeen = new Set([ROOT_INO])
  let level: {ino: number; path: string}[] = [{ino: ROOT_INO, path: ''}]
  while (level.length > 0) {
    const sections = debugfs(
      image,
      level.map((d) => `ls -p <${d.ino}>`),
    )
    const next: {ino: number; path: string}[] = []
    level.forEach((dir, i) => {
      const names = new Set<string>()
      for (const line of sections[i]!) {
        if (line === '') continue
        const m = LS_LINE.exec(line)
        const where = `/${dir.path}`
        if (!m) throw unsafe(image, `a file name in ${where} holds a newline`)
        const name = m[5]!
        const e: Ext4Entry = {
          path: path.posix.join(dir.path, name),
          ino: Number(m[1]),
          mode: parseInt(m[2]!, 8),
          uid: Number(m[3]),
          gid: Number(m[4]),
        }
        if (e.ino === 0 || name === '.' || name === '..') continue
        if (name === '' || names.has(name)) throw unsafe(image, `${where} lists "${name}" twice`)
        names.add(name)
        out.push(e)
        if ((e.mode & S_IFMT) !== TYPE.dir) continue
        if (dirsSeen.has(e.ino)) throw unsafe(image, `directory /${e.path} is reached twice`)
        dirsSeen.add(e.ino)
        next.push({ino: e.ino, path: e.path})
      }
    })
    level = next
  }
  return out
}

function unsafe(image: string, what: string): RktError {
  return new RktError(`the disk image ${image} is not a file system rkt exports: ${what}`, {
    hint: 'a guest may have damaged it on purpose; nothing was written outside the export',
  })
}

/**
 * Copies the whole file system of `image` (raw ext4) into the empty directory `to`: files, directories and
 * symlinks by debugfs' rdump, then hard links, setuid/setgid bits, device nodes and FIFOs put right.
 * Extended attributes (file capabilities, ACLs) are not kept: rdump drops them.
 */
export function dumpExt4(image: string, to: string): DumpReport {
  const entries = listExt4(image)
  if (to.includes('"')) throw new RktError(`cannot export into ${to}: its name has a double quote`)
  debugfs(image, [`rdump / "${path.resolve(to)}"`])
  const at = (e: Ext4Entry): string => path.join(to, e.path)
  const firstLink = new Map<number, string>()
  const specials: Ext4Entry[] = []
  const skipped: string[] = []
  const touched = new Set<string>()
  for (const e of entries) {
    const type = e.mode & S_IFMT
    if (type === TYPE.file) {
      const first = firstLink.get(e.ino)
      if (first !== undefined) {
        fs.unlinkSync(at(e)) // rdump wrote a second copy
        fs.linkSync(first, at(e))
        touched.add(path.posix.dirname(e.path))
      } else {
        firstLink.set(e.ino, at(e))
        if (e.mode & 0o6000) fs.chmodSync(at(e), e.mode & 0o7777)
      }
    } else if (type === TYPE.chr || type === TYPE.blk || type === TYPE.fifo) {
      specials.push(e)
      touched.add(path.posix.dirname(e.path))
    } else if (type !== TYPE.dir && type !== TYPE.link) {
      skipped.push(`/${e.path}`)
    }
  }
  // The directories changed above get their times back, from the image, after their last change.
  const dirs = [...touched].map((p) => (p === '.' ? {path: '', ino: ROOT_INO} : entries.find((e) => e.path === p)!))
  const stats = debugfs(
    image,
    [...specials, ...dirs].map((e) => `stat <${e.ino}>`),
  )
  specials.forEach((e, i) => makeSpecial(at(e), e, stats[i]!.join('\n')))
  dirs
    .map((d, i) => ({abs: path.join(to, d.path), text: stats[specials.length + i]!.join('\n')}))
    .sort((a, b) => b.abs.length - a.abs.length)
    .forEach((d) => applyTimes(d.abs, d.text))
  // mkfs makes /lost+found; the image had none unless it is not empty.
  const lostFound = path.join(to, 'lost+found')
  if (fs.existsSync(lostFound) && fs.readdirSync(lostFound).length === 0) fs.rmdirSync(lostFound)
  return {skipped}
}

function makeSpecial(abs: string, e: Ext4Entry, stat: string): void {
  const type = e.mode & S_IFMT
  const args = ['-m', (e.mode & 0o7777).toString(8), abs]
  if (type === TYPE.fifo) args.push('p')
  else {
    const dev = /Device major\/minor number: (\d+):(\d+)/.exec(stat)
    if (!dev) throw new RktError(`debugfs gave no device number for /${e.path}`)
    args.push(type === TYPE.chr ? 'c' : 'b', dev[1]!, dev[2]!)
  }
  const r = spawnSync('mknod', args, {encoding: 'utf8'})
  if (r.status !== 0) throw new RktError(`cannot make the device node ${abs}: ${r.stderr || r.error?.message}`)
  fs.lchownSync(abs, e.uid, e.gid)
  applyTimes(abs, stat)
}

/** Sets a file's atime and mtime from debugfs' stat output (seconds, as rdump keeps them). */
function applyTimes(abs: string, stat: string): void {
  const time = (name: string) => Number.parseInt(new RegExp(`\\b${name}: 0x([0-9a-f]+)`).exec(stat)?.[1] ?? 'x', 16)
  const [atime, mtime] = [time('atime'), time('mtime')]
  if (Number.isFinite(atime) && Number.isFinite(mtime)) fs.utimesSync(abs, atime, mtime)
}
