// Reading and describing OpenPGP public keys, shared by the keystore, the verifier and `rkt trust`.
import * as openpgp from 'openpgp'
import type {PublicKey} from 'openpgp'

import {RktError} from '../errors.js'

/** Key files larger than this are refused: even keys with thousands of certifications stay far below it. */
export const MAX_KEY_FILE_SIZE = 4 * 1024 * 1024

/** Where a key is trusted: for one prefix, or (root.d) for every image name. */
export type TrustScope =
  {readonly prefix: string; readonly root?: false} | {readonly root: true; readonly prefix?: undefined}

/** Why a key could not be parsed: thrown with code EBADKEY by {@link parsePublicKey}. */
export class KeyParseError extends RktError {
  override readonly name: string = 'KeyParseError'
}

function isArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 256)).toString('latin1').trimStart()
  return head.startsWith('-----BEGIN PGP')
}

/**
 * Parses exactly one OpenPGP public key (armored or binary). Secret keys, several keys in one file and
 * unparsable data are refused with a KeyParseError (code EBADKEY) whose message says which.
 */
export async function parsePublicKey(input: string | Uint8Array): Promise<PublicKey> {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  if (bytes.length === 0) throw new KeyParseError('the key data is empty', {code: 'EBADKEY'})
  if (bytes.length > MAX_KEY_FILE_SIZE) {
    throw new KeyParseError(`the key data is ${bytes.length} bytes, larger than any public key`, {code: 'EBADKEY'})
  }
  const armored = isArmored(bytes)
  const text = armored ? Buffer.from(bytes).toString('utf8') : ''
  // OpenPGP.js reads only the first armored block; a second one (another key) must not go unnoticed.
  const blocks = (text.match(/^-----BEGIN PGP /gm) ?? []).length
  if (blocks > 1) {
    throw new KeyParseError(`the data holds ${blocks} armored blocks; exactly one key is expected`, {code: 'EBADKEY'})
  }
  let keys: openpgp.Key[]
  try {
    keys = armored ? await openpgp.readKeys({armoredKeys: text}) : await openpgp.readKeys({binaryKeys: bytes})
  } catch (err) {
    const secret = text.includes('PRIVATE KEY BLOCK')
    throw new KeyParseError(secret ? 'the data is a secret (private) key' : 'not an OpenPGP public key', {
      code: 'EBADKEY',
      cause: err,
    })
  }
  if (keys.length !== 1) {
    throw new KeyParseError(`the data holds ${keys.length} keys; exactly one is expected`, {code: 'EBADKEY'})
  }
  const key = keys[0]!
  if (key.isPrivate()) {
    throw new KeyParseError('the data is a secret (private) key', {code: 'EBADKEY'})
  }
  return key
}

/** The primary key's fingerprint as rkt names key files: lowercase hex, no spaces. */
export function fingerprintOf(key: PublicKey): string {
  return key.getFingerprint().toLowerCase()
}

/**
 * Formats a hex fingerprint as gpg and rkt show it to humans: uppercase, blocks of 4 hex digits, with a
 * double space in the middle (`8B86 DE38 890D DB72 9186  7B02 5210 BD88 8818 2190`).
 */
export function formatFingerprint(hex: string): string {
  const blocks = hex.toUpperCase().match(/.{1,4}/g) ?? []
  const half = Math.ceil(blocks.length / 2)
  return [blocks.slice(0, half).join(' '), blocks.slice(half).join(' ')].filter((s) => s !== '').join('  ')
}

// C0/C1 controls, DEL, line/paragraph separators and bidi overrides: what can move the cursor, clear the
// screen or reorder text on a terminal.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/**
 * Escapes text that came from a key or the network before it is printed: user IDs are attacker-chosen, and
 * a terminal escape sequence in one could redraw the fingerprint the user is asked to review.
 */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, escapeChar)
}

/** `s` in double quotes with every unprintable character escaped, as Go's %q (used in rkt's messages). */
export function quote(s: string): string {
  return JSON.stringify(s).replace(UNPRINTABLE, escapeChar)
}

/**
 * The user IDs of `key` that carry a valid, unrevoked self-signature at `date`. Anyone can append an
 * unsigned user ID to a key, so only these may be shown as the key's identity.
 */
export async function certifiedUserIds(key: PublicKey, date = new Date()): Promise<string[]> {
  const ids: string[] = []
  for (const user of key.users) {
    if (!user.userID) continue
    try {
      await user.verify(date)
      ids.push(user.userID.userID)
    } catch {
      // Not self-certified (or revoked, or expired): not an identity of this key.
    }
  }
  return ids
}

/**
 * The fingerprint review text `rkt trust` prints before asking "Are you sure you want to trust this key
 * (yes/no)?" (rkt/rkt: rkt/pubkey/pubkey.go displayKey): prefix, key source, fingerprint, subkey
 * fingerprints and the self-certified user IDs. The question itself is asked by the command.
 */
export async function describeKey(
  key: PublicKey,
  options: TrustScope & {readonly source: string},
  date = new Date(),
): Promise<string> {
  const out: string[] = []
  out.push(options.root ? 'Prefix: ROOT KEY (trusted for every image name)' : `Prefix: ${quote(options.prefix)}`)
  out.push(`Key: ${quote(options.source.slice(0, 300))}`)
  out.push(`GPG key fingerprint is: ${formatFingerprint(key.getFingerprint())}`)
  for (const subkey of key.subkeys) {
    let note = ''
    try {
      await subkey.verify(date)
    } catch {
      // A subkey without a valid binding is never used to verify anything; say so rather than hide it.
      note = ' (not validly bound to this key, or expired or revoked: never used)'
    }
    out.push(`    Subkey fingerprint: ${formatFingerprint(subkey.getFingerprint())}${note}`)
  }
  const ids = await certifiedUserIds(key, date)
  for (const id of ids) out.push(`\t${printable(id)}`)
  const uncertified = key.users.filter((u) => u.userID).length - ids.length
  if (uncertified > 0) out.push(`\t(${uncertified} user ID(s) without a valid self-signature not shown)`)
  const expires = await key.getExpirationTime().catch(() => null)
  if (expires instanceof Date) {
    out.push(`${expires.getTime() <= date.getTime() ? 'Key expired' : 'Key expires'}: ${expires.toISOString()}`)
  }
  return out.join('\n')
}
