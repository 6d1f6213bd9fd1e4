// Detached OpenPGP signature verification for images: the only place that calls openpgp.verify (an ESLint
// rule enforces it, docs/security.md SEC-49).
//
// Policy:
// - The `.asc` must be exactly one armored detached signature holding exactly one signature packet of type "binary
//   document" (armor.ts; docs/security.md SEC-48, SEC-53). Text-mode signatures are refused: they canonicalise line
//   endings, so they would also "match" data that differs from what was signed.
// - The signer must be among the given keys, by key ID and, when the signature names it (gpg ≥ 2.1 always
//   does), by issuer fingerprint. A signing subkey is accepted only with a valid binding signature from the
//   primary key, the sign flag, and the subkey's back-signature (OpenPGP.js enforces these; SEC-50, SEC-51).
// - Key validity is checked twice: at the signature's creation time (OpenPGP.js) and now (here). A key or
//   signing subkey that is expired or revoked *now* is refused even for signatures made while it was valid,
//   because the creation time is written by the signer: whoever holds an expired or compromised key can
//   backdate a signature to the key's valid period. A publisher whose key expired must extend it (and users
//   re-import it with `rkt trust`) or re-sign with a current key (SEC-52).
// - OpenPGP.js defaults stay in force: MD5/RIPEMD/SHA-1 message hashes, DSA/ElGamal keys and RSA < 2048 bits
//   are refused; a signature dated in the future (clock skew) is refused.
import {Readable} from 'node:stream'
import type {ReadableStream as WebReadableStream} from 'node:stream/web'

import * as openpgp from 'openpgp'
import type {PublicKey, SignaturePacket, Subkey} from 'openpgp'

import {RktError, wrap} from '../errors.js'
import {assertSingleSignaturePacket, dearmorDetachedSignature} from './armor.js'
import {certifiedUserIds, fingerprintOf, formatFingerprint, printable, quote} from './keys.js'
import type {Keystore, TrustedKey} from './keystore.js'
import {isACIdentifier, prefixCovers} from './names.js'

/**
 * The bytes to verify: a Node stream, a web stream, a buffer, or a function opening one. A function is
 * called only once the signature file has been checked, so a malformed signature never opens the image.
 * File streams verify about twice as fast with 1 MiB reads (`createReadStream(f, {highWaterMark: 1 << 20})`).
 */
export type SignedData =
  | Readable
  | WebReadableStream<Uint8Array>
  | Uint8Array
  | (() => Readable | WebReadableStream<Uint8Array> | Promise<Readable | WebReadableStream<Uint8Array>>)

/** Input of {@link verifyDetached}. */
export interface VerifyDetachedOptions {
  /** The exact bytes that were signed, streamed; consumed completely on success, destroyed on failure. */
  readonly data: SignedData
  /** The `.asc` file: one ASCII-armored detached signature. */
  readonly signature: string | Uint8Array
  /** Candidate signer keys, e.g. `keystore.allKeys()` or `keystore.keysForImage(name)`. */
  readonly keys: readonly (TrustedKey | PublicKey)[]
  /** The image name, when known: only used to make the "not trusted" hint precise. */
  readonly name?: string
  /** Validity reference time (default: now); for tests. */
  readonly date?: Date
}

/** Who made a valid signature. */
export interface Signer {
  /** Fingerprint of the signer's primary key, lowercase hex: the keystore's key file name. */
  readonly fingerprint: string
  /** Key ID (16 lowercase hex digits) of the key that made the signature: the primary key or a subkey. */
  readonly signingKeyId: string
  /** Fingerprint (lowercase hex) of the key that made the signature. */
  readonly signingKeyFingerprint: string
  /** The signer key's self-certified user IDs. */
  readonly userIds: readonly string[]
  /** The signature's creation time, as stated by the signer. */
  readonly created: Date
  /** The keystore entries (one per key file) holding the signer's key, when `keys` were TrustedKeys. */
  readonly trustedKeys: readonly TrustedKey[]
}

const BINARY_SIGNATURE = openpgp.enums.signature.binary
const TEXT_SIGNATURE = openpgp.enums.signature.text

