// Strict reading of a `.asc` detached signature before OpenPGP.js sees it. OpenPGP.js (and gpg) accept more
// than an image signature can legitimately be: cleartext-signed text, inline-signed messages, several armored
// blocks, several signature packets, trailing data. Each of those has been the vehicle of a signature
// spoofing bug (docs/security.md SEC-48, SEC-53), so exactly one shape is accepted here:
// whitespace, one `PGP SIGNATURE` block whose body is exactly one signature packet, whitespace.
import {RktError} from '../errors.js'

/** Signatures are a few hundred bytes; anything near this is not a signature and is not parsed further. */
export const MAX_SIGNATURE_FILE_SIZE = 64 * 1024

const BEGIN = '-----BEGIN PGP SIGNATURE-----'
const END = '-----END PGP SIGNATURE-----'
const ARMOR_LINE = /^-----(BEGIN|END) PGP ([A-Z0-9 ,/]+)-----$/
const HEADER_LINE = /^[A-Za-z][A-Za-z0-9-]*: .*$/
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/
const CHECKSUM_LINE = /^=[A-Za-z0-9+/]{4}$/
const SIGNATURE_TAG = 2

const HINT =
  'the signature must be one ASCII-armored detached signature over the image file, as made by: ' +
  'gpg --armor --detach-sign IMAGE.aci'

function bad(what: string): RktError {
  return new RktError(`malformed signature file: ${what}`, {code: 'EBADSIG', hint: HINT})
}

/** What another armor type means when found where a detached signature was expected. */
function describeForeignBlock(type: string): string {
  switch (type) {
    case 'SIGNED MESSAGE':
      return 'it is a cleartext-signed message (gpg --clearsign), not a detached signature'
    case 'MESSAGE':
      return 'it is an OpenPGP message (inline-signed or encrypted, gpg --sign), not a detached signature'
    case 'PUBLIC KEY BLOCK':
      return 'it is a public key, not a signature'
    case 'PRIVATE KEY BLOCK':
      return 'it is a private key, not a signature'
    default:
      return `it is a "PGP ${type}" block, not a detached signature`
  }
}

// Lines may end in CRLF and carry trailing spaces or tabs (RFC 9580 §6.2: trailing whitespace is ignored).
function lines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/[ \t\r]+$/, ''))
}

/** CRC-24 of RFC 9580 §6.1, the optional armor checksum. */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce
  for (const byte of data) {
    crc ^= byte << 16
    for (let i = 0; i < 8; i++) {
      crc <<= 1
      if (crc & 0x1000000) crc ^= 0x1864cfb
    }
  }
  return crc & 0xffffff
}

/**
 * Decodes the text of a `.asc` file that must hold exactly one armored detached signature and nothing but
 * whitespace around it, returning the binary packet data; throws EBADSIG naming what is wrong otherwise.
 */
