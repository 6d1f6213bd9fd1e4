// Trust prefixes are AC identifiers used as directory paths under prefix.d/, so they are validated strictly:
// the spec grammar (schema/types.ts) admits no empty, '.' or '..' component and no leading separator, so an
// accepted identifier split on '/' is always a safe relative path (docs/security.md SEC-55, FZ-03).
import {UsageError} from '../errors.js'
import {isACIdentifier as matchesGrammar} from '../schema/types.js'
import {quote} from './keys.js'

// Far below PATH_MAX and NAME_MAX; a longer prefix is a mistake, not a real image name.
const MAX_IDENTIFIER_LENGTH = 512

/** True when `s` is a valid AC identifier (appc ACIdentifier), the syntax of image names and trust prefixes. */
export function isACIdentifier(s: string): boolean {
  return s.length <= MAX_IDENTIFIER_LENGTH && matchesGrammar(s)
}

/**
 * True when a key trusted for `prefix` may sign the image `name`: the name is the prefix itself or lies below
 * it by whole path components. rkt compared strings, so `example.com/app` also covered
 * `example.com/application` (reproduced on rkt's last commit; docs/security.md SEC-42).
 */
export function prefixCovers(prefix: string, name: string): boolean {
  return name === prefix || name.startsWith(prefix + '/')
}

/** The prefixes whose keys apply to `name`, shortest first: `a/b/c` → `a`, `a/b`, `a/b/c`. */
export function coveringPrefixes(name: string): string[] {
  const parts = name.split('/')
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}

/** Throws a usage error unless `prefix` is a valid AC identifier usable as a trust prefix. */
export function validatePrefix(prefix: string): void {
  if (isACIdentifier(prefix)) return
  const lower = prefix.toLowerCase().replace(/^\/+|\/+$/g, '')
  const suggestion = lower !== prefix && isACIdentifier(lower) ? ` (did you mean ${lower}?)` : ''
  throw new UsageError(`invalid trust prefix ${quote(prefix)}${suggestion}`, {
    hint:
      'a prefix is an image name or a leading part of one: lowercase letters, digits and "-._~", ' +
      'components separated by "/", e.g. rkt trust --prefix=example.com/app KEYFILE',
  })
}
