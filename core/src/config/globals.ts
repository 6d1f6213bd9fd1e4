// The global flags every rkt command takes (rkt/rkt.go globalFlags), resolved once per invocation.
import type {InsecureOption} from './insecure.js'

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
