// `rkt logs`: an app's stdout and stderr as its stage1 kept them, in the CRI format (contract/logs.ts says where:
// the pod's rkt/logs/, or the kubernetes-log-path). The files are read whether the pod runs or has exited; with
// --follow, new lines are printed as they come (across rotations) until the pod has exited.
import fs from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Globals} from '../config/globals.js'
import type {Pod} from './pods.js'

import {appLogging, logFiles} from '../contract/logs.js'
import {RktError} from '../errors.js'
import {podManifestOf} from './info.js'
import {PodStore} from './pods.js'

export interface LogsOptions {
  readonly app?: string | undefined
  readonly follow: boolean
  /** Only the last N lines (of every app together). */
  readonly tail?: number | undefined
  /** Only lines logged at or after this time. */
  readonly since?: Date | undefined
  readonly timestamps: boolean
}

/** One line of a log, whole (its P pieces joined). */
export interface LogLine {
  readonly time: string
  readonly stream: 'stdout' | 'stderr'
  readonly text: string
}

/** Parses CRI lines, joining P pieces to the F line that ends them; `pending` carries them across calls. */
export function parseCri(chunk: string, pending: Map<string, string>): LogLine[] {
  const out: LogLine[] = []
  for (const line of chunk.split('\n')) {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line)
    if (!m) continue
    const [, time, stream, tag, text] = m as unknown as [string, string, 'stdout' | 'stderr', string, string]
    const joined = (pending.get(stream) ?? '') + text
    if (tag === 'P') {
      pending.set(stream, joined)
    } else {
      pending.delete(stream)
      out.push({time, stream, text: joined})
    }
  }
  return out
}

/** `--since`: an RFC 3339 time, or a duration before now (`90s`, `10m`, `2h`, `1d`). */
export function parseSince(value: string, now = Date.now()): Date {
  const d = /^(\d+)(s|m|h|d)$/.exec(value)
  if (d) return new Date(now - Number(d[1]) * {s: 1e3, m: 60e3, h: 3600e3, d: 86400e3}[d[2] as 's'])
  const t = Date.parse(value)
  if (Number.isNaN(t)) {
    throw new RktError(`--since: "${value}" is neither a time nor a duration`, {
      code: 'EUSAGE',
      hint: 'e.g. --since=2026-12-07T19:00:00Z or --since=10m (s, m, h, d)',
    })
  }
  return new Date(t)
}

/** A log file read from where it was left, following it when it is rotated (renamed away and made anew). */
class LogReader {
  private fd: number | undefined
  private ino = 0
  private buffered = ''
  private readonly pending = new Map<string, string>()
  constructor(
    readonly app: string,
    readonly file: string,
  ) {}

  /** The complete lines written since the last call: the rotated copies first, the first time. */
  read(first: boolean): LogLine[] {
    let text = first ? logFiles(this.file).slice(0, -1).map(readIfAny).join('') : ''
    if (this.fd === undefined) this.open()
    if (this.fd === undefined) return this.parse(text)
    text += this.drain()
    // Rotated since: what was left in the old file, then the new one from its start.
    const now = statIfAny(this.file)
    if (now && now.ino !== this.ino) {
      fs.closeSync(this.fd)
      this.fd = undefined
      this.open()
      text += this.drain()
    }
    return this.parse(text)
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd)
  }

  private open(): void {
    try {
      this.fd = fs.openSync(this.file, 'r')
      this.ino = fs.fstatSync(this.fd).ino
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  private drain(): string {
    const chunks: Buffer[] = []
    const buf = Buffer.alloc(1 << 16)
    for (let n; this.fd !== undefined && (n = fs.readSync(this.fd, buf)) > 0;)
      chunks.push(Buffer.from(buf.subarray(0, n)))
    return Buffer.concat(chunks).toString('utf8')
  }

  private parse(text: string): LogLine[] {
    const all = this.buffered + text
    const end = all.lastIndexOf('\n') + 1
    this.buffered = all.slice(end)
    return parseCri(all.slice(0, end), this.pending)
  }
}

const readIfAny = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')
const statIfAny = (f: string): fs.Stats | undefined => (fs.existsSync(f) ? fs.statSync(f) : undefined)

function readers(pod: Pod, app: string | undefined): LogReader[] {
  const manifest = podManifestOf(pod)
  if (!manifest || !pod.hasStarted()) {
    throw new RktError(`pod ${pod.uuid} has no logs: it has not run (it is ${pod.state()})`, {
      code: 'ENOTSTARTED',
      hint: `start it with: rkt run-prepared ${pod.uuid}`,
    })
  }
  const apps = manifest.apps.filter((a) => app === undefined || a.name === app)
  if (apps.length === 0) {
    throw new RktError(`pod ${pod.uuid} has no app named ${app}`, {
      hint: `apps: ${manifest.apps.map((a) => a.name).join(', ')}`,
    })
  }
  const out = apps.map((a) => new LogReader(a.name, appLogging(pod.paths, manifest, a).file))
  const missing = out.filter((r) => logFiles(r.file).every((f) => !fs.existsSync(f)))
  if (missing.length === out.length && pod.state() !== 'running') {
    throw new RktError(`pod ${pod.uuid} kept no log for ${missing.map((r) => r.app).join(', ')}`, {
      code: 'ENOLOG',
      hint: 'an interactive app (--interactive) writes to the terminal only, and a stage1 without a logger keeps none',
    })
  }
  return out
}

/** Prints the logs of a pod's apps (all of them, merged by time, each line prefixed with its app's name). */
export async function podLogs(globals: Globals, uuid: string, o: LogsOptions): Promise<void> {
  const pod = new PodStore(globals.dir).find(uuid)
  const rs = readers(pod, o.app)
  const prefix = rs.length > 1
  const since = o.since ? o.since.getTime() : undefined
  const print = (lines: readonly (LogLine & {app: string})[]): void => {
    for (const l of lines) {
      const text = `${o.timestamps ? `${l.time} ` : ''}${prefix ? `[${l.app}] ` : ''}${l.text}\n`
      ;(l.stream === 'stdout' ? process.stdout : process.stderr).write(text)
    }
  }
  const collect = (first: boolean): (LogLine & {app: string})[] =>
    rs
      .flatMap((r) => r.read(first).map((l) => ({...l, app: r.app})))
      .filter((l) => since === undefined || Date.parse(l.time) >= since)
      .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
  try {
    const lines = collect(true)
    print(o.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - o.tail)))
    while (o.follow) {
      // Once the pod has exited, its loggers have written their last lines: one more read, and we are done.
      const running = pod.state() === 'running'
      await sleep(running ? 200 : 0)
      print(collect(false))
      if (!running) break
    }
  } finally {
    for (const r of rs) r.close()
  }
}
