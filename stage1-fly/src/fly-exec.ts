// How the entrypoints call fly-exec (native/fly-exec.c), which lives beside them in the stage1 rootfs.
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {appLogging, execve, type Credentials, type LoadedPod, type PodApp} from '@rkt/core/stage1'

/** The options `fly-exec run` and `fly-exec enter` share: where and as whom the program runs. */
export interface AppContext {
  readonly app: PodApp
  readonly creds: Credentials
  readonly workDir: string
  readonly envFile: string
  /** The app's cgroups, which the process joins first (stage1-fly/src/cgroups.ts). */
  readonly cgroups: readonly string[]
}

/** Becomes fly-exec (same PID): `mode` and its own options, then the context, then `-- program args…`. */
export function execFlyExec(
  moduleUrl: string,
  mode: 'run' | 'enter',
  ctx: AppContext,
  modeOptions: readonly string[],
  command: readonly string[],
  env: Record<string, string | undefined>,
): never {
  const flyExec = path.join(path.dirname(fileURLToPath(moduleUrl)), 'fly-exec')
  const common = ['--root', ctx.app.rootfs, '--cwd', ctx.workDir, '--uid', String(ctx.creds.uid)]
  common.push('--gid', String(ctx.creds.gid), '--groups', ctx.creds.groups.join(','), '--env-file', ctx.envFile)
  for (const dir of ctx.cgroups) common.push('--cgroup', dir)
  return execve(flyExec, ['fly-exec', mode, ...common, ...modeOptions, '--', ...command], env)
}

/**
 * `fly-exec run`'s logger options: the app's stdout and stderr go to its CRI log through iomux (beside fly-exec),
 * with attach endpoints for rkt's `stream` mode. None for an interactive app: its stdio is the terminal.
 */
export function logOptions(moduleUrl: string, pod: LoadedPod, app: PodApp, interactive: boolean): string[] {
  if (interactive) return []
  const logging = appLogging(pod.paths, pod.manifest, app.runtime)
  fs.mkdirSync(path.dirname(logging.file), {recursive: true, mode: 0o755})
  const iomux = path.join(path.dirname(fileURLToPath(moduleUrl)), 'iomux')
  const out = ['--iomux', iomux, '--log', logging.file]
  if (logging.attachDir) {
    fs.mkdirSync(logging.attachDir, {recursive: true, mode: 0o700})
    out.push('--attach', logging.attachDir, '--attach-stdin', logging.attachStdin ? '1' : '0')
  }
  return out
}
