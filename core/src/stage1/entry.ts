// The shape of a stage1 entrypoint written with this SDK: a bundle that exports `main(argv)`, which returns
// the exit status. stage0 runs such a bundle in its own process (no second Node start) with the contract's
// argv, environment and working directory; executed directly (`#!/usr/bin/env node`), the bundle's footer
// calls main itself. Any other executable works as an entrypoint too: it is simply exec'd.
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {exitCodeOf, formatError} from '../errors.js'
import {setDistDir} from '../sys/dist.js'

/** An entrypoint's main function. */
export type EntrypointMain = (argv: string[]) => Promise<number>

/**
 * Wraps an entrypoint: points the SDK's native helpers at the stage1 rootfs the bundle lives in
 * (`<rootfs>/native/rktsys.node`), and turns any error into rkt's message (`<name>: …`, the cause chain
 * with --debug) and exit status (254 unless the error says otherwise).
 */
export function entrypoint(
  name: string,
  moduleUrl: string,
  fn: (argv: string[]) => number | Promise<number>,
): EntrypointMain {
  return async (argv) => {
    setDistDir(path.dirname(fileURLToPath(moduleUrl)))
    try {
      return await fn(argv)
    } catch (err) {
      process.stderr.write(`${name}: ${formatError(err, argv.includes('--debug'))}\n`)
      return exitCodeOf(err)
    }
  }
}
