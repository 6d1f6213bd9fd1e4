// The test images made of Debian's packages (scripts/test-images.mjs owns them): built once per machine into
// the machine cache, the first time minutes, then found at once. The build's progress goes to stderr.
import {execa} from 'execa'
import path from 'node:path'

import {ROOT} from './harness.js'

export type DebianImage = 'postgres' | 'flask' | 'nginx'

/** The image's name in its manifest. */
export const debianImageName = (name: DebianImage): string => `rkt-ts.test/debian-${name}`

/** The image's ACI in the machine cache, built first if missing. */
export async function debianImage(name: DebianImage): Promise<string> {
  const r = await execa(process.execPath, [path.join(ROOT, 'scripts', 'test-images.mjs'), name], {
    reject: false,
    stdin: 'ignore',
    stderr: 'inherit',
  })
  if (r.exitCode !== 0) throw new Error(`test image ${name} could not be built (scripts/test-images.mjs, above)`)
  return String(r.stdout).trim().split(' ')[1]!
}
