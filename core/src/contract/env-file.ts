// An app's env file (PodPaths.appEnv): the environment an engine's run gives the app, one NAME=value per
// line, read back by its enter so `rkt enter` runs commands with the app's environment.
import fs from 'node:fs'
import path from 'node:path'

import {RktError} from '../errors.js'

/** Writes the env file of an app (one NAME=value per line), as rkt's stage1 does for `rkt enter`. */
export function writeEnvFile(file: string, env: readonly string[]): void {
  // One variable per line: a value with a newline would be read back as two variables.
  const bad = env.find((e) => e.includes('\n') || e.includes('\0'))
  if (bad !== undefined) {
    throw new RktError(`environment variable ${bad.split('=')[0]} has a newline or NUL byte in its value`, {
      hint: 'such values cannot be passed to the app; remove them from the image or the --set-env/--environment flags',
    })
  }
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o755})
  fs.writeFileSync(file, env.map((e) => `${e}\n`).join(''), {mode: 0o600})
}

/** Reads an env file back. */
export function readEnvFile(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
}
