// Timing helpers for the benchmark: median of several runs, each run preceded by an untimed setup step
// (a fresh output directory) so that no run pays for another's leftovers. Deletions happen at the very
// end: on these machines an rm -rf slows file-system work by up to 30x for seconds afterwards (the disk is mounted
// with `discard`).
import {execFileSync, spawnSync} from 'node:child_process'

import {unmountTree} from '@rkt/core/sys/mounts'

/** Median of a list of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Runs `cmd` `runs` times (after `warmup` untimed runs); `before(i)` runs untimed before each. Returns ms. */
export function timeCommand(
  cmd: readonly string[],
  opts: {runs: number; warmup?: number; before?: (i: number) => readonly string[] | void; env?: NodeJS.ProcessEnv},
): number[] {
  const out: number[] = []
  for (let i = -(opts.warmup ?? 1); i < opts.runs; i++) {
    const argv = opts.before?.(i) ?? cmd
    const t0 = process.hrtime.bigint()
    const r = spawnSync(argv[0]!, argv.slice(1), {stdio: ['ignore', 'ignore', 'pipe'], env: opts.env ?? process.env})
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${String(r.stderr)}`)
    if (i >= 0) out.push(ms)
  }
  return out
}

/** Times an in-process function the same way. */
export async function timeFn(
  fn: (i: number) => Promise<void> | void,
  opts: {runs: number; warmup?: number},
): Promise<number[]> {
  const out: number[] = []
  for (let i = -(opts.warmup ?? 1); i < opts.runs; i++) {
    const t0 = process.hrtime.bigint()
    await fn(i)
    if (i >= 0) out.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return out
}

/** Formats a row of a results table. */
export function row(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 10)).join('  ')
}

/**
 * Deletes a directory that held rkt data directories: what is mounted under it first (every data
 * directory's pods/ is a mount of its own), then the files, never crossing into another filesystem.
 */
export function removeDataDirs(dir: string): void {
  unmountTree(dir)
  execFileSync('rm', ['-rf', '--one-file-system', dir])
}
