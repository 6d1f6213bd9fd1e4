// Images carry no device nodes: the runtime provides /dev, and a node in an image would hand its apps
// whatever device it names. One rule, one message, wherever an image is made (actool build, rkt export) or
// taken in (fetch, extraction), so an image actool builds is never one rkt refuses later.
import {RktError} from '../errors.js'

/** The refusal of the device node `entry` (its name in the archive, `rootfs/dev/null`). */
export function deviceNodeError(entry: string, kind: 'char' | 'block', major: number, minor: number): RktError {
  return new RktError(
    `invalid image: ${entry} is a ${kind === 'char' ? 'character' : 'block'} device (${major}:${minor}): device nodes are not allowed`,
    {
      code: 'EBADACI',
      hint: `the runtime provides /dev: remove ${entry} from the image layout and build the image again`,
    },
  )
}
