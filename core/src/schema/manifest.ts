// Kind detection for tools that take either manifest (`actool validate` picks the schema from acKind).

import {Decoder, asString, guard, quote, readFields, readJsonDocument} from './decode.js'
import {decodeImageManifest} from './image-manifest.js'
import type {ImageManifest} from './image-manifest.js'
import {decodePodManifest} from './pod-manifest.js'
import type {PodManifest} from './pod-manifest.js'
import type {ParseOptions, SchemaWarning} from './schema-error.js'

/** Either manifest, tagged by its kind. */
export type ParsedManifest =
  | {readonly kind: 'ImageManifest'; readonly manifest: ImageManifest; readonly warnings: readonly SchemaWarning[]}
  | {readonly kind: 'PodManifest'; readonly manifest: PodManifest; readonly warnings: readonly SchemaWarning[]}

/** Parses an image or pod manifest, choosing the schema from its `acKind`. Throws SchemaError. */
export function parseManifest(input: unknown, opts: ParseOptions = {}): ParsedManifest {
  return guard('cannot parse manifest', () => {
    const raw = readJsonDocument(input)
    // Peek at acKind without warnings; the full decode below reports key-case problems once.
    const kindRaw = readFields(new Decoder(false), raw, '', ['acKind']).acKind
    const d = new Decoder(opts.strict === true)
    if (kindRaw === undefined) d.fail('acKind', 'must be set to "ImageManifest" or "PodManifest"')
    const kind = asString(d, kindRaw, 'acKind')
    if (kind === 'ImageManifest') return {kind, manifest: decodeImageManifest(d, raw), warnings: d.warnings}
    if (kind === 'PodManifest') return {kind, manifest: decodePodManifest(d, raw), warnings: d.warnings}
    return d.fail('acKind', `${quote(kind)} is not a manifest kind (valid: ImageManifest, PodManifest)`)
  })
}
