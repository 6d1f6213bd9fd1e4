// The forms of an image ID: the canonical ID (`sha512-` + 128 hex, what manifests carry),
// the store key (`sha512-` + the first 64 hex, rkt's blob file names), and the display form (`sha512-` +
// 32 hex). Any unique prefix of at least the display length resolves; shorter prefixes too, as in rkt.
import {RktError, UsageError} from '../errors.js'

const CANONICAL = /^sha512-[0-9a-f]{128}$/
const KEY = /^sha512-[0-9a-f]{64}$/
const PREFIX = /^sha512-[0-9a-f]{1,128}$/

/** True for `sha512-` + 128 lowercase hex. */
export function isCanonicalId(s: string): boolean {
  return CANONICAL.test(s)
}

/** True for a store key (`sha512-` + 64 lowercase hex). */
export function isStoreKey(s: string): boolean {
  return KEY.test(s)
}

/** The store key of a canonical ID. */
export function storeKey(id: string): string {
  if (!isCanonicalId(id)) throw new RktError(`not a canonical image ID: ${JSON.stringify(id)}`, {code: 'EBADID'})
  return id.slice(0, 'sha512-'.length + 64)
}

/** The short form shown by default (`sha512-` + 32 hex). */
export function shortId(idOrKey: string): string {
  return idOrKey.slice(0, 'sha512-'.length + 32)
}

/** True when a user's argument is meant as an image ID (rather than a name or a path). */
export function looksLikeId(arg: string): boolean {
  return arg.startsWith('sha512-')
}

/**
 * Validates an ID prefix typed by a user before it is compared with anything or used near a path
 * (SEC-41): lowercase hex only, at most 128 digits.
 */
export function parseIdPrefix(arg: string): string {
  if (!PREFIX.test(arg)) {
    throw new UsageError(`invalid image ID ${JSON.stringify(arg)}`, {
      hint: 'an image ID is "sha512-" followed by lowercase hex digits (a unique prefix is enough)',
    })
  }
  return arg
}
