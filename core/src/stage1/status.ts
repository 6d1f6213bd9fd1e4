// Status files of the contract: apps' exit statuses and the pid/ppid/pgid files `rkt enter`, `stop` and
// `status` read. Each is written whole (temp file + rename): a reader never sees half a number.
import fs from 'node:fs'
import path from 'node:path'

import type {PodPaths} from './paths.js'

function writeWhole(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o755})
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, text, {mode: 0o644})
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
