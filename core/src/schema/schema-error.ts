import {RktError} from '../errors.js'
import type {RktErrorOptions} from '../errors.js'

/** Stable error code of every schema validation failure. */
export const SCHEMA_ERROR_CODE = 'ESCHEMA'

/**
 * A manifest, identifier or value that breaks the appc schema. The message starts with the JSON path of the
 * offending value (`app.ports[1].port: ...`) so that users can find it without a debugger.
 */
export class SchemaError extends RktError {
  override readonly name: string = 'SchemaError'
  /** JSON path of the offending value, e.g. `labels[2].value`; empty when the problem is not tied to one. */
  readonly path: string

  constructor(path: string, problem: string, options: Omit<RktErrorOptions, 'code'> = {}) {
    super(path === '' ? problem : `${path}: ${problem}`, {...options, code: SCHEMA_ERROR_CODE})
    this.path = path
  }
}

/**
 * Something the reference Go code accepts but the spec text forbids; strict mode turns it into a SchemaError.
 * `message` is the full text including the path, ready to print.
 */
export interface SchemaWarning {
  /** JSON path of the value the warning is about. */
  readonly path: string
  /** `path: problem`, ready to show to users. */
  readonly message: string
}

/** Options shared by every parse function of the schema module. */
export interface ParseOptions {
  /** Report spec violations that Go tolerates as errors instead of warnings (`actool validate --strict`). */
  readonly strict?: boolean
}
