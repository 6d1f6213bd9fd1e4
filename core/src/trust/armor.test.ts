import assert from 'node:assert/strict'
import {test} from 'node:test'

import fc from 'fast-check'

import {RktError} from '../errors.js'
import {
  assertSingleSignaturePacket,
  checkSignatureLayout,
  crc24,
  dearmorDetachedSignature,
  splitPackets,
} from './armor.js'

// A real gpg 2.2 ed25519 detached signature (its validity does not matter here, only its shape).
const SIG = `-----BEGIN PGP SIGNATURE-----

iIgEABYIADAWIQRGjMUb1QrC9MpDpf/Yn9DJoR0JRwUCawK1ThIcYWxpY2VAZXhh
bXBsZS5jb20ACgkQ2J/QyaEdCUf41QD+Leb2XUFY313RIwAMi5v/AecEPEofnQBT
DXeYjTNY8ccA/RhtpMEK++/rrNGI/Kujo/OZ/lRTmX28T+qGlfsPtj8N
=eqxq
-----END PGP SIGNATURE-----
`

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => assertSingleSignaturePacket(dearmorDetachedSignature(text)),
    (err: unknown) => {
      assert.ok(err instanceof RktError, String(err))
      assert.equal(err.code, 'EBADSIG')
      assert.match(err.message, pattern)
      assert.match(err.hint ?? '', /gpg --armor --detach-sign/)
      return true
    },
  )
}

test('crc24 matches the checksum gpg wrote', () => {
  assert.equal(crc24(new Uint8Array()), 0xb704ce)
  const body = Buffer.from(SIG.split('\n').slice(2, 5).join(''), 'base64')
  assert.equal(crc24(body), Buffer.from('eqxq', 'base64').readUIntBE(0, 3))
})

test('a gpg detached signature is one signature packet', () => {
  const bytes = dearmorDetachedSignature(SIG)
  assert.deepEqual(
    splitPackets(bytes).map((f) => f.tag),
    [2],
  )
  assertSingleSignaturePacket(bytes)
  // CRLF line endings, trailing blanks, headers and surrounding whitespace are fine.
  const crlf =
    '\n\n  ' + SIG.replace('\n\n', '\nVersion: GnuPG v2\nComment: x: y\n\n').replace(/\n/g, ' \r\n') + '\n\t\n'
  assert.deepEqual(dearmorDetachedSignature(crlf), bytes)
  // The checksum is optional.
  assert.deepEqual(dearmorDetachedSignature(SIG.replace('=eqxq\n', '')), bytes)
})

