// One run of the suite: a fresh data directory and configuration, the stage1 under test, the fixture images
// fetched once, the pods it started, and the checks' outcomes.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {run, start, type Command, type Result} from './cli.js'

/** The outcome of one check of one behaviour. */
export interface CheckResult {
  readonly behaviour: string
  readonly check: string
  readonly ok: boolean
  readonly expected: string
  readonly seen: string
}

/** A pod started in the background. */
export interface BackgroundPod {
  readonly uuid: string
  readonly done: Promise<Result>
}

/** `@KEY=value` lines an app printed (its report to the suite), carriage returns of a terminal dropped. */
export function reported(output: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const l of output.replace(/\r/g, '').split('\n')) {
    const m = /^@([^=\s]+)=(.*)$/.exec(l)
    if (m) out.set(m[1]!, m[2]!)
  }
  return out
}

/** Output as one line of a report: lines joined with ' | ', at most the last 400 characters. */
function oneLine(s: string): string {
  const l = s.trim().replace(/\s*\n\s*/g, ' | ')
  return l.length > 400 ? `…${l.slice(-400)}` : l
}

export class Session {
  readonly data: string
  readonly hostDir: string
  readonly uuids: string[] = []
  readonly results: CheckResult[] = []
  private readonly globals: string[]

  constructor(
    readonly dir: string,
    readonly rktCmd: Command,
    readonly stage1: string,
  ) {
    this.data = path.join(dir, 'data')
    this.hostDir = path.join(dir, 'host')
    const local = path.join(dir, 'etc')
    const system = path.join(dir, 'lib')
    for (const d of [local, system, this.hostDir]) fs.mkdirSync(d, {recursive: true})
    // The suite's images are unsigned: it built them itself.
    this.globals = [
      `--dir=${this.data}`,
      `--local-config=${local}`,
      `--system-config=${system}`,
      '--insecure-options=image',
    ]
  }

  /** Runs `rkt ARGS…` on this session's data directory. */
  rkt(args: readonly string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<Result> {
    return run(this.rktCmd, [...this.globals, ...args], opts)
  }

  /** The arguments of `rkt run` (or `rkt app sandbox`) with the stage1 under test. */
  runArgs(args: readonly string[], uuidFile: string, command: readonly string[] = ['run']): string[] {
    return [...this.globals, ...command, `--uuid-file-save=${uuidFile}`, `--stage1-image=${this.stage1}`, ...args]
  }

  /** A fresh file path for a pod's UUID. */
  uuidFile(): string {
    return path.join(this.dir, `uuid-${crypto.randomUUID()}`)
  }

  /** Reads a saved UUID (empty when the pod never got one) and remembers the pod for clean-up. */
  adopt(uuidFile: string): string {
    const uuid = fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''
    if (uuid !== '' && !this.uuids.includes(uuid)) this.uuids.push(uuid)
    return uuid
  }

  /** Runs a pod to completion: rkt run's result and the pod's UUID. */
  async runPod(args: readonly string[]): Promise<Result & {uuid: string}> {
    const file = this.uuidFile()
    const r = await run(this.rktCmd, this.runArgs(args, file), {timeoutMs: 180_000})
    return {...r, uuid: this.adopt(file)}
  }

  /** Starts a pod and waits until it is ready (rkt status --wait-ready); undefined with the reason if it is not. */
  async startPod(args: readonly string[], command?: readonly string[]): Promise<BackgroundPod | {failed: string}> {
    const file = this.uuidFile()
    const p = start(this.rktCmd, this.runArgs(args, file, command), {timeoutMs: 300_000})
    let exited = false
    void p.done.then(() => (exited = true))
    const deadline = Date.now() + 120_000
    let uuid = ''
    while (uuid === '' && !exited && Date.now() < deadline) {
      await sleep(20)
      uuid = this.adopt(file)
    }
    const ready = uuid === '' ? undefined : await this.rkt(['status', '--wait-ready=120s', uuid])
    if (exited || ready?.code !== 0) {
      if (!exited) p.child.kill('SIGKILL')
      const r = await p.done
      return {failed: `the pod did not get ready (rkt run exited ${r.code}: ${r.stderr.trim()}) ${ready?.stderr ?? ''}`}
    }
    return {uuid, done: p.done}
  }

  /** The pod's directory (stage1.md "The pod directory"), in whichever state it is. */
  podDir(uuid: string): string | undefined {
    for (const state of ['run', 'exited-garbage', 'garbage', 'prepared'])
      if (fs.existsSync(path.join(this.data, 'pods', state, uuid))) return path.join(this.data, 'pods', state, uuid)
    return undefined
  }

  /** Records a check: passes when `seen` equals `expected`, or matches it when it is a RegExp. */
  expect(behaviour: string, check: string, expected: string | RegExp, seen: string | undefined): boolean {
    const s = seen ?? '(nothing)'
    const ok = typeof expected === 'string' ? s === expected : expected.test(s)
    this.results.push({behaviour, check, ok, expected: String(expected), seen: oneLine(s)})
    return ok
  }

  /** Records a failed check that could not even look (the pod did not run). */
  cannot(behaviours: readonly string[], check: string, why: string): void {
    const seen = oneLine(why)
    for (const behaviour of behaviours) this.results.push({behaviour, check, ok: false, expected: 'the pod runs', seen})
  }
}