// OpenPGP.js spends a fixed cost per stream chunk (several web-stream hops); network and file streams deliver
// 16-64 KiB chunks, so they are gathered into blocks of about this size before hashing (see verify.bench).
const BLOCK_SIZE = 1024 * 1024

function isTrustedKey(k: TrustedKey | PublicKey): k is TrustedKey {
  return 'fingerprint' in k && 'layer' in k
}

function badSig(message: string, hint: string, cause?: unknown): RktError {
  return new RktError(message, {code: 'EBADSIG', hint, cause})
}

function trustHint(name: string | undefined): string {
  const prefix = name !== undefined && isACIdentifier(name) ? name : 'PREFIX'
  return (
    `if you trust the signer for this image, review its key and add it with: rkt trust --prefix=${prefix} KEYFILE ` +
    `(or pass --insecure-options=image to skip verification, which is unsafe)`
  )
}

/**
 * Verifies a detached signature over streamed data against candidate keys and returns the signer. Throws
 * RktError with code EBADSIG (malformed signature file, bad signature, tampered data), ENOTTRUSTED (signer
 * not among `keys`), EKEYEXPIRED or EKEYREVOKED (signer key no longer valid). Trust for a particular image
 * name is a separate step: {@link assertTrustedFor}.
 */
export async function verifyDetached(options: VerifyDetachedOptions): Promise<Signer> {
  const date = options.date ?? new Date()
  let opened: Readable | WebReadableStream<Uint8Array> | Uint8Array | undefined =
    typeof options.data === 'function' ? undefined : options.data
  let source: DataSource | undefined
  try {
    const {signature, packet: sigPacket} = await readDetachedSignature(options.signature)
    const candidate = await selectKey(sigPacket, options.keys, options.name)

    if (typeof options.data === 'function') opened = await options.data()
    source = new DataSource(opened!)
    const message = await openpgp.createMessage({binary: source.stream})
    let signer: Subkey | PublicKey
    try {
      const result = await openpgp.verify({
        message,
        signature,
        verificationKeys: [candidate.key],
        // Without expectSigned, OpenPGP.js returns signatures from unknown keys as if fine (SEC-49).
        expectSigned: true,
        // 'binary' keeps the data as bytes: the default ('utf8') decodes the whole image as text, 15x slower.
        format: 'binary',
        date,
      })
      if (result.signatures.length !== 1) {
        throw new Error(`expected one signature result, got ${result.signatures.length}`)
      }
      // With expectSigned the stream errors at its end unless the signature verifies; it must be drained
      // for the data to be hashed at all.
      await drain(result.data)
      await result.signatures[0]!.verified
      signer = candidate.key.getKeys(sigPacket.issuerKeyID)[0]!
    } catch (err) {
      if (source.error !== undefined) {
        throw wrap('cannot read the signed data', source.error, {
          code: 'EIO',
          hint: 'the image could not be read to the end; retry the fetch',
        })
      }
      throw classifyFailure(err, candidate)
    }
    await checkStillValid(candidate.key, sigPacket, date)
    const created = sigPacket.created!
    return {
      fingerprint: fingerprintOf(candidate.key),
      signingKeyId: sigPacket.issuerKeyID.toHex().toLowerCase(),
      signingKeyFingerprint: signer.getFingerprint().toLowerCase(),
      userIds: await certifiedUserIds(candidate.key, date),
      created,
      trustedKeys: candidate.trusted,
    }
  } catch (err) {
    // The data was not (fully) consumed: release it rather than leave a producer blocked on backpressure.
    source?.close()
    destroy(opened, err)
    throw err
  }
}

/** How rkt's OpenPGP library said a signer is not trusted: scripts written for rkt match these words. */
const UNKNOWN_ENTITY = 'openpgp: signature made by unknown entity'
/**
 * Throws ENOTTRUSTED unless the signer's key is trusted for image `name` by the keystore: through root.d, or
 * a prefix that is `name` or a leading run of its path components (never a sibling such as
 * `example.com/app` for `example.com/application`, SEC-42). Returns the keystore entry granting trust.
 *
 * Meant for signatures verified against `keystore.allKeys()` before the name was known (the fetch path
 * verifies while decompressing); re-reading the keystore here means the trust decision always uses the
 * same lookup as an up-front `keysForImage(name)`, including its fail-closed errors.
 */
