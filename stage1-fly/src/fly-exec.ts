// How the entrypoints call fly-exec (native/fly-exec.c), which lives beside them in the stage1 rootfs.
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {execve, type Credentials, type PodApp} from '@rkt/core/stage1'

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
