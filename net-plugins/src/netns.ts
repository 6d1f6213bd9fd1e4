// The pod's network namespace, made on the host before the pod starts and kept alive by a bind mount on a
// file in the pod directory (the pod's `netns`), so the plugins, nspawn and gc can all name it by path even
// after every process of the pod is gone (SIGKILL included). util-linux's `unshare --net=FILE true` makes
// it without a daemon: the namespace outlives `true` through the bind mount.
import {execa} from 'execa'
import fs from 'node:fs'
import path from 'node:path'

import {MNT_DETACH, readMountinfo, RktError, umount2} from '@rkt/core/stage1'

/** Whether a namespace is bind-mounted on the file (a plain file is not a namespace). */
export function isNetnsMounted(file: string): boolean {
  const at = path.resolve(file)
  return readMountinfo().some((m) => m.mountPoint === at && m.fsType === 'nsfs')
}

/** Creates a fresh network namespace bound on `file`. */
export async function createNetns(file: string): Promise<void> {
  fs.writeFileSync(file, '', {mode: 0o444, flag: 'wx'})
  const r = await execa('unshare', [`--net=${file}`, 'true'], {reject: false, stdin: 'ignore'})
  if (r.exitCode !== 0) {
    fs.rmSync(file, {force: true})
    throw new RktError(`cannot create the pod's network namespace: ${String(r.stderr).trim() || r.shortMessage}`, {
      code: 'ENETNS',
      hint: 'rkt must run as root, with util-linux’s unshare on PATH (Debian: util-linux)',
    })
  }
}

/** Unmounts and removes the namespace file; nothing to do when it is already gone. */
export function removeNetns(file: string): void {
  try {
    umount2(file, MNT_DETACH)
  } catch (err) {
    // not mounted (a run that failed before the bind) or already unmounted
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err
  }
  fs.rmSync(file, {force: true})
}