export async function assertTrustedFor(signer: Signer, name: string, keystore: Keystore): Promise<TrustedKey> {
  const keys = await keystore.keysForImage(name)
  const match = keys.find((k) => k.fingerprint === signer.fingerprint)
  if (match) return match
  const who = signer.userIds[0] === undefined ? '' : ` (${printable(signer.userIds[0])})`
  const elsewhere = signer.trustedKeys
    .map((k) => (k.prefix === undefined ? 'every name (root key)' : `prefix ${quote(k.prefix)}`))
    .filter((s, i, a) => a.indexOf(s) === i)
  const note =
    elsewhere.length > 0 && !signer.trustedKeys.some((k) => k.prefix === undefined || prefixCovers(k.prefix, name))
      ? `; it is trusted only for ${elsewhere.join(', ')}`
      : ''
  throw new RktError(
    `${UNKNOWN_ENTITY}: image ${quote(name)} is signed by key ${formatFingerprint(signer.fingerprint)}${who}, ` +
      `which is not trusted for this name${note}`,
    {code: 'ENOTTRUSTED', hint: trustHint(name)},
  )
}

// Parses the .asc strictly (armor.ts), then lets OpenPGP.js parse the single packet with unknown packets
// and versions treated as errors rather than skipped.
async function readDetachedSignature(
  input: string | Uint8Array,
): Promise<{signature: openpgp.Signature; packet: SignaturePacket}> {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    try {
      text = new TextDecoder('utf-8', {fatal: true}).decode(input)
    } catch {
      throw badSig(
        'malformed signature file: it is not text (a binary signature?)',
        'rkt accepts ASCII-armored detached signatures, as made by: gpg --armor --detach-sign IMAGE.aci',
      )
    }
  }
  const bytes = dearmorDetachedSignature(text)
  assertSingleSignaturePacket(bytes)
  let parsed: openpgp.Signature
  try {
    parsed = await openpgp.readSignature({
      binarySignature: bytes,
      config: {ignoreUnsupportedPackets: false, ignoreMalformedPackets: false},
    })
  } catch (err) {
    throw badSig(
      'malformed signature file: the signature packet cannot be parsed',
      'ask the publisher for a signature made with a current gpg (gpg --armor --detach-sign IMAGE.aci)',
      err,
    )
  }
  const packets = [...parsed.packets]
  const sig = packets[0]
  if (packets.length !== 1 || !(sig instanceof openpgp.SignaturePacket)) {
    throw badSig('malformed signature file: expected exactly one signature packet', 'sign with a single key')
  }
  if (sig.signatureType === TEXT_SIGNATURE) {
    throw badSig(
      'the signature is a text-mode signature; images need a binary-mode one',
      'sign the image with: gpg --armor --detach-sign IMAGE.aci (without --textmode)',
    )
  }
  if (sig.signatureType !== BINARY_SIGNATURE) {
    throw badSig(
      `the signature is not a document signature (type ${sig.signatureType})`,
      'sign the image with: gpg --armor --detach-sign IMAGE.aci',
    )
  }
  if (!sig.created) throw badSig('the signature has no creation time', 'sign the image with a current gpg')
  return {signature: parsed, packet: sig}
}

interface Candidate {
  /** The signer's key, merged from every copy in `keys`. */
  readonly key: PublicKey
  /** The keystore entries holding it. */
  readonly trusted: TrustedKey[]
}

