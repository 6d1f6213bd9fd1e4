// Resource quantities (spec/ace.md "Resource Isolators"), parsed with the Kubernetes grammar that appc's Go
// code vendors (schema/types/resource/quantity.go). Values are exact integers in base units, never floats.

import {describeType, quote} from './decode.js'
import type {Decoder} from './decode.js'
import {SchemaError} from './schema-error.js'

/** A resource amount: the text as written (kept for round-trips) and its exact value. */
export interface Quantity {
  /** The quantity as written in the manifest, e.g. `"500m"` or `"1Gi"`; what serialization emits. */
  readonly text: string
  /** Whole base units (bytes, cores, ...), rounded up away from zero like Go's Quantity.Value(). */
  readonly value: bigint
  /** Thousandths of a base unit (millicores for cpu), rounded up away from zero like Go's MilliValue(). */
  readonly milli: bigint
}

/** Largest magnitude kept, in base units: Go stores quantities as int64 and saturates binary ones at this. */
export const MAX_QUANTITY_VALUE = 2n ** 63n - 1n

/** Longest quantity text accepted; real ones are a handful of characters. */
export const MAX_QUANTITY_LENGTH = 256

const GRAMMAR = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)$/
const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  '': 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
}
const BINARY_SUFFIXES: Readonly<Record<string, number>> = {Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60}
const EXAMPLES = 'e.g. "500m", "1G", "128Mi" or "1e3"'

interface Interpreted {
  readonly value: bigint
  readonly milli: bigint
  readonly clamped: boolean
}

function ceilDiv(n: bigint, d: bigint): bigint {
  return (n + d - 1n) / d
}

// Returns the problem as a string, or the exact value. Magnitudes are estimated before any BigInt power is
// built, so "1e999999999" costs nothing.
function interpret(text: string): Interpreted | string {
  if (text.length > MAX_QUANTITY_LENGTH) return `is too long (at most ${MAX_QUANTITY_LENGTH} characters)`
  const m = GRAMMAR.exec(text)
  const [, sign = '', whole = '', fraction = '', suffix = ''] = m ?? []
  if (m === null || whole + fraction === '') return `${quote(text)} is not a valid resource quantity (${EXAMPLES})`
  let decimalExponent: number
  let binaryExponent = 0
  if (Object.hasOwn(DECIMAL_SUFFIXES, suffix)) decimalExponent = DECIMAL_SUFFIXES[suffix] as number
  else if (Object.hasOwn(BINARY_SUFFIXES, suffix)) {
    decimalExponent = 0
    binaryExponent = BINARY_SUFFIXES[suffix] as number
  } else if (/^[eE][-+]?[0-9]+$/.test(suffix)) decimalExponent = Number(suffix.slice(1))
  else {
    return `${quote(text)} has an unknown suffix ${quote(suffix)} (use m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<N>; ${EXAMPLES})`
  }
  const digits = (whole + fraction).replace(/^0+/, '')
  if (digits === '') return {value: 0n, milli: 0n, clamped: false}
  const exponent = decimalExponent - fraction.length
  const negative = sign === '-'
  const signed = (x: bigint): bigint => (negative ? -x : x)
  // value < 10^(digits.length + exponent) * 2^binaryExponent <= 10^(digits.length + exponent + 19)
  if (digits.length + exponent + 19 < -3) return {value: signed(1n), milli: signed(1n), clamped: false}
  if (digits.length - 1 + exponent > 19) {
    return {value: signed(MAX_QUANTITY_VALUE), milli: signed(MAX_QUANTITY_VALUE * 1000n), clamped: true}
  }
  const scaled = BigInt(digits) << BigInt(binaryExponent)
  let value: bigint
  let milli: bigint
  if (exponent >= 0) {
    value = scaled * 10n ** BigInt(exponent)
    milli = value * 1000n
  } else {
    const divisor = 10n ** BigInt(-exponent)
    value = ceilDiv(scaled, divisor)
    milli = ceilDiv(scaled * 1000n, divisor)
  }
  const clamped = value > MAX_QUANTITY_VALUE
  if (clamped) {
    value = MAX_QUANTITY_VALUE
    milli = MAX_QUANTITY_VALUE * 1000n
  }
  return {value: signed(value), milli: signed(milli), clamped}
}

function textOf(raw: string | number): string {
  // Go strips the quotes and surrounding white space, and also takes a bare JSON number.
  return typeof raw === 'number' ? String(raw) : raw.trim()
}

/**
 * Parses a quantity such as `"250m"`, `"1G"`, `"128Mi"`, `"1e3"` or a bare number. Values beyond int64 saturate
 * at MAX_QUANTITY_VALUE. Throws SchemaError.
 */
export function parseQuantity(raw: string | number, path = 'quantity'): Quantity {
  const text = textOf(raw)
  const result = interpret(text)
  if (typeof result === 'string') throw new SchemaError(path, result)
  return {text, value: result.value, milli: result.milli}
}

/** Reads a quantity from manifest JSON: a string or a bare number. Saturation is a warning. */
export function decodeQuantity(d: Decoder, raw: unknown, path: string): Quantity {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    d.fail(path, `must be a quantity string (${EXAMPLES}), got ${describeType(raw)}`)
  }
  const text = textOf(raw)
  const result = interpret(text)
  if (typeof result === 'string') d.fail(path, result)
  if (result.clamped) d.warn(path, `${quote(text)} exceeds ${MAX_QUANTITY_VALUE} and is treated as that value`)
  return {text, value: result.value, milli: result.milli}
}

const DECIMAL_FORMATS: readonly [string, bigint][] = [
  ['E', 10n ** 18n],
  ['P', 10n ** 15n],
  ['T', 10n ** 12n],
  ['G', 10n ** 9n],
  ['M', 10n ** 6n],
  ['k', 10n ** 3n],
]
const BINARY_FORMATS: readonly [string, bigint][] = Object.entries(BINARY_SUFFIXES)
  .reverse()
  .map(([suffix, exp]) => [suffix, 1n << BigInt(exp)])

/** Writes whole base units with the largest exact suffix: decimal (`1G`) or, with `binary`, power-of-two (`1Gi`). */
export function formatQuantity(value: bigint, opts: {binary?: boolean} = {}): string {
  if (value === 0n) return '0'
  for (const [suffix, unit] of opts.binary === true ? BINARY_FORMATS : DECIMAL_FORMATS) {
    if (value % unit === 0n) return `${value / unit}${suffix}`
  }
  return String(value)
}

/** Writes thousandths of a base unit, e.g. millicores: `250m`, or `2` for 2000. */
export function formatMilliQuantity(milli: bigint): string {
  return milli % 1000n === 0n ? formatQuantity(milli / 1000n) : `${milli}m`
}
