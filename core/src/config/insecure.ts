// rkt's --insecure-options (rkt/flag/secflags.go): each value turns off one protection.
import {UsageError} from '../errors.js'

/** Protections --insecure-options can turn off. */
export type InsecureOption = 'image' | 'tls' | 'ondisk' | 'http' | 'pubkey' | 'capabilities' | 'paths' | 'seccomp'

const ALIASES: Record<string, InsecureOption[]> = {
  none: [],
  image: ['image'],
  tls: ['tls'],
  ondisk: ['ondisk'],
  http: ['http'],
  pubkey: ['pubkey'],
  capabilities: ['capabilities'],
  paths: ['paths'],
  seccomp: ['seccomp'],
  // rkt's code includes pubkey in all-fetch, although its documentation lists only image,tls,http.
  'all-fetch': ['image', 'tls', 'http', 'pubkey'],
  'all-run': ['capabilities', 'paths', 'seccomp'],
  all: ['image', 'tls', 'ondisk', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp'],
}

/** Every spelling --insecure-options accepts. */
export const INSECURE_OPTION_VALUES = Object.keys(ALIASES)

/** Parses a comma-separated --insecure-options value (repeated flags are joined by the caller). */
export function parseInsecureOptions(values: readonly string[]): ReadonlySet<InsecureOption> {
  const set = new Set<InsecureOption>()
  for (const value of values) {
    for (const raw of value.split(',')) {
      const word = raw.trim().toLowerCase()
      if (word === '') continue
      const expanded = ALIASES[word]
      if (!expanded) {
        throw new UsageError(`--insecure-options: unknown value "${raw}"`, {
          hint: `valid values: ${INSECURE_OPTION_VALUES.join(', ')}`,
        })
      }
      for (const opt of expanded) set.add(opt)
    }
  }
  return set
}

/**
 * rkt 0.x's `--insecure-skip-verify[=BOOL]` (the spelling of older walkthroughs), rewritten into
 * `--insecure-options=image` (or dropped when false) with a warning, wherever it stands before `--`.
 */
export function rewriteInsecureSkipVerify(argv: readonly string[], warn: (message: string) => void): string[] {
  const end = argv.indexOf('--')
  const out: string[] = []
  argv.forEach((a, i) => {
    const m = /^--insecure-skip-verify(?:=(.*))?$/.exec(a)
    if (m === null || (end >= 0 && i > end)) return void out.push(a)
    const on = m[1] === undefined || ['true', '1', 't'].includes(m[1].toLowerCase())
    if (!on && !['false', '0', 'f'].includes(m[1]!.toLowerCase()))
      throw new UsageError(`--insecure-skip-verify: "${m[1]}" is not a boolean`, {hint: 'use true or false'})
    warn('--insecure-skip-verify is deprecated: use --insecure-options=image')
    if (on) out.push('--insecure-options=image')
  })
  return out
}
