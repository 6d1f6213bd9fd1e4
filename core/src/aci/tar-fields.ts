// Decoding of tar header fields and pax records, strictly: every malformed value is an error (EBADTAR),
// because a lenient decoder is where parsers start to disagree about what an archive contains.
import {RktError} from '../errors.js'

/** Size of a tar block. */
export const BLOCK = 512

const utf8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

/** A pax value: text for the standard keys, raw bytes for xattrs. */
export type PaxValue = string | Buffer

/** A parse error with code EBADTAR. */
export function tarError(message: string): RktError {
  return new RktError(`invalid tar archive: ${message}`, {code: 'EBADTAR'})
}

/** Decodes bytes as strict UTF-8 (ASCII takes a fast path); throws on malformed sequences. */
export function decodeStrict(buf: Buffer, start: number, end: number, what: string): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      try {
        return utf8.decode(buf.subarray(start, end))
      } catch {
        throw tarError(`${what} is not valid UTF-8`)
      }
    }
  }
  return buf.toString('latin1', start, end)
}

/** The bytes of a NUL-terminated fixed-size header field. */
export function fieldEnd(buf: Buffer, off: number, len: number): number {
  const end = off + len
  for (let i = off; i < end; i++) if (buf[i] === 0) return i
  return end
}

/** A numeric header field: octal text, or GNU base-256 when the high bit is set; negatives are refused. */
export function parseNumber(buf: Buffer, off: number, len: number, field: string, at: number): number {
  const b0 = buf[off]!
  if (b0 & 0x80) {
    if (b0 & 0x40) throw tarError(`negative ${field} in the header at byte ${at}`)
    let v = b0 & 0x3f
    for (let i = 1; i < len; i++) {
      v = v * 256 + buf[off + i]!
      if (v > Number.MAX_SAFE_INTEGER) throw tarError(`${field} overflows in the header at byte ${at}`)
    }
    return v
  }
  let i = off
  const end = off + len
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++
  let v = 0
  for (; i < end; i++) {
    const c = buf[i]!
    if (c < 0x30 || c > 0x37) break
    v = v * 8 + (c - 0x30)
  }
  if (v > Number.MAX_SAFE_INTEGER) throw tarError(`${field} overflows in the header at byte ${at}`)
  for (; i < end; i++) {
    if (buf[i] !== 0x20 && buf[i] !== 0) throw tarError(`${field} is not an octal number in the header at byte ${at}`)
  }
  return v
}

/** True for an all-zero block (the end-of-archive marker). */
export function isZeroBlock(buf: Buffer, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (buf[i] !== 0) return false
  return true
}

/** Both checksum conventions: POSIX sums unsigned bytes, some historic writers summed signed chars. */
export function checksumMatches(buf: Buffer, off: number, at: number): boolean {
  const stored = parseNumber(buf, off + 148, 8, 'checksum', at)
  let unsigned = 0
  let signed = 0
  for (let i = off; i < off + BLOCK; i++) {
    const b = i >= off + 148 && i < off + 156 ? 0x20 : buf[i]!
    unsigned += b
    signed += b >= 0x80 ? b - 256 : b
  }
  return stored === unsigned || stored === signed
}

/** A lossy rendering of a raw name field, for error messages about headers that failed to parse. */
export function rawName(buf: Buffer, off: number): string {
  return JSON.stringify(buf.toString('utf8', off, fieldEnd(buf, off, 100)))
}

/** Parses pax records (`<len> <key>=<value>\n`), strictly: any malformed record fails the archive. */
export function parsePax(data: Buffer, at: number): Map<string, PaxValue> {
  const out = new Map<string, PaxValue>()
  let p = 0
  while (p < data.length) {
    let q = p
    let len = 0
    while (q < data.length && data[q]! >= 0x30 && data[q]! <= 0x39 && q - p < 8) len = len * 10 + (data[q++]! - 0x30)
    if (q === p || data[q] !== 0x20 || len <= q - p + 1 || p + len > data.length || data[p + len - 1] !== 0x0a) {
      throw tarError(`malformed pax record at offset ${p} of the pax header at byte ${at}`)
    }
    const eq = data.indexOf(0x3d, q + 1)
    if (eq < 0 || eq >= p + len - 1 || eq === q + 1)
      throw tarError(`malformed pax record at offset ${p} of the pax header at byte ${at}`)
    const key = decodeStrict(data, q + 1, eq, `a pax key in the header at byte ${at}`)
    const valueStart = eq + 1
    const valueEnd = p + len - 1
    if (key.startsWith('GNU.sparse.'))
      throw tarError(`unsupported GNU sparse file (pax ${key}) in the header at byte ${at}`)
    if (key.startsWith('SCHILY.xattr.')) {
      if (key.length === 13) throw tarError(`empty xattr name in the pax header at byte ${at}`)
      out.set(key, Buffer.from(data.subarray(valueStart, valueEnd)))
    } else if (
      key === 'path' ||
      key === 'linkpath' ||
      key === 'size' ||
      key === 'uid' ||
      key === 'gid' ||
      key === 'mtime' ||
      key === 'uname' ||
      key === 'gname'
    ) {
      if (data.subarray(valueStart, valueEnd).includes(0))
        throw tarError(`NUL in pax ${key} in the header at byte ${at}`)
      // An empty value is kept: it cancels a global value (POSIX), and the header field applies again.
      out.set(key, decodeStrict(data, valueStart, valueEnd, `pax ${key} in the header at byte ${at}`))
    }
    // Other keys (atime, ctime, comment, charset, vendor keys) do not affect extraction.
    p += len
  }
  return out
}
