// The trust module: which OpenPGP keys may sign which image names, and detached-signature verification.
export {MAX_SIGNATURE_FILE_SIZE, assertSingleSignaturePacket, dearmorDetachedSignature, splitPackets} from './armor.js'
export type {PacketFrame} from './armor.js'
export {
  KeyParseError,
  certifiedUserIds,
  describeKey,
  fingerprintOf,
  formatFingerprint,
  parsePublicKey,
  printable,
  quote,
} from './keys.js'
export type {TrustScope} from './keys.js'
export {Keystore, scopeOf} from './keystore.js'
export type {AddKeyOptions, KeyLayer, KeystoreOptions, TrustedKey} from './keystore.js'
export {coveringPrefixes, isACIdentifier, prefixCovers, validatePrefix} from './names.js'
export {assertTrustedFor, verifyDetached} from './verify.js'
export type {SignedData, Signer, VerifyDetachedOptions} from './verify.js'
