// Where the build put its artifacts (native addon, CLI bundles, stage1 images). Found at run time, never
// baked in at build time: a V8 snapshot would otherwise carry the path of the machine that built it.
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

let distDir: string | undefined

/** Called by a CLI entry point that knows where it was started from (bundle or snapshot). */
export function setDistDir(dir: string): void {
  distDir = path.resolve(dir)
}

/** The `core/dist` directory of this installation. */
export function getDistDir(): string {
  // Unset only when not started through a CLI entry: the ESM build (tests) with this module in
  // <dist>/sys/, or the TypeScript sources run by tsx (<core>/src/sys/), whose artifacts are in <core>/dist.
  if (distDir === undefined) {
    const up = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
    distDir = path.basename(up) === 'src' ? path.join(path.dirname(up), 'dist') : up
  }
  return distDir
}

/**
 * How to start one of this installation's CLIs as a subprocess: its launcher (`<dist>/bin/launch`, which
 * picks the CLI by argv[0] and starts it from its snapshot), else Node on its bundle.
 */
export function cliCommand(name: 'rkt' | 'actool' | 'docker2aci'): {file: string; args?: string[]; argv0?: string} {
  const launch = path.join(getDistDir(), 'bin', 'launch')
  if (fs.existsSync(launch)) return {file: launch, argv0: name}
  return {file: process.execPath, args: [path.join(getDistDir(), 'cli', `${name}.cjs`)]}
}
