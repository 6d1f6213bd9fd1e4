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
