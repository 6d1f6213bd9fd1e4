// The environment of an app: rkt's defaults (common/environment.go) under the app's own environment, plus
// the variables the App Container spec requires (AC_APP_NAME, AC_METADATA_URL when there is a metadata
// service; appc spec/ace.md "Execution Environment").

/** PATH for apps and event handlers (appc spec/ace.md requires exactly this one). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const DEFAULTS: readonly (readonly [string, string])[] = [
  ['PATH', DEFAULT_PATH],
  ['SHELL', '/bin/sh'],
  ['USER', 'root'],
  ['LOGNAME', 'root'],
  ['HOME', '/root'],
]

/**
 * The final environment of an app, as NAME=value strings: rkt's defaults where the app sets nothing, the
 * app's own, then `extra` (AC_APP_NAME, AC_METADATA_URL), which the app cannot override (as in rkt's stage1).
 */
export function composeEnv(
  appEnv: readonly {readonly name: string; readonly value: string}[],
  extra: Readonly<Record<string, string>> = {},
): string[] {
  const set = new Map<string, string>()
  for (const [k, v] of DEFAULTS) set.set(k, v)
  for (const e of appEnv) set.set(e.name, e.value)
  for (const [k, v] of Object.entries(extra)) set.set(k, v)
  return [...set].map(([k, v]) => `${k}=${v}`)
}
