// Apps added to a running kvm pod (`rkt app add`, docs/stage1.md "Apps added to a running pod"; stage1-kvm/README.md
// "Mutable pods"): microvm has no device hotplug, so an added app's root is a raw ext4 file in the guest's root
// (the pod's stage1 rootfs, shared over 9p) at /kvm/added/<app>.img, which the guest's init loop-mounts on
// /opt/stage2/<app>/rootfs when the agent asks it to (an 'M' request, stage1-kvm/native/kvm-init.c); then the
// app's set-up script (its cgroup, its mounts) and configuration are written beside it, and a 'C' request has the
// guest's init run the script and hand the app, with its cgroup's descriptors, to the supervisor.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {podApp, type LoadedPod, type PodPaths, RktError} from '@rkt/core/stage1'
import {prepareAddedApp} from '@rkt/stage1-supervisor/apps'
import {writeAppConf} from '@rkt/stage1-supervisor/config'

import {makeExt4} from './disk.js'
import {Deframer, frame} from './enter.js'
import {addedAppScript, GUEST_BOUNDING, guestAppCgroup} from './guest.js'
import {addedAppMounts, addedVolsDir} from './guest-mounts.js'
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
  // Through a descriptor: never a path the guest could redirect.
  placeGuestFile(pod.stage1Rootfs, KvmPaths.addedDiskInGuest(app), (fd) => makeExt4(tree, fd))
  // The mount point too: the guest's root is read-only to the guest once the supervisor runs.
  fs.closeSync(openGuestDir(pod.stage1Rootfs, path.relative(pod.stage1Rootfs, pod.appRootfs(app))))
  await agentRequest(path.join(pod.root, KvmPaths.agentSocket), 'M', [app, KvmPaths.addedDiskInGuest(app)])
}

/**
 * Adds app `name` (stage0 has put it in the pod manifest and prepared its rootfs) to the running mutable pod:
 * prepares it as run prepares the pod's apps, gives it its disk, writes its set-up script and its configuration,
 * and has the guest add it to the supervisor (which does not start it: `app/start` does).
 */
export async function addApp(pod: LoadedPod, name: string, warn: (m: string) => void): Promise<void> {
  const app = podApp(pod, name)
  const prepared = prepareAddedApp(pod, app, GUEST_BOUNDING, warn)
  const kvm = new KvmPaths(pod.paths)
  // Refused (a host volume) before the guest sees anything.
  const script = addedAppScript({name, limits: prepared.isolation.limits}, addedAppMounts(kvm, prepared, warn))
  try {
    await addAppDisk(pod.paths, name, app.rootfs)
    placeGuestFile(pod.paths.stage1Rootfs, KvmPaths.addedScriptInGuest(name), (fd) => fs.writeSync(fd, script))
    // The descriptors the guest's init sends with the request, in this order (kvm-init.c agent_control).
    fs.mkdirSync(pod.paths.addedAppsDir, {recursive: true, mode: 0o755})
    writeAppConf(pod.paths.addedAppConf(name), {...prepared.conf, cgroupFds: [3], oomFds: [4]})
    // A failed add is undone in the guest (its mounts, its cgroup) by the guest's init.
    await controlApp(pod.paths, 'add', name)
  } catch (err) {
    removeAdded(pod.paths, name)
    throw err
  }
}

/**
 * Relays `VERB APP` to the guest's supervisor through the agent (a 'C' request, kvm-init.c agent_control): add
 * (from addApp), start, stop, rm. After rm, the guest detaches the app's root and volumes and removes its cgroup,
 * and the host deletes what add wrote in the guest's root. Throws with the supervisor's message when it refuses.
 */
export async function controlApp(pod: PodPaths, verb: 'add' | 'start' | 'stop' | 'rm', app: string): Promise<void> {
  if (!APP_NAME.test(app)) throw new RktError(`invalid app name ${JSON.stringify(app)}`, {hint: 'e.g. my-app2'})
  const mounts = [`/${path.relative(pod.stage1Rootfs, pod.appRootfs(app))}`, addedVolsDir(app)]
  const args = verb === 'add' ? [`/${KvmPaths.addedScriptInGuest(app)}`, ...mounts] : verb === 'rm' ? mounts : []
  try {
    await agentRequest(path.join(pod.root, KvmPaths.agentSocket), 'C', [verb, app, guestAppCgroup(app), ...args])
  } catch (err) {
    if (!(err instanceof RktError)) throw err
    throw new RktError(`cannot ${verb} app ${app}: ${err.message}`, {code: 'ECONTROL'})
  }
  if (verb === 'rm') removeAdded(pod, app)
}

/** What add wrote in the guest's root for an added app: its disk, its set-up script, its configuration. */
function removeAdded(pod: PodPaths, app: string): void {
  const kvm = new KvmPaths(pod)
  for (const f of [kvm.addedDisk(app), kvm.addedScript(app), pod.addedAppConf(app)]) fs.rmSync(f, {force: true})
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

/**
 * Makes file `rel` under `root` (a tree the guest writes) with `write` given its descriptor: under a temporary
 * name beside its place (the stage1 rootfs is a file system of its own: an overlay), then renamed into place.
 */
function placeGuestFile(root: string, rel: string, write: (fd: number) => void): void {
  const dir = openGuestDir(root, path.dirname(rel))
  try {
    const tmp = `/proc/self/fd/${dir}/.${path.basename(rel)}.tmp`
    fs.rmSync(tmp, {force: true})
    const fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      // Root's alone: with rkt install the rkt group may walk the stage1 rootfs, never read an app's files.
      0o600,
    )
    try {
      write(fd)
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
    // The guest's message (kvm-init.c session_fail), or the supervisor's answer to a control request.
    if (answer.code !== 0) throw new RktError(answer.errors.trim() || `the guest's agent failed (${answer.code})`)
  } finally {
    socket.destroy()
  }
}