// Picks the one key that can have made `sig`. Copies of the same key (one key trusted for several prefixes,
// or in both layers) are merged so a revocation or subkey present in any copy counts: otherwise which file
// was read first would decide whether a revoked subkey is honoured.
async function selectKey(
  sig: SignaturePacket,
  keys: readonly (TrustedKey | PublicKey)[],
  name: string | undefined,
): Promise<Candidate> {
  const issuerFpr = sig.issuerFingerprint ? Buffer.from(sig.issuerFingerprint).toString('hex') : undefined
  const byFpr = new Map<string, {keys: PublicKey[]; trusted: TrustedKey[]}>()
  for (const k of keys) {
    const key = isTrustedKey(k) ? k.key : k
    const matches = key.getKeys(sig.issuerKeyID)
    if (matches.length === 0) continue
    if (issuerFpr !== undefined && !matches.some((m) => m.getFingerprint().toLowerCase() === issuerFpr)) continue
    const fpr = fingerprintOf(key)
    const entry = byFpr.get(fpr) ?? {keys: [], trusted: []}
    entry.keys.push(key)
    if (isTrustedKey(k)) entry.trusted.push(k)
    byFpr.set(fpr, entry)
  }
  const who =
    issuerFpr !== undefined ? formatFingerprint(issuerFpr) : `with key ID ${sig.issuerKeyID.toHex().toUpperCase()}`
  if (byFpr.size === 0) {
    throw new RktError(`${UNKNOWN_ENTITY}: the image is signed by key ${who}, which is not a trusted key`, {
      code: 'ENOTTRUSTED',
      hint: trustHint(name),
    })
  }
  if (byFpr.size > 1) {
    throw badSig(
      `the signature names key ID ${sig.issuerKeyID.toHex()} but no fingerprint, and several trusted keys have that ID`,
      'ask the publisher to sign with gpg 2.1 or later, which records the full fingerprint',
    )
  }
  const [entry] = [...byFpr.values()]
  let merged = entry!.keys[0]!
  try {
    for (const other of entry!.keys.slice(1)) merged = await merged.update(other)
  } catch (err) {
    throw new RktError(`the trusted copies of key ${formatFingerprint(fingerprintOf(merged))} cannot be combined`, {
      code: 'EBADKEY',
      cause: err,
      hint: `replace every copy with the publisher's current key: ${entry!.trusted.map((k) => k.path).join(', ')}`,
    })
  }
  return {key: merged, trusted: entry!.trusted}
}

// Maps an OpenPGP.js failure to EBADSIG / EKEYEXPIRED / EKEYREVOKED. The library reports only messages, so
// the classification reads them; tests pin each case to a gpg-made input.
function classifyFailure(err: unknown, candidate: Candidate): RktError {
  const msg = err instanceof Error ? err.message : String(err)
  const fpr = formatFingerprint(fingerprintOf(candidate.key))
  if (/revoked/i.test(msg)) {
    return new RktError(`the signing key ${fpr} is revoked`, {
      code: 'EKEYREVOKED',
      cause: err,
      hint: 'a revoked key is never accepted; ask the publisher for an image signed with its new key',
    })
  }
  if (/expired/i.test(msg) && !/signature is expired/i.test(msg)) {
    return new RktError(`the signing key ${fpr} had expired when the signature was made`, {
      code: 'EKEYEXPIRED',
      cause: err,
      hint: 'ask the publisher for an image signed with a current key',
    })
  }
  if (/in the future/i.test(msg)) {
    return badSig(`the signature by key ${fpr} is dated in the future`, "check this host's clock", err)
  }
  if (/Signed digest did not match|verification failed/i.test(msg)) {
    return badSig(
      `bad signature by key ${fpr}: the image does not match its signature (corrupted or tampered with)`,
      'do not use this image; fetch it again from a source you trust',
      err,
    )
  }
  return badSig(
    `the signature by key ${fpr} is not valid`,
    'do not use this image; ask the publisher for a valid signature',
    err,
  )
}

