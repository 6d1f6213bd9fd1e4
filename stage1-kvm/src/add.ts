// Apps added to a running kvm pod (`rkt app add`, docs/stage1.md "Apps added to a running pod"): microvm
// has no device hotplug, so an added app's root is a raw ext4 file in the guest's root (the pod's stage1
// rootfs, shared over 9p) at /kvm/added/<app>.img, which the guest's init loop-mounts on
// /opt/stage2/<app>/rootfs when the agent asks it to (an 'M' request, stage1-kvm/native/kvm-init.c).
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {type PodPaths, RktError} from '@rkt/core/stage1'

import {makeExt4} from './disk.js'
import {Deframer, frame} from './enter.js'
import {KvmPaths} from './paths.js'

const APP_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/
/** How long the guest may take to answer (a loop mount under TCG takes well under a second). */
const ANSWER_MS = 60_000

/**
 * Makes the disk of app `app` from `tree` (its rootfs as it must start) and has the running guest mount it on
 * /opt/stage2/<app>/rootfs. Throws, with the guest's message, when the guest cannot.
 */
export async function addAppDisk(pod: PodPaths, app: string, tree: string): Promise<void> {
  if (!APP_NAME.test(app)) throw new RktError(`invalid app name ${JSON.stringify(app)}`, {hint: 'e.g. my-app2'})
  const rel = KvmPaths.addedDiskInGuest(app)
  const dir = openGuestDir(pod.stage1Rootfs, path.dirname(rel))
  try {
    // Made under a temporary name beside its place (the stage1 rootfs is a file system of its own: an
    // overlay), through a descriptor of a file created here, then renamed into place.
    const tmp = `/proc/self/fd/${dir}/.${path.basename(rel)}.tmp`
    fs.rmSync(tmp, {force: true})
    const fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o644,
    )
    try {
      // Through the descriptor: never a path the guest could redirect.
      makeExt4(tree, fd)
    } catch (err) {
      fs.rmSync(tmp, {force: true})
      throw err
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, `/proc/self/fd/${dir}/${path.basename(rel)}`)
  } finally {
    fs.closeSync(dir)
  }
  // The mount point too: the guest's root is read-only to the guest once the supervisor runs.
  fs.closeSync(openGuestDir(pod.stage1Rootfs, path.relative(pod.stage1Rootfs, pod.appRootfs(app))))
  await agentRequest(path.join(pod.root, KvmPaths.agentSocket), 'M', [app, rel])
}

/**
 * Opens (making it if needed) the directory `rel` under `root`, a tree the guest writes (9p): each component
 * without following a symlink, through /proc/self/fd, so a link the guest planted never sends the host's
 * writes elsewhere. Returns its descriptor.
 */
function openGuestDir(root: string, rel: string): number {
  const flags = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW
  let dir = fs.openSync(root, flags)
  try {
    for (const name of rel.split('/')) {
      const at = `/proc/self/fd/${dir}/${name}`
      try {
        fs.mkdirSync(at, {mode: 0o755})
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const next = fs.openSync(at, flags)
      fs.closeSync(dir)
      dir = next
    }
    return dir
  } catch (err) {
    fs.closeSync(dir)
    throw new RktError(`cannot make /${rel} in the pod's stage1 root: ${(err as Error).message}`, {
      hint: 'the guest may have put something else there',
    })
  }
}

/** Sends one request to the guest's agent (NUL-terminated tokens) and waits for its exit code: 0, or throws. */
async function agentRequest(socketPath: string, type: string, tokens: readonly string[]): Promise<void> {
  const socket = net.connect(socketPath)
  try {
    const answer = await new Promise<{code: number; errors: string}>((resolve, reject) => {
      let errors = ''
      const deframer = new Deframer()
      socket.once('connect', () => socket.write(frame(type, tokens.map((t) => `${t}\0`).join(''))))
      socket.on('data', (chunk: Buffer) => {
        for (const f of deframer.push(chunk)) {
          if (f.type === 'e') errors += f.payload.toString()
          else if (f.type === 'X') resolve({code: Number(f.payload.toString()), errors})
        }
      })
      // A guest whose init has no such request drops it without a word: do not wait for ever.
      const timer = setTimeout(
        () => reject(new RktError(`the pod's VM did not answer the '${type}' request within ${ANSWER_MS / 1000} s`)),
        ANSWER_MS,
      )
      socket.once('close', () => clearTimeout(timer))
      socket.once('error', (err) => reject(new RktError(`the pod's VM agent does not answer: ${err.message}`)))
      socket.once('close', () => reject(new RktError("the pod's VM went away during the request")))
    })
    if (answer.code !== 0) throw new RktError(`the guest refused: ${answer.errors.trim()}`)
  } finally {
    socket.destroy()
  }
}
