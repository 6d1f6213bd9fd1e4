// The image string of the rkt and actool command lines, `name[:version][,label=value...]`: at most one
// `:`, before the first comma (appc's discovery/parse.go NewAppFromString).

import {Decoder, quote} from './decode.js'
import {SchemaError} from './schema-error.js'
import type {ParseOptions, SchemaWarning} from './schema-error.js'
import {checkACIdentifier} from './types.js'

/** An image named by AC Identifier and labels; `labels.version` holds the part after `:`. */
export interface AppReference {
  readonly name: string
  /** Label name → value, in the order written; the version comes first when given with `:`. */
  readonly labels: Readonly<Record<string, string>>
}

/** The result of parsing an image string, with the warnings of compat mode. */
export interface ParsedAppString {
  readonly app: AppReference
  readonly warnings: readonly SchemaWarning[]
}

/**
 * Parses `example.com/app:1.0.0,os=linux,arch=amd64`. At most one `:`, before the first comma; every label
 * needs `=`; label names are AC Identifiers and may not repeat; `name` cannot be a label. Throws SchemaError.
 */
export function parseAppString(input: string, opts: ParseOptions = {}): ParsedAppString {
  const d = new Decoder(opts.strict === true)
  const where = `image ${quote(input)}`
  const firstColon = input.indexOf(':')
  const firstComma = input.indexOf(',')
  if (input.split(':').length > 2) d.fail(where, 'a colon may appear at most once (name:version)')
  if (firstComma !== -1 && firstColon > firstComma) {
    d.fail(where, 'a colon may appear only right after the image name (name:version,label=value)')
  }
  // Go rewrites the first colon into a version label, then splits on commas.
  const [head = '', ...rest] = input.replace(':', ',version=').split(',')
  checkACIdentifier(d, head, `${where} name`)
  const labels: [string, string][] = []
  const seen = new Set<string>()
  for (const part of rest) {
    const eq = part.indexOf('=')
    if (eq === -1) d.fail(where, `label ${quote(part)} has no value (expected label=value)`)
    const key = part.slice(0, eq)
    const value = part.slice(eq + 1)
    if (key === 'name') d.fail(where, '"name" cannot be used as a label (it is the image name)')
    checkACIdentifier(d, key, `${where} label ${quote(key)}`)
    if (seen.has(key)) d.fail(where, `label ${quote(key)} is given more than once`)
    seen.add(key)
    labels.push([key, value])
  }
  return {app: {name: head, labels: Object.fromEntries(labels)}, warnings: d.warnings}
}

/**
 * Writes an image string back: `name:version,label=value...`. Throws SchemaError when a value holds a character
 * the syntax cannot carry (`,`, or `:` anywhere but the version separator).
 */
export function formatAppString(app: AppReference): string {
  let out = app.name
  const version = app.labels.version
  if (version !== undefined) {
    if (/[,:]/.test(version)) throw new SchemaError('labels.version', `${quote(version)} cannot contain "," or ":"`)
    out += `:${version}`
  }
  for (const [key, value] of Object.entries(app.labels)) {
    if (key === 'version') continue
    if (/[,:]/.test(value)) throw new SchemaError(`labels.${key}`, `${quote(value)} cannot contain "," or ":"`)
    out += `,${key}=${value}`
  }
  return out
}
