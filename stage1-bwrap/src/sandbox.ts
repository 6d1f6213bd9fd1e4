// What run and enter share: the host tools, and app-exec's command line (native/app-exec.c), which each
// sandbox runs from its private copy at APP_EXEC, in bwrap's own /dev (nothing lands in the app's root).
import {findHostTool, resolveCredentials, RktError, type PodApp} from '@rkt/core/stage1'

export const APP_EXEC = '/dev/.rkt-app-exec'

/** The path of a host program the engine needs, or a clear error naming the Debian package. */
export function hostTool(name: string, pkg: string): string {
  const tool = findHostTool(name)
  if (tool === undefined)
    throw new RktError(`${name} is not installed: the bwrap stage1 needs it`, {hint: `apt-get install ${pkg}`})
  return tool
}

/** app-exec's argv: join the cgroups on descriptors `fds`, become the app's user (or root) in its working directory, run `command`. */
export function appExec(app: PodApp, fds: readonly number[], asRoot: boolean, command: readonly string[]): string[] {
  const c = asRoot ? {uid: 0, gid: 0, groups: [0]} : resolveCredentials(app.rootfs, app.app, {image: app.image})
  const ids = [c.uid, c.gid].map(String)
  return [APP_EXEC, fds.join(','), ...ids, c.groups.join(','), app.app.workingDirectory ?? '/', ...command]
}

/** NAME=value strings (an env file's lines) as an environment for spawn and execve. */
export function envRecord(env: readonly string[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
}
