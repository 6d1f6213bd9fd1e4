// Helpers that turn untrusted JSON into checked values. They mirror Go's encoding/json where appc's reference
// code relies on it: object keys match case-insensitively, `null` means "absent" and unknown keys are ignored.

import {SchemaError} from './schema-error.js'
import type {SchemaWarning} from './schema-error.js'

/** Largest manifest accepted, in bytes; real manifests are a few KiB, so anything bigger is hostile or broken. */
export const MAX_MANIFEST_SIZE = 1024 * 1024

/** Deepest JSON nesting accepted; V8's JSON.stringify overflows its stack a few thousand levels down. */
export const MAX_JSON_DEPTH = 100

/** Collects warnings and turns them into errors in strict mode; one per parse call. */
export class Decoder {
  readonly warnings: SchemaWarning[] = []

  constructor(readonly strict: boolean) {}

  /** Stops the parse with the first error found. */
  fail(path: string, problem: string): never {
    throw new SchemaError(path, problem)
  }

  /** Records a spec violation that Go tolerates; strict mode fails instead. */
  warn(path: string, problem: string): void {
    if (this.strict) this.fail(path, problem)
    this.warnings.push({path, message: path === '' ? problem : `${path}: ${problem}`})
  }
}

/** The path of a field below `path`. */
export function fieldPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/** The path of a list element. */
export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`
}

/** The path of a map entry, quoted because map keys are free-form. */
export function keyPath(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`
}

/** "a string", "an array", ... for "got ..." messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'object':
      return 'an object'
    case 'string':
      return 'a string'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'a boolean'
    default:
      return typeof value
  }
}

/** A string quoted for messages, shortened so hostile input cannot flood the terminal. */
export function quote(value: string): string {
  const text = value.length > 80 ? `${value.slice(0, 77)}...` : value
  return JSON.stringify(text)
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

function checkDepth(root: unknown): void {
  const stack: [unknown, number][] = [[root, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (typeof value !== 'object' || value === null) continue
    if (depth > MAX_JSON_DEPTH) throw new SchemaError('manifest', `JSON is nested deeper than ${MAX_JSON_DEPTH} levels`)
    for (const child of Object.values(value)) stack.push([child, depth + 1])
  }
}

/**
 * Reads a manifest given as JSON text, UTF-8 bytes or an already parsed value, enforcing the size and depth
 * limits, and returns a plain JSON object.
 */
export function readJsonDocument(input: unknown): Record<string, unknown> {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > MAX_MANIFEST_SIZE) tooLarge(input.byteLength)
    try {
      text = new TextDecoder('utf-8', {fatal: true}).decode(input)
    } catch {
      throw new SchemaError('manifest', 'is not valid UTF-8')
    }
  } else {
    // Already parsed: round-trip through JSON so getters, prototypes and class instances cannot leak in.
    try {
      text = JSON.stringify(input) ?? 'undefined'
    } catch (err) {
      throw new SchemaError('manifest', `is not JSON-serializable: ${(err as Error).message}`)
    }
  }
  const size = byteLength(text)
  if (size > MAX_MANIFEST_SIZE) tooLarge(size)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new SchemaError('manifest', `invalid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SchemaError('manifest', `must be a JSON object, got ${describeType(value)}`)
  }
  checkDepth(value)
  return value as Record<string, unknown>
}

function tooLarge(size: number): never {
  throw new SchemaError('manifest', `is ${size} bytes, larger than the ${MAX_MANIFEST_SIZE}-byte limit`)
}

/**
 * Runs a parse step and makes sure only SchemaError escapes: anything else (a bug, a stack overflow) is wrapped,
 * so callers can rely on `err.code === 'ESCHEMA'`.
 */
export function guard<T>(context: string, step: () => T): T {
  try {
    return step()
  } catch (err) {
    if (err instanceof SchemaError) throw err
    const message = err instanceof Error ? err.message : String(err)
    throw new SchemaError('', `${context}: ${message}`, {cause: err})
  }
}

/** Requires a JSON object. */
export function asObject(d: Decoder, value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    d.fail(path, `must be an object, got ${describeType(value)}`)
  }
  return value as Record<string, unknown>
}

/**
 * The fields of a JSON object, by their spec names. Like Go, a key in another case still matches (with a
 * warning unless listed in `quiet`), a later key overrides an earlier one, `null` counts as absent and unknown
 * keys are ignored.
 */
export function readFields<K extends string>(
  d: Decoder,
  value: unknown,
  path: string,
  names: readonly K[],
  quiet: readonly string[] = [],
): Partial<Record<K, unknown>> {
  const object = asObject(d, value, path)
  const byFolded = new Map<string, K>(names.map((n) => [n.toLowerCase(), n]))
  const out: Partial<Record<K, unknown>> = {}
  for (const [key, field] of Object.entries(object)) {
    let name: K | undefined = names.find((n) => n === key)
    if (name === undefined) {
      name = byFolded.get(asciiLower(key))
      if (name === undefined) continue
      if (!quiet.includes(key)) d.warn(fieldPath(path, name), `key ${quote(key)} should be spelled ${quote(name)}`)
    }
    if (field === null) continue
    out[name] = field
  }
  return out
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

/** Requires a string. */
export function asString(d: Decoder, value: unknown, path: string): string {
  if (typeof value !== 'string') d.fail(path, `must be a string, got ${describeType(value)}`)
  return value
}

/** Requires a boolean. */
export function asBoolean(d: Decoder, value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') d.fail(path, `must be a boolean (true or false), got ${describeType(value)}`)
  return value
}

/** Requires an integer in [min, max]. */
export function asInteger(d: Decoder, value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    d.fail(path, `must be an integer, got ${typeof value === 'number' ? String(value) : describeType(value)}`)
  }
  if (value < min || value > max) d.fail(path, `must be between ${min} and ${max}, got ${value}`)
  return value
}

/** Requires an array. */
export function asArray(d: Decoder, value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) d.fail(path, `must be a list, got ${describeType(value)}`)
  return value as readonly unknown[]
}

/** Requires a list of strings. */
export function asStringList(d: Decoder, value: unknown, path: string): string[] {
  return asArray(d, value, path).map((item, i) => asString(d, item, indexPath(path, i)))
}

/** Requires an object whose values are all strings (userAnnotations, userLabels, sysctl). */
export function asStringMap(d: Decoder, value: unknown, path: string): Record<string, string> {
  const entries = Object.entries(asObject(d, value, path)).map(
    ([key, item]) => [key, asString(d, item, keyPath(path, key))] as const,
  )
  // fromEntries defines own properties, so a "__proto__" key stays data and cannot change the prototype.
  return Object.fromEntries(entries)
}
