// The global flags every rkt command takes (rkt/rkt.go globalFlags), resolved once per invocation.
import fs from 'node:fs'
import path from 'node:path'

import type {InsecureOption} from './insecure.js'

import {parseInsecureOptions} from './insecure.js'
import {loadStage0Config} from './stage0.js'

/** rkt's default directories. */
export const DEFAULT_DATA_DIR = '/var/lib/rkt'
export const DEFAULT_LOCAL_CONFIG = '/etc/rkt'
export const DEFAULT_SYSTEM_CONFIG = '/usr/lib/rkt'

/** Resolved global options, passed to the library by every command. */
export interface Globals {
  /** Data directory (--dir): the store and the pods. Absolute, symlinks resolved. */
  readonly dir: string
  readonly localConfig: string
  readonly systemConfig: string
  /** Optional third config layer, overriding local (empty when not given). */
  readonly userConfig: string
  readonly debug: boolean
  readonly insecure: ReadonlySet<InsecureOption>
  readonly trustKeysFromHttps: boolean
}

/** The config directories in override order: system < local < user. */
export function configLayers(g: Globals): string[] {
  return [g.systemConfig, g.localConfig, ...(g.userConfig ? [g.userConfig] : [])]
}

/**
 * rkt's global flags, declared once: each flag's name, the GlobalFlagInput field it sets and its kind (a
 * value, a boolean, or a value per occurrence). The oclif commands (cli/base.ts) and the run/prepare parser
 * (cli/run-args/flags.ts) both take them from here, before or after the command's name.
 */
export const GLOBAL_FLAGS = {
  dir: {key: 'dir', kind: 'value'},
  'local-config': {key: 'localConfig', kind: 'value'},
  'system-config': {key: 'systemConfig', kind: 'value'},
  'user-config': {key: 'userConfig', kind: 'value'},
  debug: {key: 'debug', kind: 'bool'},
  'insecure-options': {key: 'insecureOptions', kind: 'list'},
  'trust-keys-from-https': {key: 'trustKeysFromHttps', kind: 'bool'},
} as const satisfies Record<string, {key: keyof GlobalFlagInput; kind: 'value' | 'bool' | 'list'}>

/** The global flags as typed (any may be absent). */
export interface GlobalFlagInput {
  readonly dir?: string | undefined
  readonly localConfig?: string | undefined
  readonly systemConfig?: string | undefined
  readonly userConfig?: string | undefined
  readonly debug: boolean
  readonly insecureOptions: readonly string[]
  readonly trustKeysFromHttps: boolean
}

/** Resolves the global flags: --dir beats paths.d's `data`, which beats /var/lib/rkt; --dir is made absolute, symlinks resolved. */
export function resolveGlobals(f: GlobalFlagInput): Globals {
  const partial = {
    localConfig: path.resolve(f.localConfig ?? DEFAULT_LOCAL_CONFIG),
    systemConfig: path.resolve(f.systemConfig ?? DEFAULT_SYSTEM_CONFIG),
    userConfig: f.userConfig ? path.resolve(f.userConfig) : '',
    debug: f.debug,
    insecure: parseInsecureOptions(f.insecureOptions),
    trustKeysFromHttps: f.trustKeysFromHttps,
  }
  let dir = f.dir ?? loadStage0Config(configLayers({...partial, dir: ''})).paths.data ?? DEFAULT_DATA_DIR
  dir = path.resolve(dir)
  try {
    dir = fs.realpathSync(dir) // rkt resolves symlinks in --dir
  } catch {
    // not created yet: the store creates it
  }
  return {...partial, dir}
}
