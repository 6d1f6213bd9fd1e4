// The image manifest (spec/aci.md "Image Manifest Schema"; schema/image.go in the reference code).

import {appToJson, decodeApp} from './app.js'
import type {App} from './app.js'
import {
  Decoder,
  asArray,
  asInteger,
  asString,
  asStringList,
  fieldPath,
  guard,
  indexPath,
  quote,
  readFields,
  readJsonDocument,
} from './decode.js'
import type {ParseOptions, SchemaWarning} from './schema-error.js'
import {
  decodeACIdentifier,
  decodeACKind,
  decodeACVersion,
  decodeAnnotations,
  decodeImageId,
  decodeLabels,
} from './types.js'
import type {Annotation, Label} from './types.js'

/** An image this one is layered on; its rootfs is extracted first (spec/aci.md "Dependency Matching"). */
export interface Dependency {
  readonly imageName: string
  /** When set, the fetched dependency's ID must equal it. */
  readonly imageID?: string
  readonly labels: readonly Label[]
  /** Expected size in bytes, a guard against endless-data attacks. */
  readonly size?: number
}

/** A parsed image manifest. Lists are empty rather than absent. */
export interface ImageManifest {
  readonly acKind: 'ImageManifest'
  readonly acVersion: string
  readonly name: string
  readonly labels: readonly Label[]
  /** Absent for an image that cannot run on its own (a dependency-only image). */
  readonly app?: App
  readonly dependencies: readonly Dependency[]
  readonly pathWhitelist: readonly string[]
  readonly annotations: readonly Annotation[]
}

/** The result of a parse: the manifest and the spec violations tolerated for compatibility. */
export interface ParsedImageManifest {
  readonly manifest: ImageManifest
  readonly warnings: readonly SchemaWarning[]
}

const FIELDS = ['acKind', 'acVersion', 'name', 'labels', 'app', 'dependencies', 'pathWhitelist', 'annotations'] as const

/** Reads an image manifest from an already size-checked JSON object. */
export function decodeImageManifest(d: Decoder, raw: unknown): ImageManifest {
  const f = readFields(d, raw, '', FIELDS)
  const acKind = decodeACKind(d, f.acKind, 'ImageManifest')
  if (f.acVersion === undefined) d.fail('acVersion', 'must be set')
  const acVersion = decodeACVersion(d, f.acVersion)
  if (f.name === undefined) d.fail('name', 'must be set')
  const name = decodeACIdentifier(d, f.name, 'name')
  const labels = decodeLabels(d, f.labels, 'labels')
  const app = f.app === undefined ? undefined : decodeApp(d, f.app, 'app')
  const dependencies =
    f.dependencies === undefined
      ? []
      : asArray(d, f.dependencies, 'dependencies').map((x, i) => decodeDependency(d, x, indexPath('dependencies', i)))
  const pathWhitelist = f.pathWhitelist === undefined ? [] : asStringList(d, f.pathWhitelist, 'pathWhitelist')
  pathWhitelist.forEach((p, i) => {
    // Go does not check; the spec says the whitelist is a set of absolute paths.
    if (!p.startsWith('/')) d.warn(indexPath('pathWhitelist', i), `must be an absolute path, got ${quote(p)}`)
  })
  const annotations = decodeAnnotations(d, f.annotations, 'annotations')
  return {
    acKind,
    acVersion,
    name,
    labels,
    ...(app === undefined ? {} : {app}),
    dependencies,
    pathWhitelist,
    annotations,
  }
}

function decodeDependency(d: Decoder, raw: unknown, path: string): Dependency {
  const f = readFields(d, raw, path, ['imageName', 'imageID', 'labels', 'size'])
  const imageName = f.imageName === undefined ? '' : asString(d, f.imageName, fieldPath(path, 'imageName'))
  if (imageName === '') d.fail(fieldPath(path, 'imageName'), 'must be set (the AC Identifier of the dependency)')
  decodeACIdentifier(d, imageName, fieldPath(path, 'imageName'))
  const imageID = f.imageID === undefined ? undefined : decodeImageId(d, f.imageID, fieldPath(path, 'imageID'))
  const labels = decodeLabels(d, f.labels, fieldPath(path, 'labels'))
  const size =
    f.size === undefined ? undefined : asInteger(d, f.size, fieldPath(path, 'size'), 0, Number.MAX_SAFE_INTEGER)
  return {
    imageName,
    ...(imageID === undefined ? {} : {imageID}),
    labels,
    ...(size === undefined ? {} : {size}),
  }
}

/**
 * Parses and validates an image manifest given as JSON text, UTF-8 bytes or a parsed value. Throws SchemaError
 * (and nothing else) on the first problem; spec violations that Go tolerates are warnings unless `strict`.
 */
export function parseImageManifest(input: unknown, opts: ParseOptions = {}): ParsedImageManifest {
  return guard('cannot parse image manifest', () => {
    const d = new Decoder(opts.strict === true)
    const manifest = decodeImageManifest(d, readJsonDocument(input))
    return {manifest, warnings: d.warnings}
  })
}

function labelsJson(labels: readonly Label[]): {name: string; value: string}[] {
  return labels.map((l) => ({name: l.name, value: l.value}))
}

/** The manifest as a plain JSON object, keys in spec order, empty lists left out as actool does. */
export function imageManifestToJson(m: ImageManifest): Record<string, unknown> {
  return {
    acKind: m.acKind,
    acVersion: m.acVersion,
    name: m.name,
    ...(m.labels.length === 0 ? {} : {labels: labelsJson(m.labels)}),
    ...(m.app === undefined ? {} : {app: appToJson(m.app)}),
    ...(m.dependencies.length === 0
      ? {}
      : {
          dependencies: m.dependencies.map((dep) => ({
            imageName: dep.imageName,
            ...(dep.imageID === undefined ? {} : {imageID: dep.imageID}),
            ...(dep.labels.length === 0 ? {} : {labels: labelsJson(dep.labels)}),
            ...(dep.size === undefined ? {} : {size: dep.size}),
          })),
        }),
    ...(m.pathWhitelist.length === 0 ? {} : {pathWhitelist: [...m.pathWhitelist]}),
    ...(m.annotations.length === 0 ? {} : {annotations: labelsJson(m.annotations)}),
  }
}

/**
 * Serializes a manifest the way actool writes it (defaults filled in, fixed key order), after checking that it
 * parses back; `pretty` indents with four spaces like `actool cat-manifest --pretty-print`.
 */
export function serializeImageManifest(
  m: ImageManifest,
  opts: {pretty?: boolean; indent?: string | number} = {},
): string {
  const text = guard('cannot serialize image manifest', () =>
    JSON.stringify(imageManifestToJson(m), null, opts.pretty === true ? (opts.indent ?? 4) : undefined),
  )
  // Go validates on marshal too: an invalid manifest must never be written.
  parseImageManifest(text)
  return text
}