// The policy check "valid now" (see the file comment), after OpenPGP.js checked "valid when signed".
async function checkStillValid(key: PublicKey, sig: SignaturePacket, date: Date): Promise<void> {
  const fpr = formatFingerprint(fingerprintOf(key))
  try {
    await key.getSigningKey(sig.issuerKeyID, date)
  } catch (err) {
    const msg = (err as Error).message
    const revoked = /revoked/i.test(msg) || (await isRevoked(key, sig, date))
    if (revoked) {
      throw new RktError(`the signing key ${fpr} has been revoked`, {
        code: 'EKEYREVOKED',
        hint: 'a revoked key is never accepted; ask the publisher for an image signed with its new key',
      })
    }
    const expires = await expirationOf(key, sig)
    throw new RktError(
      `the signing key ${fpr} ${expires ? `expired on ${expires.toISOString()}` : 'is no longer valid'}; ` +
        `signatures by expired keys are refused even if made before the expiry`,
      {
        code: 'EKEYEXPIRED',
        hint:
          'ask the publisher for an image signed with a current key; if the publisher extended the key, ' +
          're-import it with rkt trust',
      },
    )
  }
}

async function isRevoked(key: PublicKey, sig: SignaturePacket, date: Date): Promise<boolean> {
  if (await key.isRevoked(undefined, undefined, date).catch(() => false)) return true
  for (const sub of key.getSubkeys(sig.issuerKeyID)) {
    const binding = sub.bindingSignatures.at(-1)
    if (binding && (await sub.isRevoked(binding, key.keyPacket, date).catch(() => false))) return true
  }
  return false
}

async function expirationOf(key: PublicKey, sig: SignaturePacket): Promise<Date | undefined> {
  const primary = await key.getExpirationTime().catch(() => null)
  const sub = key.getSubkeys(sig.issuerKeyID)[0]
  const subExp = sub ? await sub.getExpirationTime().catch(() => null) : null
  const dates = [primary, subExp].filter((d): d is Date => d instanceof Date)
  return dates.sort((a, b) => a.getTime() - b.getTime())[0]
}

// `unknown`: OpenPGP.js types its streams through a package it does not install (@openpgp/web-stream-tools).
async function drain(stream: unknown): Promise<void> {
  const reader = (stream as WebReadableStream<Uint8Array>).getReader()
  for (;;) {
    const {done} = await reader.read()
    if (done) return
  }
}

function destroy(data: Readable | WebReadableStream<Uint8Array> | Uint8Array | undefined, err: unknown): void {
  if (data instanceof Readable) {
    if (!data.destroyed) data.destroy()
  } else if (data !== undefined && !(data instanceof Uint8Array) && !data.locked) {
    data.cancel(err).catch(() => undefined)
  }
}

// Adapts the caller's stream to the web ReadableStream OpenPGP.js 6 expects (it no longer takes Node
// streams), pulling only when OpenPGP.js asks (so memory stays at a few blocks whatever the image size),
// gathering small chunks into ~1 MiB blocks, and remembering a source error so it is not reported as a bad
// signature.
class DataSource {
  readonly stream: ReadableStream<Uint8Array>
  error: unknown = undefined
  private iterator: AsyncIterator<Uint8Array | string> | undefined

  constructor(data: Readable | WebReadableStream<Uint8Array> | Uint8Array) {
    if (data instanceof Uint8Array) {
      this.stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(data)
          controller.close()
        },
      })
      return
    }
    const iterator = (data as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]()
    this.iterator = iterator
    const fail = (err: unknown): never => {
      this.error = err
      throw err
    }
    this.stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const parts: Uint8Array[] = []
          let size = 0
          let done = false
          while (size < BLOCK_SIZE) {
            let next: IteratorResult<Uint8Array | string>
            try {
              next = await iterator.next()
            } catch (err) {
              return fail(err)
            }
            if (next.done) {
              done = true
              break
            }
            if (typeof next.value === 'string') {
              return fail(
                new TypeError('signed data must be a byte stream, not a text stream (setEncoding was called)'),
              )
            }
            parts.push(next.value)
            size += next.value.byteLength
          }
          if (size > 0) controller.enqueue(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size))
          if (done) controller.close()
        },
        async cancel() {
          await iterator.return?.()
        },
      },
      {highWaterMark: 0},
    )
  }

  /** Stops reading: destroys a Node stream, cancels a web stream. */
  close(): void {
    this.iterator?.return?.().catch(() => undefined)
  }
}
