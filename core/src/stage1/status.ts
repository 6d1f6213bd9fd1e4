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

/** Reads a pid file; undefined when absent or malformed. */
export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** Linux reports process start times in clock ticks of USER_HZ, which is 100 on every architecture. */
const USER_HZ = 100

/** When a process started (ms since the epoch), from its start time in ticks after boot and the boot time. */
function processStart(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1])
    return Number.isFinite(ticks) && Number.isFinite(btime) ? (btime + ticks / USER_HZ) * 1000 : undefined
  } catch {
    return undefined
  }
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
 * not started yet, or gone — a `ppid` process that started after the file was written is not the pod's but
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
  const started = processStart(ppid)
  // Boot time is in whole seconds, and the clock may have been stepped a little since.
  if (started === undefined || started > written.getTime() + 2000) return undefined
  const child = Number(children[0])
  if (children.length !== 1 || !Number.isInteger(child) || sameProgram(ppid, child)) return undefined
  try {
    writeWhole(paths.pid, `${child}\n`, written)
  } catch {
    // a reader without write access (rkt status as another user): the answer stands, uncached
  }
  return child
}
