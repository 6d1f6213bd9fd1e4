// The shared appc types of spec/types.md, with the reference Go code's leniency (schema/types/*.go) as the
// compatibility baseline: Go-valid but spec-invalid values are warnings, and errors in strict mode.

import {Decoder, asArray, asString, fieldPath, indexPath, quote, readFields} from './decode.js'
import {SchemaError} from './schema-error.js'
import type {ParseOptions, SchemaWarning} from './schema-error.js'

/** The spec grammar of an AC Identifier (spec/types.md). */
export const AC_IDENTIFIER_PATTERN = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/
/** The spec grammar of an AC Name (spec/types.md). */
export const AC_NAME_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/

/** The appc spec version this implementation follows (schema/version.go). */
export const APPC_SPEC_VERSION = '0.8.11'

/** The os → arch combinations that Go accepts (types.ValidOSArch); longer than the list in spec/aci.md. */
export const VALID_OS_ARCH: Readonly<Record<string, readonly string[]>> = {
  linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
  freebsd: ['amd64', 'i386', 'arm'],
  darwin: ['x86_64', 'i386'],
}

/** This machine's appc `arch` label (Node's process.arch in appc's spelling). */
export function appcArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = {x64: 'amd64', arm64: 'aarch64', ia32: 'i386', ppc64: 'ppc64le', s390x: 's390x'}
  return map[nodeArch] ?? nodeArch
}

/** True when `s` matches the spec's AC Identifier grammar exactly. */
export function isACIdentifier(s: string): boolean {
  return AC_IDENTIFIER_PATTERN.test(s)
}

/** True when `s` matches the spec's AC Name grammar exactly. */
export function isACName(s: string): boolean {
  return AC_NAME_PATTERN.test(s)
}

/** Checks an AC Identifier the way Go does (charset and edges), warning when only the spec grammar rejects it. */
export function checkACIdentifier(d: Decoder, value: string, path: string): void {
  const what = `${quote(value)} is not a valid AC Identifier`
  if (value === '') d.fail(path, 'must not be empty')
  if (/[^a-z0-9\-._~/]/.test(value)) d.fail(path, `${what}: only lowercase letters, digits and "-._~/" are allowed`)
  if (/^[-._~/]|[-._~/]$/.test(value)) d.fail(path, `${what}: it must start and end with a lowercase letter or digit`)
  // Go lets "a/../b" through; names end up in paths, so a ".." segment is refused outright.
  if (value.split('/').includes('..')) d.fail(path, `${what}: it must not contain a ".." path segment`)
  if (!isACIdentifier(value)) {
    d.warn(path, `${what}: each separator ("-._~/") must sit between two letters or digits`)
  }
}

/** Checks an AC Name the way Go does, warning when only the spec grammar rejects it (`a--b`). */
export function checkACName(d: Decoder, value: string, path: string): void {
  const what = `${quote(value)} is not a valid AC Name`
  if (value === '') d.fail(path, 'must not be empty')
  if (/[^a-z0-9-]/.test(value)) d.fail(path, `${what}: only lowercase letters, digits and "-" are allowed`)
  if (value.startsWith('-') || value.endsWith('-')) {
    d.fail(path, `${what}: it must start and end with a lowercase letter or digit`)
  }
  if (!isACName(value)) d.warn(path, `${what}: "-" must sit between two letters or digits`)
}

/** Reads a required-format AC Identifier string. */
export function decodeACIdentifier(d: Decoder, raw: unknown, path: string): string {
  const value = asString(d, raw, path)
  checkACIdentifier(d, value, path)
  return value
}

/** Reads an AC Name string. */
export function decodeACName(d: Decoder, raw: unknown, path: string): string {
  const value = asString(d, raw, path)
  checkACName(d, value, path)
  return value
}

/**
 * Validates a standalone AC Identifier (e.g. an image name typed by a user); throws SchemaError, returns warnings.
 */
export function validateACIdentifier(value: string, opts: ParseOptions & {path?: string} = {}): SchemaWarning[] {
  const d = new Decoder(opts.strict === true)
  checkACIdentifier(d, value, opts.path ?? 'name')
  return d.warnings
}

/** Validates a standalone AC Name (e.g. an app or volume name from the command line). */
export function validateACName(value: string, opts: ParseOptions & {path?: string} = {}): SchemaWarning[] {
  const d = new Decoder(opts.strict === true)
  checkACName(d, value, opts.path ?? 'name')
  return d.warnings
}

/** The two kinds spec/types.md defines. */
export type ACKind = 'ImageManifest' | 'PodManifest'

