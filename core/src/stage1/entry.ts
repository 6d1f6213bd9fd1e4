// The shape of a stage1 entrypoint written with this SDK: a bundle that exports `main(argv)`, which returns
// the exit status. stage0 runs such a bundle in its own process (no second Node start) with the contract's
// argv, environment and working directory; executed directly (`#!/usr/bin/env node`), the bundle's footer
// calls main itself. Any other executable works as an entrypoint too: it is simply exec'd.
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {ENV} from '../contract/entrypoints.js'
import {exitCodeOf, formatError, RktError} from '../errors.js'
import {setDistDir} from '../sys/dist.js'

/** An entrypoint's main function. */
export type EntrypointMain = (argv: string[]) => Promise<number>

/** Says something the user should know that does not stop the entrypoint (`<name>: warning: …` on stderr). */
export type Warn = (message: string) => void

/**
 * Wraps an entrypoint: points the SDK's native helpers at the stage1 rootfs the bundle lives in
 * (`<rootfs>/native/rktsys.node`), hands `fn` a warn function that names the entrypoint, and turns any error
 * into rkt's message (`<name>: …`, the cause chain with --debug) and exit status (254 unless the error says
 * otherwise).
 */
export function entrypoint(
  name: string,
  moduleUrl: string,
  fn: (argv: string[], warn: Warn) => number | Promise<number>,
): EntrypointMain {
  const warn: Warn = (m) => void process.stderr.write(`${name}: warning: ${m}\n`)
  // The bundle of `app/add` is `<rootfs>/app/add.cjs`: the rootfs is as many levels up as the name has.
  const up = name.split('/').map(() => '..')
  return async (argv) => {
    setDistDir(path.resolve(fileURLToPath(moduleUrl), ...up))
    try {
      return await fn(argv, warn)
    } catch (err) {
      process.stderr.write(`${name}: ${formatError(err, argv.includes('--debug'))}\n`)
      return exitCodeOf(err)
    }
  }
}

/**
 * The pod lock's descriptor stage0 passed (ENV.lockFd): the run entrypoint, or whatever it execs, keeps it
 * for the pod's whole life. An error when it is missing: `stage1` (as messages name it: "the bwrap stage1")
 * was started by something other than rkt.
 */
export function podLockFd(stage1: string): number {
  const fd = Number(process.env[ENV.lockFd])
  if (!Number.isInteger(fd) || fd < 0)
    throw new RktError(`${ENV.lockFd} is not set: ${stage1} must be started by rkt`, {code: 'ECONTRACT'})
  return fd
}
