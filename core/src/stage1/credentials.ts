// The uid, gid and supplementary groups an app runs with (appc spec/aci.md `app.user`/`app.group` and
// `supplementaryGIDs`; rkt's stage1/init/common ParseUserGroup and stage1_fly/process-credentials.go).
//
// Names are looked up by parsing the image's own /etc/passwd and /etc/group here, never through NSS: NSS would
// load libnss_*.so modules named by the image's nsswitch.conf into a root process (docs/security.md SEC-07). Both files
// are found with resolveInRoot, so an image whose /etc/passwd is a symlink to ../../../../etc/passwd reads its own file
// (or nothing), never the host's.
//
// Resolution order, per appc (rkt tried numbers and paths first; the results only differ for an image that
// names a user "1000" with another uid, and appc says the image's files win):
//   1. the name in the image's /etc/passwd (user) or /etc/group (group);
//   2. an all-digit string: that number;
//   3. `root`: 0, even without an /etc/passwd (rkt's NumericIDs hard-codes it; minimal images rely on it);
//   4. an absolute path: the owner uid (user) or gid (group) of that file inside the image;
//   5. otherwise an error that names the files consulted and the --user/--group fix.
import fs from 'node:fs'

import type {App, ImageManifest} from '../schema/index.js'

import {RktError} from '../errors.js'
import {hostPathInRoot} from './root-path.js'

/** The credentials of an app's processes. `groups` is what setgroups(2) receives. */
export interface Credentials {
  readonly uid: number
  readonly gid: number
  readonly groups: number[]
}

/** One /etc/passwd entry (the fields rkt reads). */
export interface PasswdEntry {
  readonly name: string
  readonly uid: number
  readonly gid: number
  readonly home: string
  readonly shell: string
}

/** One /etc/group entry. */
export interface GroupEntry {
  readonly name: string
  readonly gid: number
  readonly members: readonly string[]
}

/** Largest usable id: uid_t is 32 bits and (uid_t)-1 means "unchanged" to setresuid(2). */
export const MAX_ID = 0xfffffffe

/** /etc/passwd or /etc/group files larger than this are not read (an image cannot make stage1 swallow GBs). */
export const MAX_DB_SIZE = 16 * 1024 * 1024

/** docker2aci's annotation: rkt derives the gid from the uid for converted images (see resolveCredentials). */
const DOCKER_REPOSITORY_ANNOTATION = 'appc.io/docker/repository'

/** A decimal id in range, or undefined (signs, spaces, hex, out of range, empty). */
function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined
  const n = Number(s)
  return n <= MAX_ID ? n : undefined
}

/** Lines of a database: comments, blank lines and NIS compat entries (`+`/`-`) skipped, CRLF tolerated. */
function records(text: string): string[][] {
  const out: string[][] = []
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const trimmed = line.trimStart()
    if (trimmed === '' || trimmed.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue
    out.push(line.split(':'))
  }
  return out
}

/**
 * Parses /etc/passwd text. Malformed lines (fewer than 4 fields, an empty name, a uid or gid that is not a
 * decimal number in 0..MAX_ID) are skipped rather than failing the file as rkt did: one bad line in an image
 * should not hide the others. Order is kept; lookups take the first match, as glibc's files backend does.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = []
  for (const f of records(text)) {
    const name = f[0] ?? ''
    const uid = parseId(f[2])
    const gid = parseId(f[3])
    if (f.length < 4 || name === '' || uid === undefined || gid === undefined) continue
    out.push({name, uid, gid, home: f[5] ?? '', shell: f[6] ?? ''})
  }
  return out
}

/** Parses /etc/group text, with the same tolerance as parsePasswd (at least name, password and gid). */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = []
  for (const f of records(text)) {
    const name = f[0] ?? ''
    const gid = parseId(f[2])
    if (f.length < 3 || name === '' || gid === undefined) continue
    const members = (f[3] ?? '').split(',').filter((m) => m !== '')
    out.push({name, gid, members})
  }
  return out
}

/** What reading one of the image's databases gave. */
type DbRead = {readonly text: string} | {readonly absent: string}

/** Reads `file` (e.g. /etc/passwd) of the image: resolved inside the root, a regular file, size-capped. */
function readImageDb(rootfs: string, file: string): DbRead {
  let host: string
  try {
    host = hostPathInRoot(rootfs, file)
  } catch (err) {
    return {absent: `the image's ${file} cannot be resolved (${err instanceof Error ? err.message : String(err)})`}
  }
  let fd: number
  try {
    // O_NOFOLLOW: the last component was just resolved; if it became a link since, refuse rather than follow.
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as {code?: unknown}).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return {absent: `the image has no ${file}`}
    return {absent: `the image's ${file} cannot be opened (${String(code)})`}
  }
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) return {absent: `the image's ${file} is not a regular file`}
    if (st.size > MAX_DB_SIZE) return {absent: `the image's ${file} is larger than ${MAX_DB_SIZE} bytes`}
    const buf = Buffer.alloc(st.size)
    let off = 0
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off)
      if (n === 0) break
      off += n
    }
    return {text: buf.subarray(0, off).toString('utf8')}
  } catch (err) {
    return {absent: `the image's ${file} cannot be read (${err instanceof Error ? err.message : String(err)})`}
  } finally {
    fs.closeSync(fd)
  }
}