/** Reads `acKind`, which must be the expected kind (Go rejects anything else). */
export function decodeACKind<K extends ACKind>(d: Decoder, raw: unknown, expected: K): K {
  if (raw === undefined) d.fail('acKind', `must be set to ${quote(expected)}`)
  const value = asString(d, raw, 'acKind')
  if (value !== expected) d.fail('acKind', `must be ${quote(expected)}, got ${quote(value)}`)
  return expected
}

/** A parsed SemVer 2.0.0 version. */
export interface SemVer {
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** Dot-separated pre-release identifiers (after `-`), empty for a release. */
  readonly prerelease: readonly string[]
  /** Dot-separated build metadata (after `+`); ignored when comparing. */
  readonly build: readonly string[]
}

const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

/** Parses a SemVer 2.0.0 string, or returns undefined. */
export function parseSemVer(s: string): SemVer | undefined {
  const m = SEMVER_PATTERN.exec(s)
  if (m === null) return undefined
  const [major, minor, patch] = [m[1], m[2], m[3]].map(Number) as [number, number, number]
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined
  return {major, minor, patch, prerelease: m[4]?.split('.') ?? [], build: m[5]?.split('.') ?? []}
}

/** Orders two versions by SemVer 2.0.0 precedence: negative, zero or positive. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) if (a[key] !== b[key]) return a[key] - b[key]
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length
  const n = Math.min(a.prerelease.length, b.prerelease.length)
  for (let i = 0; i < n; i++) {
    const x = a.prerelease[i] as string
    const y = b.prerelease[i] as string
    if (x === y) continue
    const xNum = /^\d+$/.test(x)
    const yNum = /^\d+$/.test(y)
    if (xNum && yNum) return Number(x) - Number(y)
    if (xNum !== yNum) return xNum ? -1 : 1
    return x < y ? -1 : 1
  }
  return a.prerelease.length - b.prerelease.length
}

const SPEC_MAJOR = 0

/**
 * Reads `acVersion`: SemVer 2.0.0 and not 0.0.0 (Go rejects both). The spec wants the major to match ours;
 * Go accepts any (`9.0.0`), so a different major is a warning.
 */
export function decodeACVersion(d: Decoder, raw: unknown, path = 'acVersion'): string {
  const value = asString(d, raw, path)
  if (value === '') d.fail(path, 'must be set')
  const version = parseSemVer(value)
  if (version === undefined) {
    d.fail(path, `${quote(value)} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH, e.g. "${APPC_SPEC_VERSION}")`)
  }
  if (compareSemVer(version, parseSemVer('0.0.0') as SemVer) === 0 && version.build.length === 0) {
    d.fail(path, 'must not be 0.0.0')
  }
  if (version.major !== SPEC_MAJOR) {
    d.warn(path, `major version ${version.major} does not match the supported major version ${SPEC_MAJOR}`)
  }
  return value
}

/** A label: an AC Identifier name and a free-form value (spec/aci.md). */
export interface Label {
  readonly name: string
  readonly value: string
}

/** An annotation: an AC Identifier name and a free-form value (spec/aci.md). */
export interface Annotation {
  readonly name: string
  readonly value: string
}

function decodeNameValueList(d: Decoder, raw: unknown, path: string, what: string): Label[] {
  if (raw === undefined) return []
  const seen = new Set<string>()
  return asArray(d, raw, path).map((item, i) => {
    const p = indexPath(path, i)
    const f = readFields(d, item, p, ['name', 'value'])
    if (f.name === undefined) d.fail(fieldPath(p, 'name'), 'must be set')
    const name = decodeACIdentifier(d, f.name, fieldPath(p, 'name'))
    if (what === 'label' && name === 'name') {
      d.fail(fieldPath(p, 'name'), '"name" is reserved (it would clash with the image name) and cannot be a label')
    }
    if (seen.has(name)) d.fail(fieldPath(p, 'name'), `duplicate ${what} ${quote(name)}`)
    seen.add(name)
    const value = f.value === undefined ? '' : asString(d, f.value, fieldPath(p, 'value'))
    return {name, value}
  })
}

