// The CLIs the suite drives, as subprocesses: it sees only what a user sees (exit codes and output).
import {spawn, type ChildProcess} from 'node:child_process'
import os from 'node:os'

/** What a finished command gave. `code` is 128+N when it died of signal N, -1 when it timed out. */
export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * How to start a CLI: a program, arguments that come first (`node rkt.cjs`), and the name it is started
 * under (the project's launcher tells rkt from actool by its argv[0]).
 */
export interface Command {
  readonly file: string
  readonly args?: readonly string[]
  readonly argv0?: string
}

/** A started command: its process and its result once it ends. */
export interface Started {
  readonly child: ChildProcess
  readonly done: Promise<Result>
}

/** `input` is written to stdin, which is then closed unless `holdStdin` (a terminal's stays open). */
export interface RunOptions {
  env?: NodeJS.ProcessEnv
  input?: string
  holdStdin?: boolean
  cwd?: string
  timeoutMs?: number
}

/** Starts `cmd args…`; kills it (SIGKILL) after `timeoutMs` and then gives code -1. */
export function start(cmd: Command, args: readonly string[], opts: RunOptions = {}): Started {
  const child = spawn(cmd.file, [...(cmd.args ?? []), ...args], {
    ...(cmd.argv0 === undefined ? {} : {argv0: cmd.argv0}),
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  if (opts.input !== undefined) {
    child.stdin!.write(opts.input)
    if (opts.holdStdin !== true) child.stdin!.end()
  }
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, opts.timeoutMs ?? 120_000)
  const done = new Promise<Result>((resolve) => {
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({code: -1, stdout, stderr: `${stderr}${err.message}`})
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      child.stdin?.destroy()
      const c = timedOut ? -1 : (code ?? 128 + (signal === null ? 0 : os.constants.signals[signal]))
      resolve({code: c, stdout, stderr: timedOut ? `${stderr}(timed out)` : stderr})
    })
  })
  return {child, done}
}

/** Runs `cmd args…` to completion. */
export function run(cmd: Command, args: readonly string[], opts: RunOptions = {}): Promise<Result> {
  return start(cmd, args, opts).done
}

/** Single-quotes a word for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** `cmd args…` as a bash command line (bash: its `exec -a` gives the program its argv[0]). */
export function bashLine(cmd: Command, args: readonly string[]): string {
  const words = [cmd.file, ...(cmd.args ?? []), ...args].map(shQuote).join(' ')
  return cmd.argv0 === undefined ? words : `exec -a ${shQuote(cmd.argv0)} ${words}`
}