test('anything but exactly one armored detached signature is rejected (SEC-48, SEC-53)', () => {
  rejects('', /empty/)
  rejects('hello', /not ASCII-armored/)
  rejects(SIG + 'garbage\n', /data after the END line/)
  rejects(SIG + SIG, /second armored block/)
  rejects('junk\n' + SIG, /not ASCII-armored|before the signature/)
  rejects(SIG.replace('PGP SIGNATURE-----\n', 'PGP SIGNED MESSAGE-----\n'), /cleartext-signed/)
  rejects(SIG.replace(/PGP SIGNATURE/g, 'PGP MESSAGE'), /inline-signed/)
  rejects(SIG.replace(/PGP SIGNATURE/g, 'PGP PUBLIC KEY BLOCK'), /public key/)
  rejects(SIG.replace('-----END PGP SIGNATURE-----\n', ''), /missing "-----END/)
  rejects(SIG.replace('=eqxq', '=eqxr'), /checksum mismatch/)
  rejects(SIG.replace('iIgE', 'iIg!'), /not base64/)
  rejects(SIG.replace('\n\niIgE', '\niIgE'), /armor header/)
  rejects(SIG.replace('bXBsZS5jb20ACgkQ', 'bXBsZS5jb20ACg=='), /not base64/)
  rejects(SIG.replace('\nDXeY', '\nAA==\nDXeY'), /after padding/)
  rejects(SIG.replace('Ptj8N', 'Ptj8'), /truncated/)
  rejects(SIG.replace('tj8N', 'tj8P'), /not canonical|checksum/)
  rejects(SIG.replace('=eqxq\n', '=eqxq\nAAAA\n'), /after the armor checksum/)
  rejects('x'.repeat(70000), /larger than any signature/)
})

test('packet framing: extra, foreign and truncated packets are rejected', () => {
  const one = dearmorDetachedSignature(SIG)
  const two = Buffer.concat([one, one])
  assert.throws(() => assertSingleSignaturePacket(two), /2 signature packets/)
  // A literal data packet (new format, tag 11) appended to the signature, as in CVE-2025-47934.
  const literal = Buffer.from([0xcb, 0x06, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41])
  assert.throws(() => assertSingleSignaturePacket(Buffer.concat([one, literal.subarray(0, 8)])), /literal data/)
  assert.throws(() => assertSingleSignaturePacket(one.subarray(0, one.length - 1)), /truncated/)
  // Partial body lengths (used by streamed literal data) never belong in a signature file.
  assert.throws(() => assertSingleSignaturePacket(Buffer.from([0xcb, 0xe1, 0x00, 0x00])), /partial body length/)
  // Old-format indeterminate length.
  assert.throws(() => assertSingleSignaturePacket(Buffer.from([0x8b, 0x00])), /indeterminate/)
  assert.throws(() => assertSingleSignaturePacket(Buffer.from([0x01])), /not an OpenPGP packet header/)
})

test('random and mutated armor only ever fails with EBADSIG (FZ-07)', () => {
  const check = (text: string): void => {
    try {
      assertSingleSignaturePacket(dearmorDetachedSignature(text))
    } catch (err) {
      assert.ok(err instanceof RktError && err.code === 'EBADSIG', `unexpected ${String(err)}`)
    }
  }
  fc.assert(fc.property(fc.string({maxLength: 400}), check), {numRuns: 2000})
  fc.assert(
    fc.property(fc.nat(SIG.length - 1), fc.string({minLength: 0, maxLength: 3}), fc.nat(3), (at, insert, del) => {
      check(SIG.slice(0, at) + insert + SIG.slice(at + del))
    }),
    {numRuns: 3000},
  )
})

test('signature subpacket areas must be exactly filled; no critical unsigned subpackets (FZ-07)', () => {
  const packet = dearmorDetachedSignature(SIG)
  const body = packet.subarray(2) // old-format header, one length octet
  checkSignatureLayout(body)
  // Hashed area: bytes 4-5 hold its length (0x0030); the unhashed area follows it.
  const hashedLen = Buffer.from(body).readUInt16BE(4)
  const unhashedAt = 6 + hashedLen
  const mutate = (at: number, value: number): Uint8Array => {
    const copy = Buffer.from(body)
    copy[at] = value
    return copy
  }
  assert.throws(() => checkSignatureLayout(mutate(5, body[5]! - 2)), /does not fit its area/)
  assert.throws(() => checkSignatureLayout(mutate(unhashedAt + 1, body[unhashedAt + 1]! - 1)), /does not fit/)
  assert.throws(() => checkSignatureLayout(mutate(unhashedAt + 3, body[unhashedAt + 3]! | 0x80)), /critical subpacket/)
  assert.throws(() => checkSignatureLayout(mutate(0, 3)), /unsupported signature packet version 3/)
  assert.throws(() => checkSignatureLayout(body.subarray(0, unhashedAt + 2)), /runs past the packet/)
  assert.throws(() => checkSignatureLayout(body.subarray(0, unhashedAt + 12)), /truncated/)
  // A critical flag in the hashed (signed) area is the signer's choice and left to OpenPGP.js.
  checkSignatureLayout(mutate(7, body[7]! | 0x80))
})
