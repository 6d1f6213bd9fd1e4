// Go's time.ParseDuration syntax, which rkt's --grace-period and similar flags take ("24h", "1h30m", "0").
import {UsageError} from '../errors.js'

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  '\u00b5s': 1e-3,
  '\u03bcs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

/** Parses a Go duration into milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const s = text.trim()
  if (s === '0') return 0
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gy
  let ms = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    ms += Number(m[1]) * UNITS[m[2]!]!
    matched = re.lastIndex
  }
  if (s === '' || matched !== s.length) {
    throw new UsageError(`--${flag}: invalid duration "${text}"`, {
      hint: 'use Go duration syntax, e.g. 30m, 24h, 1h30m',
    })
  }
  return ms
}