type Kind = 'user' | 'group'

const KIND = {
  user: {file: '/etc/passwd', id: 'UID', flag: '--user', code: 'ENOUSER', owner: 'owner uid'},
  group: {file: '/etc/group', id: 'GID', flag: '--group', code: 'ENOGROUP', owner: 'group (gid)'},
} as const

function resolveId(rootfs: string, kind: Kind, value: string): number {
  const k = KIND[kind]
  if (value === '') {
    throw new RktError(`the app has no ${kind}`, {
      code: k.code,
      hint: `set one with ${k.flag}=${k.id} (appc requires app.${kind})`,
    })
  }
  const db = readImageDb(rootfs, k.file)
  if ('text' in db) {
    const found =
      kind === 'user'
        ? parsePasswd(db.text).find((e) => e.name === value)?.uid
        : parseGroup(db.text).find((e) => e.name === value)?.gid
    if (found !== undefined) return found
  }
  if (/^[0-9]+$/.test(value)) {
    const n = parseId(value)
    if (n === undefined) {
      throw new RktError(`${kind} ${value} is out of range: a ${k.id} must be between 0 and ${MAX_ID}`, {
        code: k.code,
        hint: `use ${k.flag}=${k.id} with a ${k.id} in range`,
      })
    }
    return n
  }
  if (value === 'root') return 0
  if (value.startsWith('/')) {
    let host: string
    let st: fs.Stats
    try {
      host = hostPathInRoot(rootfs, value)
      st = fs.lstatSync(host)
    } catch (err) {
      throw new RktError(
        `cannot resolve ${kind} ${JSON.stringify(value)}: there is no file ${value} in the image to take its ${k.owner} from`,
        {
          code: k.code,
          cause: err,
          hint: `use ${k.flag}=${k.id} with a numeric ${k.id}, or a path that exists in the image`,
        },
      )
    }
    return kind === 'user' ? st.uid : st.gid
  }
  const consulted = 'text' in db ? `no entry named ${JSON.stringify(value)} in the image's ${k.file}` : db.absent
  throw new RktError(
    `cannot resolve ${kind} ${JSON.stringify(value)}: ${consulted} (image rootfs ${rootfs}), ` +
      `and it is neither a numeric ${k.id} nor an absolute path in the image`,
    {
      code: k.code,
      hint: `run with a numeric ${kind}: ${k.flag}=${k.id}, or add ${JSON.stringify(value)} to the image's ${k.file}`,
    },
  )
}

/** The uid `user` names in the image at `rootfs` (see the resolution order above). */
export function resolveUser(rootfs: string, user: string): number {
  return resolveId(rootfs, 'user', user)
}

/** The gid `group` names in the image at `rootfs`. */
export function resolveGroup(rootfs: string, group: string): number {
  return resolveId(rootfs, 'group', group)
}

export interface CredentialsOptions {
  /**
   * The app's image manifest. With it, rkt's docker2aci rule applies: when a converted Docker image (annotation
   * appc.io/docker/repository) sets group = user (Docker only knows a user) and the pod keeps that group, a
   * group that does not resolve takes the uid as gid instead of failing.
   */
  readonly image?: ImageManifest
}

/**
 * The credentials of `app` in the image at `rootfs`: uid, gid, and the groups for setgroups(2), which are the
 * primary gid followed by app.supplementaryGIDs, as rkt's fly sets them. Groups of which the user is a member
 * in /etc/group are not added (rkt did not either; appc only asks for supplementaryGIDs).
 */
export function resolveCredentials(rootfs: string, app: App, options: CredentialsOptions = {}): Credentials {
  const uid = resolveUser(rootfs, app.user)
  let gid: number
  try {
    gid = resolveGroup(rootfs, app.group)
  } catch (err) {
    const img = options.image
    const fromDocker = img?.annotations.some((a) => a.name === DOCKER_REPOSITORY_ANNOTATION) ?? false
    if (!(fromDocker && img?.app && img.app.user === img.app.group && app.group === img.app.group)) throw err
    gid = uid
  }
  for (const g of app.supplementaryGIDs) {
    if (!Number.isInteger(g) || g < 0 || g > MAX_ID) {
      throw new RktError(`invalid supplementary group ${g}: a GID must be between 0 and ${MAX_ID}`, {
        code: 'ENOGROUP',
        hint: 'fix app.supplementaryGIDs in the image or pod manifest',
      })
    }
  }
  return {uid, gid, groups: [gid, ...app.supplementaryGIDs]}
}
