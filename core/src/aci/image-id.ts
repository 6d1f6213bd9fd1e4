// Image IDs (appc spec/aci.md): `sha512-` and the lowercase hex SHA-512 of the uncompressed tar stream.
import crypto from 'node:crypto'
import fs from 'node:fs'

/** A full image ID: sha512- and 128 lowercase hex digits. */
export const IMAGE_ID_PATTERN = /^sha512-[0-9a-f]{128}$/

/** True for a full, canonical image ID. */
export function isImageId(id: string): boolean {
  return IMAGE_ID_PATTERN.test(id)
}

/** Hashes uncompressed tar bytes as they pass; digest() gives the image ID. */
export class ImageIdHasher {
  private readonly hash = crypto.createHash('sha512')
  private n = 0

  /** Adds the next chunk of the uncompressed tar. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk)
    this.n += chunk.length
  }

  /** Bytes hashed so far. */
  get bytes(): number {
    return this.n
  }

  /** The image ID of everything hashed (callable once). */
  digest(): string {
    return `sha512-${this.hash.digest('hex')}`
  }
}

/** The image ID of an uncompressed tar stream (e.g. `(await openAci(file)).stream`). */
export async function imageIdOfTar(input: AsyncIterable<Uint8Array>): Promise<string> {
  const h = new ImageIdHasher()
  for await (const chunk of input) h.update(chunk)
  return h.digest()
}

/** The image ID of an uncompressed tar file, read synchronously. */
export function imageIdOfTarFile(file: string): string {
  const h = new ImageIdHasher()
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      h.update(buf.subarray(0, n))
    }
  } finally {
    fs.closeSync(fd)
  }
  return h.digest()
}
