// A pod's cgroups over its life, for engines whose apps run as processes of the host (fly, bwrap): run makes
// them with their limits, stop signals the apps in them, gc kills what is left, undoes run's mounts and removes
// them. Engines with more to undo (a supervisor, networks) compose the steps of cgroups.ts themselves.
import type {PodPaths} from '../contract/paths.js'
import type {Warn} from './entry.js'
import type {LoadedPod} from './pod.js'

import {unmountEngineMounts} from './binds.js'
import {
  appCgroups,
  applyLimits,
  collectPodCgroups,
  createPodCgroups,
  detectCgroups,
  enterPodCgroups,
  killPod,
  recordedPodCgroups,
  recordPodCgroups,
  releasePodCgroups,
  signalCgroups,
  type CgroupHost,
} from './cgroups.js'
import {limitsOf, podLimits} from './limits.js'

/**
 * Makes the pod's cgroups, one per app, with the pod's and each app's memory and CPU limits, and moves `pid`
 * (the run entrypoint) into the pod's own; the apps' are for the processes the engine starts to join.
 * Recorded first, so gc finds them whatever fails next.
 */
export function setUpPodCgroups(pod: LoadedPod, warn: Warn, pid: number = process.pid): CgroupHost {
  const host = detectCgroups()
  recordPodCgroups(pod.paths.cgroups, host, pod.uuid)
  createPodCgroups(
    host,
    pod.uuid,
    pod.apps.map((a) => a.name),
  )
  enterPodCgroups(host, pod.uuid, pid)
  applyLimits(host, pod.uuid, undefined, podLimits(pod.manifest.isolators, warn), warn)
  for (const app of pod.apps) {
    const appWarn: Warn = (m) => warn(`app ${app.name}: ${m}`)
    applyLimits(host, pod.uuid, app.name, limitsOf(app.app.isolators, appWarn), appWarn)
  }
  return host
}

/**
 * stop: SIGTERM to every process in the apps' cgroups, or with `force` SIGKILL until they are gone. False
 * when the pod recorded none (run on a host without cgroups): the engine must find its processes otherwise.
 */
export async function stopPodApps(paths: PodPaths, uuid: string, force: boolean, warn: Warn): Promise<boolean> {
  const apps = appCgroups(recordedPodCgroups(paths, uuid, warn))
  if (apps.length === 0) return false
  if (force) await killPod(apps)
  else signalCgroups(apps, 'SIGTERM')
  return true
}

/**
 * gc: kills whatever is left in the pod's cgroups (the engine's own processes too, should its run have been
 * killed), unmounts what run mounted under the stage1 rootfs, then removes the cgroups; stage0 does the rest.
 */
export async function gcPod(paths: PodPaths, uuid: string, warn: Warn): Promise<void> {
  const cgroups = await collectPodCgroups(paths, uuid, warn)
  unmountEngineMounts(paths)
  await releasePodCgroups(cgroups)
}
