// Validation of image files for actool: an ACI (any compression), an image layout directory, or a manifest.
import fs from 'node:fs'
import path from 'node:path'

import type {ImageManifest, SchemaWarning} from '../schema/index.js'

import {AciValidator, decompressAci, detectCompression, limitsFromEnv} from '../aci/index.js'
import {RktError, wrap} from '../errors.js'
import {parseImageManifest, parseManifest} from '../schema/index.js'

export type ValidationType = 'appimage' | 'layout' | 'manifest'

export interface ValidationResult {
  readonly type: ValidationType
  /** actool's wording: "valid app container image", "valid image layout", "valid ImageManifest". */
  readonly description: string
  readonly warnings: readonly SchemaWarning[]
}

/** Reads and validates the manifest of an ACI file, checking every archive entry on the way. */
export async function readAciManifest(
  file: string,
  opts: {strict?: boolean} = {},
): Promise<{manifest: ImageManifest; warnings: readonly SchemaWarning[]}> {
  const limits = limitsFromEnv()
  const {stream} = await decompressAci(fs.createReadStream(file, {highWaterMark: 1 << 20}), {limits})
  const validator = new AciValidator({limits})
  for await (const chunk of stream as AsyncIterable<Buffer>) validator.push(chunk)
  const {manifest} = validator.finish()
  if (manifest.length === 0) throw new RktError('the image has no manifest', {code: 'EBADACI'})
  return parseImageManifest(manifest, opts)
}

function validateLayout(dir: string, strict: boolean): ValidationResult {
  const names = fs.readdirSync(dir)
  for (const n of names) {
    if (n !== 'manifest' && n !== 'rootfs')
      throw new RktError(`invalid image layout: unrecognized file path in layout: ${n}`)
  }
  if (!names.includes('rootfs') || !fs.lstatSync(path.join(dir, 'rootfs')).isDirectory()) {
    throw new RktError('invalid image layout: no rootfs directory')
  }
  if (!names.includes('manifest')) throw new RktError('invalid image layout: no manifest')
  const {warnings} = parseImageManifest(fs.readFileSync(path.join(dir, 'manifest')), {strict})
  return {type: 'layout', description: 'valid image layout', warnings}
}

function detectType(file: string): ValidationType {
  const st = fs.statSync(file)
  if (st.isDirectory()) return 'layout'
  const fd = fs.openSync(file, 'r')
  const head = Buffer.alloc(512)
  try {
    fs.readSync(fd, head, 0, head.length, 0)
  } finally {
    fs.closeSync(fd)
  }
  if (detectCompression(head) !== undefined) return 'appimage'
  const text = head.toString('utf8').trimStart()
  if (text.startsWith('{')) return 'manifest'
  throw new RktError('unable to detect filetype (try --type)', {code: 'EBADACI'})
}

/** Validates one file; throws with the reason when it is invalid. */
export async function validateFile(
  file: string,
  opts: {type?: ValidationType | undefined; strict?: boolean},
): Promise<ValidationResult> {
  const strict = opts.strict ?? false
  let type: ValidationType
  try {
    type = opts.type ?? detectType(file)
  } catch (err) {
    throw wrap('unable to access the file', err)
  }
  const isDir = fs.statSync(file).isDirectory()
  if (isDir && type !== 'layout') throw new RktError(`${file} is a directory (wrong --type?)`)
  switch (type) {
    case 'layout':
      return validateLayout(file, strict)
    case 'appimage': {
      const {warnings} = await readAciManifest(file, {strict})
      return {type, description: 'valid app container image', warnings}
    }
    case 'manifest': {
      const parsed = parseManifest(fs.readFileSync(file), {strict})
      return {type, description: `valid ${parsed.kind}`, warnings: parsed.warnings}
    }
  }
}
