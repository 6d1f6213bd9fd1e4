// Status files of the contract: apps' exit statuses and the pid/ppid/pgid files `rkt enter`, `stop` and
// `status` read, and the pod's process derived from them (podPid). Each is written whole (temp file +
// rename): a reader never sees half a number.
import fs from 'node:fs'
import path from 'node:path'

import type {PodPaths} from './paths.js'

function writeWhole(file: string, text: string, mtime?: Date): void {
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o755})
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, text, {mode: 0o644})
  if (mtime) fs.utimesSync(tmp, mtime, mtime)
  fs.renameSync(tmp, file)
}

/** Records an app's exit status (rkt: decimal text, no newline). */
export function writeAppStatus(paths: PodPaths, app: string, code: number): void {
  writeWhole(paths.appStatus(app), String(code))
}

/** An app's exit status, or undefined while it has none. */
export function readAppStatus(paths: PodPaths, app: string): number | undefined {
  try {
    const text = fs.readFileSync(paths.appStatus(app), 'utf8').trim()
    const n = Number(text)
    // Number('') is 0: an empty file is no status, never a success.
    return text !== '' && Number.isInteger(n) ? n : undefined
  } catch {
    return undefined
  }
}

/** Marks an app created or started (the files' mtimes are the times `status` shows). */
export function markApp(paths: PodPaths, app: string, what: 'created' | 'started'): void {
  writeWhole(what === 'created' ? paths.appCreated(app) : paths.appStarted(app), '')
}

/** Writes `pid`, `ppid` or `pgid` (decimal text and a newline, as rkt). */
export function writePidFile(file: string, pid: number): void {
  writeWhole(file, `${pid}\n`)
}

/**
 * Says the pod is up, for an engine whose run process stays the pod's: `pid` (its PID), then the ready link
 * (`supervisor-status` -> `ready`) that `rkt status --wait-ready` waits for, made whole by a rename.
 */
export function writePodReady(paths: PodPaths, pid: number): void {
  writePidFile(paths.pid, pid)
  const tmp = `${paths.supervisorStatus}.tmp-${process.pid}`
  fs.symlinkSync('ready', tmp)
  fs.renameSync(tmp, paths.supervisorStatus)
}

/** Reads a pid file; undefined when absent or malformed. */
export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/**
 * True when process `pid` has the pod directory open: the pod lock's descriptor, which the process `ppid`
 * names keeps for the pod's whole life. It tells the pod's process from another that reused its PID, with
 * no clock involved (comparing a file's mtime with a start time derived from the boot time failed once the
 * wall clock was stepped after the pod started).
 */
function holdsPodDir(pid: number, dir: string): boolean {
  let fds: string[]
  let want: fs.Stats
  try {
    want = fs.statSync(dir)
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false // gone, or not ours to look at
  }
  return fds.some((fd) => {
    try {
      const st = fs.statSync(`/proc/${pid}/fd/${fd}`)
      return st.ino === want.ino && st.dev === want.dev
    } catch {
      return false // closed meanwhile
    }
  })
}

/** True when both processes run the same program file (a fork that has not exec'd yet). */
function sameProgram(a: number, b: number): boolean {
  try {
    const x = fs.statSync(`/proc/${a}/exe`)
    const y = fs.statSync(`/proc/${b}/exe`)
    return x.dev === y.dev && x.ino === y.ino
  } catch {
    return true // gone, or a kernel thread: not a pod's process either way
  }
}

/**
 * The pod's process, the one `rkt enter` joins and `rkt stop` signals: `pid` when the stage1 wrote it, else
 * the only child of `ppid` (rkt's rule, for engines like nspawn whose process the stage1 cannot know
 * before it execs). That child counts only once it runs a program of its own: a fork still running its
 * parent's program is one on its way (nspawn's short-lived outer child). It is then cached into `pid`,
 * with `ppid`'s mtime, so the start time `rkt status` shows does not move. Undefined while there is none:
 * not started yet, or gone — a `ppid` process that does not hold the pod directory open is not the pod's but
 * one that reused its PID.
 */
export function podPid(paths: PodPaths): number | undefined {
  const pid = readPidFile(paths.pid)
  if (pid !== undefined) return pid
  const ppid = readPidFile(paths.ppid)
  if (ppid === undefined) return undefined
  let written: Date
  let children: string[]
  try {
    written = fs.statSync(paths.ppid).mtime
    children = fs.readFileSync(`/proc/${ppid}/task/${ppid}/children`, 'utf8').split(' ').filter(Boolean)
  } catch {
    return undefined
  }
  if (!holdsPodDir(ppid, paths.root)) return undefined
  const child = Number(children[0])
  if (children.length !== 1 || !Number.isInteger(child) || sameProgram(ppid, child)) return undefined
  try {
    writeWhole(paths.pid, `${child}\n`, written)
  } catch {
    // a reader without write access (rkt status as another user): the answer stands, uncached
  }
  return child
}