export function dearmorDetachedSignature(text: string): Uint8Array {
  if (text.length > MAX_SIGNATURE_FILE_SIZE) throw bad(`it is ${text.length} bytes, larger than any signature`)
  const all = lines(text)
  let i = 0
  while (i < all.length && all[i]!.trim() === '') i++
  if (i === all.length) throw bad('the file is empty')
  const first = all[i]!.trimStart()
  const armor = ARMOR_LINE.exec(first)
  if (!armor) {
    if (first.includes('-----BEGIN PGP')) throw bad('unexpected text before the signature block')
    throw bad('it is not ASCII-armored (no "-----BEGIN PGP SIGNATURE-----" line)')
  }
  if (first !== BEGIN) {
    if (armor[1] === 'BEGIN') throw bad(describeForeignBlock(armor[2]!))
    throw bad('"-----END" line before any "-----BEGIN" line')
  }
  i++

  // Armor headers (Version:, Comment:, ...) are not covered by the signature; they are skipped, never used.
  while (i < all.length && all[i] !== '') {
    if (!HEADER_LINE.test(all[i]!)) {
      throw bad(`line ${i + 1}: expected an armor header or the empty line that ends the headers`)
    }
    i++
  }
  if (i === all.length) throw bad('the signature block has no body and no END line')
  i++

  let body = ''
  let checksum: string | undefined
  for (; i < all.length; i++) {
    const line = all[i]!
    if (line === END) break
    if (line === '') {
      if (all.slice(i).every((l) => l.trim() === '')) throw bad('missing "-----END PGP SIGNATURE-----" line')
      throw bad(`line ${i + 1}: empty line inside the signature block`)
    }
    if (checksum !== undefined) throw bad(`line ${i + 1}: text after the armor checksum`)
    if (CHECKSUM_LINE.test(line)) {
      checksum = line.slice(1)
    } else if (BASE64_LINE.test(line) && line !== '') {
      if (body.includes('=')) throw bad(`line ${i + 1}: base64 data after padding`)
      body += line
    } else {
      const other = ARMOR_LINE.exec(line)
      if (other) throw bad(`line ${i + 1}: "${line}" inside the signature block`)
      throw bad(`line ${i + 1}: not base64`)
    }
  }
  if (i === all.length) throw bad('missing "-----END PGP SIGNATURE-----" line')
  const endLine = i + 1
  for (i++; i < all.length; i++) {
    const rest = all[i]!.trim()
    if (rest === '') continue
    if (rest.startsWith('-----BEGIN PGP')) {
      throw bad(`a second armored block starts at line ${i + 1}; the file must hold exactly one signature`)
    }
    throw bad(`data after the END line (line ${endLine}); only whitespace may follow the signature`)
  }

  if (body === '' || body.length % 4 !== 0) throw bad('the base64 body is empty or truncated')
  const data = new Uint8Array(Buffer.from(body, 'base64'))
  // Buffer's decoder is lenient; a round trip proves the body was canonical base64 with no silent loss.
  if (Buffer.from(data).toString('base64') !== body) throw bad('the base64 body is not canonical')
  if (checksum !== undefined) {
    const expected = Buffer.from(checksum, 'base64')
    const want = (expected[0]! << 16) | (expected[1]! << 8) | expected[2]!
    if (crc24(data) !== want) throw bad('armor checksum mismatch (the file is corrupted)')
  }
  return data
}

/** One OpenPGP packet's framing, as found by {@link splitPackets}. */
export interface PacketFrame {
  /** Packet tag (2 = signature, 11 = literal data, ...). */
  readonly tag: number
  /** Offset of the packet header in the input. */
  readonly offset: number
  /** Header plus body length. */
  readonly length: number
}

/**
 * Splits binary OpenPGP data into packets by their framing alone (RFC 9580 §4.2), without interpreting
 * bodies. Partial and indeterminate lengths are refused: no signature packet uses them, and literal or
 * compressed data that does is exactly what must not hide in a signature file.
 */
export function splitPackets(data: Uint8Array): PacketFrame[] {
  const frames: PacketFrame[] = []
  let pos = 0
  while (pos < data.length) {
    const start = pos
    const ctb = data[pos++]!
    if ((ctb & 0x80) === 0) throw bad(`byte ${start} is not an OpenPGP packet header`)
    let tag: number
    let len: number
    const need = (n: number): void => {
      if (pos + n > data.length) throw bad(`packet at byte ${start} is truncated`)
    }
    if (ctb & 0x40) {
      tag = ctb & 0x3f
      need(1)
      const o1 = data[pos++]!
      if (o1 < 192) {
        len = o1
      } else if (o1 < 224) {
        need(1)
        len = ((o1 - 192) << 8) + data[pos++]! + 192
      } else if (o1 === 255) {
        need(4)
        len = new DataView(data.buffer, data.byteOffset + pos, 4).getUint32(0)
        pos += 4
      } else {
        throw bad(`packet at byte ${start} uses a partial body length`)
      }
    } else {
      tag = (ctb >> 2) & 0x0f
      const type = ctb & 0x03
      if (type === 3) throw bad(`packet at byte ${start} has an indeterminate length`)
      const n = 1 << type
      need(n)
      len = 0
      for (let k = 0; k < n; k++) len = len * 256 + data[pos++]!
    }
    need(len)
    pos += len
    frames.push({tag, offset: start, length: pos - start})
  }
  return frames
}

