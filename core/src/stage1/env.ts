// The environment of an app: rkt's defaults (common/environment.go) under the app's own environment, plus
// the variables the App Container spec requires (AC_APP_NAME, AC_METADATA_URL when there is a metadata
// service; appc spec/ace.md "Execution Environment").
import fs from 'node:fs'
import path from 'node:path'

import {RktError} from '../errors.js'

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

/** Writes the env file of an app (one NAME=value per line), as rkt's stage1 does for `rkt enter`. */
export function writeEnvFile(file: string, env: readonly string[]): void {
  // One variable per line: a value with a newline would be read back as two variables.
  const bad = env.find((e) => e.includes('\n') || e.includes('\0'))
  if (bad !== undefined) {
    throw new RktError(`environment variable ${bad.split('=')[0]} has a newline or NUL byte in its value`, {
      hint: 'such values cannot be passed to the app; remove them from the image or the --set-env/--environment flags',
    })
  }
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o755})
  fs.writeFileSync(file, env.map((e) => `${e}\n`).join(''), {mode: 0o644})
}

/** Reads an env file back. */
export function readEnvFile(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
}
