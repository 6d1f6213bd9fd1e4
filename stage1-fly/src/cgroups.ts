// fly's cgroups. fly isolates nothing, but each pod still gets cgroups of its own on the host (the layout
// nspawn's pods have, core/src/stage1/cgroups.ts): the app and everything it starts stay in them, so that
// fly-exec can kill whatever is left when the app exits, before the pod reads as exited (a process that
// outlived its pod could still be changing the pod's files while rkt deletes them), `rkt stop` reaches them
// all, and the memory and CPU limits users ask for (Nomad always does) are enforced. An app that is root
// with the host's capabilities can move itself out of any cgroup: fly cannot hold such an app.
import path from 'node:path'

import {appDir, hierarchyFor, setUpPodCgroups, type LoadedPod, type PodApp, type Warn} from '@rkt/core/stage1'

/** The isolators fly applies (as cgroup limits); every other one is named as ignored. */
const APPLIED = new Set(['resource/memory', 'resource/cpu', 'os/linux/cpu-shares'])

/** What fly-exec gets: the app's cgroup in each hierarchy, and where its memory cgroup counts OOM kills. */
export interface AppCgroups {
  readonly dirs: readonly string[]
  readonly oom?: string
}

/**
 * Creates the pod's cgroups with their limits and moves this process (fly-exec to be) into the pod's; the
 * app's own are for fly-exec's child to join (the SDK's setUpPodCgroups).
 */
export function makePodCgroups(pod: LoadedPod, app: PodApp, warn: Warn): AppCgroups {
  for (const i of app.app.isolators)
    if (!APPLIED.has(i.name)) warn(`app ${app.name}: isolator ${i.name} ignored: the fly stage1 does not isolate apps`)
  const host = setUpPodCgroups(pod, warn)
  const memory = hierarchyFor(host, 'memory')
  const oom =
    memory &&
    path.join(appDir(memory, pod.uuid, app.name), memory.version === 1 ? 'memory.oom_control' : 'memory.events')
  return {dirs: host.hierarchies.map((h) => appDir(h, pod.uuid, app.name)), ...(oom ? {oom} : {})}
}