/** Throws EBADSIG unless `data` is exactly one signature packet (tag 2) and nothing else. */
export function assertSingleSignaturePacket(data: Uint8Array): void {
  const frames = splitPackets(data)
  if (frames.length === 0) throw bad('no packets')
  const names: Record<number, string> = {
    2: 'signature',
    4: 'one-pass signature',
    6: 'public key',
    8: 'compressed data',
    11: 'literal data',
    13: 'user ID',
  }
  const others = frames.filter((f) => f.tag !== SIGNATURE_TAG)
  if (others.length > 0) {
    const kinds = [...new Set(others.map((f) => names[f.tag] ?? `tag ${f.tag}`))].join(', ')
    throw bad(`it contains ${kinds} packets; a detached signature holds only one signature packet`)
  }
  if (frames.length > 1) {
    throw bad(`it holds ${frames.length} signature packets; exactly one signature, by one key, is accepted`)
  }
  const frame = frames[0]!
  checkSignatureLayout(
    data.subarray(frame.offset + frame.length - bodyLength(data, frame), frame.offset + frame.length),
  )
}

// The body length of a frame found by splitPackets (its length minus the header).
function bodyLength(data: Uint8Array, frame: PacketFrame): number {
  const ctb = data[frame.offset]!
  let header: number
  if (ctb & 0x40) {
    const o1 = data[frame.offset + 1]!
    header = 1 + (o1 < 192 ? 1 : o1 < 224 ? 2 : 5)
  } else {
    header = 1 + (1 << (ctb & 0x03))
  }
  return frame.length - header
}

/**
 * Checks the framing inside a v4 or v6 signature packet (RFC 9580 §5.2.3): both subpacket areas must be
 * exactly filled by well-formed subpackets, and no subpacket of the unsigned (unhashed) area may be marked
 * critical. OpenPGP.js reads past a wrong area length and ignores critical unhashed subpackets where gpg
 * rejects both; an image signature must be one that every implementation reads the same way (FZ-07).
 */
export function checkSignatureLayout(body: Uint8Array): void {
  const version = body[0]
  if (version !== 4 && version !== 6) throw bad(`unsupported signature packet version ${String(version)}`)
  const lengthSize = version === 4 ? 2 : 4
  let pos = 4
  const readLength = (): number => {
    if (pos + lengthSize > body.length) throw bad('signature packet is truncated')
    let n = 0
    for (let k = 0; k < lengthSize; k++) n = n * 256 + body[pos++]!
    return n
  }
  const area = (hashed: boolean): void => {
    const size = readLength()
    const end = pos + size
    if (end > body.length) throw bad('signature subpacket area runs past the packet')
    while (pos < end) {
      const o1 = body[pos++]!
      let len: number
      if (o1 < 192) {
        len = o1
      } else if (o1 < 255) {
        if (pos + 1 > end) throw bad('signature subpacket length is truncated')
        len = ((o1 - 192) << 8) + body[pos++]! + 192
      } else {
        if (pos + 4 > end) throw bad('signature subpacket length is truncated')
        len = new DataView(body.buffer, body.byteOffset + pos, 4).getUint32(0)
        pos += 4
      }
      if (len === 0 || pos + len > end) throw bad('signature subpacket does not fit its area')
      if (!hashed && body[pos]! & 0x80) {
        throw bad('critical subpacket in the unsigned part of the signature')
      }
      pos += len
    }
  }
  area(true)
  area(false)
  // Then: two bytes of hash prefix (v6: plus a salt) and the algorithm-specific signature values.
  if (pos + 2 >= body.length) throw bad('signature packet is truncated')
}
