// nspawn's side of a mutable pod (stage1-nspawn/README.md "Mutable pods"): the app/* entrypoints ask the pod's
// supervisor through its control socket (stage1-supervisor/README.md "Mutable pods"). app/add first prepares the
// app on the host as the run entrypoint prepares each app (mounts, environment, credentials, isolation,
// cgroups), then hands the supervisor the app's configuration, its cgroup descriptors, and its root: the
// container no longer receives mounts made on the host, so the prepared root reaches it through nspawn's
// propagation directory (/run/host/incoming, `machinectl bind`'s route).
import fs from 'node:fs'
import path from 'node:path'

import {
  appDir,
  applyLimits,
  createPodCgroups,
  type LoadedPod,
  loadPod,
  mount,
  MNT_DETACH,
  MS,
  openAppFds,
  parseAppArgv,
  podApp,
  PodPaths,
  recordedCgroupHost,
  RktError,
  umount2,
  unixRequest,
  type Warn,
} from '@rkt/core/stage1'

import {prepareAddedApp} from '@rkt/stage1-supervisor/apps'
import {hostBoundingSet} from '@rkt/stage1-supervisor/capabilities'
import {writeAppConf} from '@rkt/stage1-supervisor/config'
import {applyMountPlan} from '@rkt/stage1-supervisor/mount-plan'

import {propagateDir} from './nspawn.js'

/** Where the container sees what the host binds into the machine's propagation directory. */
const INCOMING = '/run/host/incoming'

/** One request to the supervisor; its `error …` answer becomes an error naming the problem. */
export function ask(paths: PodPaths, verb: string, app: string, fds: readonly number[] = []): void {
  let answer: string
  try {
    answer = unixRequest(paths.rktDir, PodPaths.CONTROL_SOCKET, `${verb} ${app}\n`, fds)
  } catch (err) {
    throw new RktError(`cannot reach the supervisor of the pod: is it a running mutable pod?`, {
      cause: err,
      code: 'ENOTRUNNING',
      hint: 'apps are added to pods started with rkt app sandbox; see the pods with rkt list',
    })
  }
  if (answer === 'ok\n') return
  const message = answer.replace(/^error /, '').trim() || 'the supervisor closed the connection without answering'
  throw new RktError(message, {code: 'EAPP'})
}

/** The pod of an app/* entrypoint (the working directory) and its app name. */
export function appRequest(argv: readonly string[]): {pod: LoadedPod; app: string} {
  const {app} = parseAppArgv(argv)
  const root = process.cwd()
  return {pod: loadPod(root, path.basename(root)), app}
}

/** The app's prepared root, as the host binds it for the container: `<propagate dir>/<app>`. */
const incomingDir = (pod: LoadedPod, app: string): string => path.join(propagateDir(pod.uuid), app)

/**
 * app/add: the app (already in the pod manifest, its rootfs mounted by stage0) prepared and handed over. On
 * failure nothing stays: the binds, the app's configuration and cgroups go (the descriptors close with us).
 */
export function addApp(pod: LoadedPod, name: string, warn: Warn): void {
  const app = podApp(pod, name)
  const appWarn = (m: string): void => warn(`app ${name}: ${m}`)
  const prepared = prepareAddedApp(pod, app, hostBoundingSet(), warn)
  const incoming = incomingDir(pod, name)
  try {
    applyMountPlan(app.rootfs, prepared.mounts, undefined, appWarn)
    const host = recordedCgroupHost(pod.paths, pod.uuid, warn)
    createPodCgroups(host, pod.uuid, [name])
    applyLimits(host, pod.uuid, name, prepared.isolation.limits, appWarn)
    const opened = openAppFds(host, pod.uuid, name)
    const fds = [...opened.procs, ...(opened.oom === undefined ? [] : [opened.oom])]
    const number = (fd: number): number => 3 + fds.indexOf(fd)
    fs.mkdirSync(incoming, {recursive: true, mode: 0o700})
    mount(app.rootfs, incoming, null, MS.BIND | MS.REC)
    writeAppConf(pod.paths.addedAppConf(name), {
      ...prepared.conf,
      root: path.join(INCOMING, name),
      cgroupFds: opened.procs.map(number),
      oomFds: opened.oom === undefined ? [] : [number(opened.oom)],
    })
    ask(pod.paths, 'add', name, fds)
  } catch (err) {
    forgetApp(pod, name)
    throw err
  }
}

/** What app/add made on the host for the app, undone (app/rm, or a failed add): its bind, conf and cgroups. */
export function forgetApp(pod: LoadedPod, name: string): void {
  const incoming = incomingDir(pod, name)
  if (fs.existsSync(incoming)) {
    try {
      umount2(incoming, MNT_DETACH)
    } catch {
      // not mounted: the add failed before
    }
    fs.rmSync(incoming, {recursive: true, force: true})
  }
  fs.rmSync(pod.paths.addedAppConf(name), {force: true})
  const host = recordedCgroupHost(pod.paths, pod.uuid, () => {})
  for (const h of host.hierarchies) {
    try {
      fs.rmdirSync(appDir(h, pod.uuid, name))
    } catch {
      // gone already, or never made; gc removes the pod's cgroups anyway
    }
  }
}