/** Reads a label list: unique names, never `name`, and a known os/arch pair when `os` is present. */
export function decodeLabels(d: Decoder, raw: unknown, path: string): Label[] {
  const labels = decodeNameValueList(d, raw, path, 'label')
  const osIndex = labels.findIndex((l) => l.name === 'os')
  const os = labels[osIndex]
  if (os === undefined) return labels // arch means nothing without os (spec/aci.md), so it is not checked
  const archs = Object.hasOwn(VALID_OS_ARCH, os.value) ? VALID_OS_ARCH[os.value] : undefined
  if (archs === undefined) {
    const valid = Object.keys(VALID_OS_ARCH).sort().join(', ')
    d.fail(fieldPath(indexPath(path, osIndex), 'value'), `os ${quote(os.value)} is not valid (valid: ${valid})`)
  }
  const archIndex = labels.findIndex((l) => l.name === 'arch')
  const arch = labels[archIndex]
  if (arch !== undefined && !archs.includes(arch.value)) {
    d.fail(
      fieldPath(indexPath(path, archIndex), 'value'),
      `arch ${quote(arch.value)} is not valid for os ${quote(os.value)} (valid: ${archs.join(', ')})`,
    )
  }
  return labels
}

/** Reads an annotation list: unique names; `created`, `homepage` and `documentation` are format-checked. */
export function decodeAnnotations(d: Decoder, raw: unknown, path: string): Annotation[] {
  const annotations = decodeNameValueList(d, raw, path, 'annotation')
  annotations.forEach(({name, value}, i) => {
    const p = fieldPath(indexPath(path, i), 'value')
    if (name === 'created' && !isTimestamp(value)) {
      d.fail(p, `created must be an RFC 3339 timestamp like "2006-01-02T15:04:05Z", got ${quote(value)}`)
    }
    if ((name === 'homepage' || name === 'documentation') && !isHttpUrl(value)) {
      d.fail(p, `${name} must be an http or https URL, got ${quote(value)}`)
    }
  })
  return annotations
}

const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/

/** True for an RFC 3339 date-time with the `T` separator (spec/types.md Timestamps), as Go's time.RFC3339. */
export function isTimestamp(s: string): boolean {
  const m = TIMESTAMP_PATTERN.exec(s)
  if (m === null) return false
  const fields = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const [year, month, day, hour, minute, second] = fields
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
  if (days === undefined || day < 1 || day > days) return false
  if (hour > 23 || minute > 59 || second > 59) return false
  return m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59)
}

/** Parses a spec timestamp into a Date (sub-millisecond digits are dropped); throws SchemaError. */
export function parseTimestamp(s: string, path = 'timestamp'): Date {
  if (!isTimestamp(s))
    throw new SchemaError(path, `${quote(s)} is not an RFC 3339 timestamp like "2006-01-02T15:04:05Z"`)
  return new Date(s)
}

/** True for a URL whose scheme is http or https, the only ones annotations allow (schema/types/url.go). */
export function isHttpUrl(s: string): boolean {
  // eslint-disable-next-line no-control-regex -- Go's url.Parse rejects control characters too
  if (/[\u0000-\u001f\u007f]/.test(s)) return false
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s)?.[1]?.toLowerCase()
  return scheme === 'http' || scheme === 'https'
}

/** The only hash algorithm an Image ID may use (spec/types.md). */
export const IMAGE_ID_ALGORITHM = 'sha512'

const CANONICAL_IMAGE_ID = /^sha512-[0-9a-f]{128}$/

/** True for `sha512-` plus 128 lowercase hex digits, the only form an image's real ID takes (spec/aci.md). */
export function isCanonicalImageId(s: string): boolean {
  return CANONICAL_IMAGE_ID.test(s)
}

/**
 * Reads an image ID carried by a manifest. Go only checks `<alg>-<value>` with alg sha512, so the spec's own
 * placeholder `sha512-...` passes; anything short of the canonical form is a warning.
 */
export function decodeImageId(d: Decoder, raw: unknown, path: string): string {
  const value = asString(d, raw, path)
  const parts = value.split('-')
  if (parts.length !== 2) d.fail(path, `${quote(value)} is not an image ID (expected "sha512-" + 128 hex digits)`)
  const [algorithm, digest] = parts as [string, string]
  if (algorithm === '') d.fail(path, `${quote(value)} has no hash algorithm (expected "sha512-" + 128 hex digits)`)
  if (algorithm !== IMAGE_ID_ALGORITHM) {
    d.fail(path, `hash algorithm ${quote(algorithm)} is not supported (only ${IMAGE_ID_ALGORITHM})`)
  }
  if (digest === '') d.fail(path, `${quote(value)} has an empty digest (expected 128 hex digits)`)
  if (!isCanonicalImageId(value)) {
    d.warn(path, `${quote(value)} is not a canonical image ID ("sha512-" followed by 128 lowercase hex digits)`)
  }
  return value
}
