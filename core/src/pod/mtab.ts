// /etc/mtab in every app: a symlink to /proc/self/mounts, made by stage0 for every engine when the image has
// an /etc and nothing at /etc/mtab (rkt's stage0 did the same: mount(8) and df of older util-linux read it).
// An image's own /etc/mtab is kept; an image without /etc gets none.
import fs from 'node:fs'
import path from 'node:path'

import type {IdRange} from '../contract/id-range.js'

import {wrap} from '../errors.js'
import {hostPathInRoot} from '../stage1/root-path.js'

/** Links `<rootfs>/etc/mtab` (its /etc resolved inside the root: it may be an image's symlink). */
export function linkMtab(rootfs: string, range?: IdRange): void {
  const etc = hostPathInRoot(rootfs, '/etc')
  if (fs.lstatSync(etc, {throwIfNoEntry: false})?.isDirectory() !== true) return
  const link = path.join(etc, 'mtab')
  try {
    // Absolute: it holds wherever the image's /etc really is.
    fs.symlinkSync('/proc/self/mounts', link)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    throw wrap(`cannot create /etc/mtab in ${rootfs}`, err)
  }
  // A --private-users pod's root owns what its root directory holds.
  if (range) fs.lchownSync(link, range.first, range.first)
}
