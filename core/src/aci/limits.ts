// Resource limits applied to every image archive we read: an image is untrusted input until its content has been
// checked, and a hostile one can otherwise exhaust memory, disk or CPU (docs/security.md SEC-30, SEC-31).
import {RktError} from '../errors.js'

/** Bounds on what one archive may contain; every field can be overridden per call. */
export interface AciLimits {
  /** Uncompressed tar bytes, trailing data included: the decompression-bomb bound. */
  maxUncompressedBytes: number
  /** Archive entries (files, directories, links, devices), metadata headers excluded. */
  maxEntries: number
  /** Size of one pax or GNU long-name header block, and of the accumulated global pax state. */
  maxHeaderBytes: number
  /** UTF-8 bytes of an entry name or link target. */
  maxPathBytes: number
  /** Components of an entry name. */
  maxPathDepth: number
  /** Size of the `manifest` entry. */
  maxManifestBytes: number
}

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** The defaults: generous for real images (the largest seen are a few GiB), small enough to stop bombs. */
export const DEFAULT_LIMITS: Readonly<AciLimits> = Object.freeze({
  maxUncompressedBytes: 16 * GiB,
  maxEntries: 1_000_000,
  maxHeaderBytes: 1 * MiB,
  maxPathBytes: 4096,
  maxPathDepth: 1024,
  // A converted Docker layer's pathWhitelist lists every file of the image so far (about 60 bytes a path):
  // 32 MiB is half a million files, still a bound on what a hostile manifest can make us parse.
  maxManifestBytes: 32 * MiB,
})

/** The environment variable that raises each limit, for the hint of a violation. */
const ENV_OF: Partial<Record<keyof AciLimits, string>> = {
  maxUncompressedBytes: 'RKT_MAX_IMAGE_SIZE',
  maxEntries: 'RKT_MAX_IMAGE_ENTRIES',
  maxHeaderBytes: 'RKT_MAX_TAR_HEADER_SIZE',
}

const BYTE_LIMITS = new Set<keyof AciLimits>([
  'maxUncompressedBytes',
  'maxHeaderBytes',
  'maxPathBytes',
  'maxManifestBytes',
])

/** The defaults with `overrides` applied (undefined fields keep their default). */
export function resolveLimits(overrides: Partial<AciLimits> = {}): AciLimits {
  const limits = {...DEFAULT_LIMITS}
  for (const key of Object.keys(limits) as (keyof AciLimits)[]) {
    const v = overrides[key]
    if (v === undefined) continue
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limit ${key} must be a non-negative integer, got ${v}`)
    limits[key] = v
  }
  return limits
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  kib: KiB,
  kb: 1000,
  m: MiB,
  mib: MiB,
  mb: 1000 ** 2,
  g: GiB,
  gib: GiB,
  gb: 1000 ** 3,
  t: 1024 * GiB,
  tib: 1024 * GiB,
  tb: 1000 ** 4,
}

/**
 * Parses a byte size: plain bytes (`1048576`), binary units (`16GiB`, `500MiB`, and `2G` as coreutils
 * reads it) or decimal ones (`2GB`); units are case-insensitive. Returns undefined when malformed.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  if (!m) return undefined
  const unit = UNITS[(m[2] ?? '').toLowerCase()]
  if (unit === undefined) return undefined
  const n = Math.floor(Number(m[1]) * unit)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Renders a byte count the way parseByteSize reads it back, in the largest exact binary unit. */
export function formatByteSize(n: number): string {
  for (const [unit, size] of [
    ['TiB', 1024 * GiB],
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`
  }
  return String(n)
}

/** Limits set through the environment: RKT_MAX_IMAGE_SIZE, RKT_MAX_IMAGE_ENTRIES, RKT_MAX_TAR_HEADER_SIZE. */
export function limitsFromEnv(env: Record<string, string | undefined> = process.env): Partial<AciLimits> {
  const out: Partial<AciLimits> = {}
  for (const [key, name] of Object.entries(ENV_OF) as [keyof AciLimits, string][]) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const value = BYTE_LIMITS.has(key) ? parseByteSize(raw) : /^\s*\d+\s*$/.test(raw) ? Number(raw) : undefined
    if (value === undefined || !Number.isSafeInteger(value)) {
      throw new RktError(`invalid ${name}=${JSON.stringify(raw)}`, {
        code: 'ECONFIG',
        hint: BYTE_LIMITS.has(key)
          ? `give a byte count, optionally with a unit: ${name}=32GiB, 500MiB, 2G`
          : `give a whole number: ${name}=2000000`,
      })
    }
    out[key] = value
  }
  return out
}

/** The ELIMIT error for `what` exceeding limit `key`: names the limit, its value, and how to raise it. */
export function limitError(key: keyof AciLimits, limits: AciLimits, what: string): RktError {
  const value = limits[key]
  const shown = BYTE_LIMITS.has(key) ? formatByteSize(value) : String(value)
  const env = ENV_OF[key]
  const raised = BYTE_LIMITS.has(key) ? formatByteSize(value * 2) : String(value * 2)
  return new RktError(`${what} exceeds the limit ${key} = ${shown}`, {
    code: 'ELIMIT',
    hint:
      env === undefined
        ? `${key} is a fixed safety limit; images that exceed it are not supported`
        : `if the image is legitimate, raise the limit: ${env}=${raised}`,
  })
}
