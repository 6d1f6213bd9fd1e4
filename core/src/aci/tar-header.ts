// Low-level tar header encoding, for the pax headers the image builder writes itself (tar-stream can
// only write pax values as text, and xattr values such as security.capability are binary) and for tests
// that hand-craft hostile headers.

/** Fields of one ustar header block. */
export interface UstarFields {
  name: string
  /** The typeflag character: '0' file, '1' hardlink, '2' symlink, '5' directory, 'x' pax, and so on. */
  typeflag: string
  mode?: number
  uid?: number
  gid?: number
  size?: number
  /** Seconds since the epoch. */
  mtime?: number
  linkname?: string
  uname?: string
  gname?: string
  devmajor?: number
  devminor?: number
  /** The ustar prefix field (joined to name with '/'). */
  prefix?: string
  /** 'gnu' writes the GNU magic (`ustar  \0`), 'v7' none at all; default POSIX ustar. */
  format?: 'ustar' | 'gnu' | 'v7'
  /** Override the computed checksum (tests of corrupt headers). */
  checksum?: number
}

function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  // len-1 octal digits and a NUL terminator; base-256 when the value does not fit (GNU extension).
  const text = Math.trunc(value).toString(8)
  if (text.length <= len - 1) {
    buf.write(text.padStart(len - 1, '0'), off, 'latin1')
    buf[off + len - 1] = 0
    return
  }
  let v = value
  for (let i = len - 1; i > 0; i--) {
    buf[off + i] = v % 256
    v = Math.floor(v / 256)
  }
  buf[off] = 0x80
}

/** Encodes one 512-byte ustar header block, computing the checksum (unsigned, POSIX) unless given. */
export function encodeUstarHeader(f: UstarFields): Buffer {
  const buf = Buffer.alloc(512)
  buf.write(f.name, 0, 100, 'utf8')
  writeOctal(buf, 100, 8, f.mode ?? 0o644)
  writeOctal(buf, 108, 8, f.uid ?? 0)
  writeOctal(buf, 116, 8, f.gid ?? 0)
  writeOctal(buf, 124, 12, f.size ?? 0)
  writeOctal(buf, 136, 12, f.mtime ?? 0)
  buf.write(f.typeflag, 156, 1, 'latin1')
  if (f.linkname) buf.write(f.linkname, 157, 100, 'utf8')
  if (f.format === 'gnu') buf.write('ustar  \0', 257, 8, 'latin1')
  else if (f.format !== 'v7') buf.write('ustar\x0000', 257, 8, 'latin1')
  if (f.uname) buf.write(f.uname, 265, 32, 'utf8')
  if (f.gname) buf.write(f.gname, 297, 32, 'utf8')
  writeOctal(buf, 329, 8, f.devmajor ?? 0)
  writeOctal(buf, 337, 8, f.devminor ?? 0)
  if (f.prefix) buf.write(f.prefix, 345, 155, 'utf8')
  buf.fill(0x20, 148, 156)
  let sum = 0
  for (let i = 0; i < 512; i++) sum += buf[i]!
  buf.write(`${(f.checksum ?? sum).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1')
  return buf
}

/** Encodes pax records (`<len> <key>=<value>\n`); values may be binary. */
export function encodePaxRecords(records: Iterable<readonly [string, string | Buffer]>): Buffer {
  const parts: Buffer[] = []
  for (const [key, value] of records) {
    const v = typeof value === 'string' ? Buffer.from(value) : value
    const rest = Buffer.byteLength(key) + v.length + 3 // ' ', '=', '\n'
    let len = rest + String(rest).length
    if (String(len).length !== String(rest).length) len = rest + String(len).length
    parts.push(Buffer.from(`${len} ${key}=`), v, Buffer.from('\n'))
  }
  return Buffer.concat(parts)
}

/** Zero bytes that pad `size` up to a whole 512-byte block. */
export function blockPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512)
}

/** A complete pax extended header ('x', or 'g' for global): header block, records, padding. */
export function encodePaxHeader(
  records: Iterable<readonly [string, string | Buffer]>,
  opts: {name?: string; mtime?: number; global?: boolean} = {},
): Buffer {
  const body = encodePaxRecords(records)
  const header = encodeUstarHeader({
    name: opts.name ?? 'PaxHeader',
    typeflag: opts.global === true ? 'g' : 'x',
    size: body.length,
    mtime: opts.mtime ?? 0,
  })
  return Buffer.concat([header, body, blockPadding(body.length)])
}
