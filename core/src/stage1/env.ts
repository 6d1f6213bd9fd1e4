// The environment of an app: rkt's defaults (common/environment.go) under the app's own environment, plus
// the variables the App Container spec requires (AC_APP_NAME, AC_METADATA_URL when there is a metadata
// service; appc spec/ace.md "Execution Environment"), and its env file (contract/env-file.ts) as engines use it.
import type {PodPaths} from '../contract/paths.js'
import type {PodApp} from './pod.js'

import {readEnvFile, writeEnvFile} from '../contract/env-file.js'

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

/** NAME=value strings (composeEnv's, an env file's lines) as an environment object, for spawn and execve. */
export function envRecord(env: readonly string[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
}

/**
 * The app's final environment (composeEnv, with AC_APP_NAME, and AC_METADATA_URL when the pod is registered
 * with the metadata service at `metadataUrl`), written to its env file for enter; returned as NAME=value strings.
 */
export function writeAppEnv(paths: PodPaths, app: PodApp, metadataUrl?: string): string[] {
  const env = composeEnv(app.app.environment, {
    AC_APP_NAME: app.name,
    ...(metadataUrl ? {AC_METADATA_URL: metadataUrl} : {}),
  })
  writeEnvFile(paths.appEnv(app.name), env)
  return env
}

/** The environment `rkt enter` runs a command with: the app's (its env file), plus the caller's TERM. */
export function enterEnv(paths: PodPaths, app: string): Record<string, string> {
  const env = envRecord(readEnvFile(paths.appEnv(app)))
  const term = process.env['TERM']
  return term === undefined ? env : {...env, TERM: term}
}
