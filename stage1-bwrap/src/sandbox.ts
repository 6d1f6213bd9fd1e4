// What run and enter share: app-exec's command line (native/app-exec.c), which each sandbox runs from its
// private copy at APP_EXEC, in bwrap's own /dev (nothing lands in the app's root).
import {resolveCredentials, type PodApp} from '@rkt/core/stage1'

export const APP_EXEC = '/dev/.rkt-app-exec'

/** app-exec's argv: join the cgroups on descriptors `fds`, become the app's user (or root) in its working directory, run `command`. */
export function appExec(app: PodApp, fds: readonly number[], asRoot: boolean, command: readonly string[]): string[] {
  const c = asRoot ? {uid: 0, gid: 0, groups: [0]} : resolveCredentials(app.rootfs, app.app, {image: app.image})
  const ids = [c.uid, c.gid].map(String)
  return [APP_EXEC, fds.join(','), ...ids, c.groups.join(','), app.app.workingDirectory ?? '/', ...command]
}
