// `rkt enter` and `rkt stop`: both go through the pod's stage1 (its enter and stop entrypoints), which knows
// how to reach the pod's processes. enter becomes the entered command (same PID); stop waits until the pod
// has really exited, so that `rkt stop X && rkt rm X` works (rkt#3449), and then has the pod's stage1 gc
// entrypoint release the pod's networks, so that its forwarded host ports are free when stop returns.
import fs from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import type {Globals} from '../config/globals.js'
import type {Pod} from './pods.js'

import {RktError} from '../errors.js'
import {enterArgv, stopArgv} from '../contract/entrypoints.js'
import {podPid} from '../contract/status.js'
import {FileLock} from '../sys/lock.js'
import {stage1Gc} from './gc.js'
import {podManifestOf} from './info.js'
import {PodStore} from './pods.js'
import {becomeEntrypoint, podStage1, runEntrypoint} from './stage1-image.js'

export function mustBeRunning(pod: Pod): void {
  const state = pod.state()
  if (state !== 'running') {
    throw new RktError(`pod ${pod.uuid} is not running (it is ${state})`, {
      code: 'ENOTRUNNING',
      hint: 'see the pods with: rkt list',
    })
  }
}

/** The app --app names (it must be one of the pod's), or the pod's only app. */
export function podAppName(pod: Pod, app: string | undefined, verb: string): string {
  const apps = podManifestOf(pod)?.apps.map((a) => a.name) ?? []
  const name = app ?? (apps.length === 1 ? apps[0] : undefined)
  if (name === undefined) {
    throw new RktError(`pod ${pod.uuid} has several apps: say which to ${verb}`, {
      hint: `--app=NAME, one of: ${apps.join(', ')}`,
    })
  }
  if (!apps.includes(name))
    throw new RktError(`pod ${pod.uuid} has no app named ${name}`, {hint: `apps: ${apps.join(', ')}`})
  return name
}

/** `rkt enter [--app=NAME] UUID [CMD [ARGS…]]`: runs CMD (default /bin/bash) in the app's context. */
export async function enterPod(
  globals: Globals,
  uuid: string,
  app: string | undefined,
  command: readonly string[],
): Promise<number> {
  const pod = new PodStore(globals.dir).find(uuid)
  mustBeRunning(pod)
  const name = podAppName(pod, app, 'enter')
  // The stage1 writes pid (or ppid, whose child comes a moment later) once it starts: wait while the pod runs.
  let pid: number | undefined
  for (let i = 0; i < 100; i++) {
    pid = podPid(pod.paths)
    if (pid !== undefined) break
    if (pod.state() !== 'running') throw new RktError(`pod ${pod.uuid} exited before it could be entered`)
    await sleep(50)
  }
  if (pid === undefined) throw new RktError(`pod ${pod.uuid} has not started its app yet (no pid file after 5 s)`)
  const entry = podStage1(pod).entrypoint('enter')
  if (!entry) throw new RktError(`the stage1 of pod ${pod.uuid} cannot enter pods (no enter entrypoint)`)
  const argv = enterArgv({pid, app: name, command: command.length > 0 ? command : ['/bin/bash']})
  return becomeEntrypoint(entry, argv, pod.path)
}

/**
 * An exited pod's contained networks go now rather than at gc: its DNAT rules would otherwise keep taking the
 * traffic of its host ports from whatever binds them next. Its stage1 gc entrypoint does it, under the pod's
 * lock: it waits while gc or a new pod's port check holds the lock, and then finds their work done (no
 * net-state.json). net-info.json stays, for list and status. A failure is said, not fatal: the pod did stop,
 * and gc tries again.
 */
async function releaseNetworks(pod: Pod, globals: Globals): Promise<string | undefined> {
  if (!pod.refresh() || !fs.existsSync(pod.paths.netState)) return undefined
  let lock: FileLock
  try {
    lock = FileLock.onDir(pod.path, {exclusive: true, wait: true})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined // collected meanwhile
    throw err
  }
  const notes: string[] = []
  try {
    // gc may have moved the pod (run/ to exited-garbage/) or deleted it while we waited.
    if (!pod.refresh() || !fs.existsSync(pod.paths.netState)) return undefined
    await stage1Gc(pod, globals, (line) => notes.push(line))
    return notes.length === 0 ? undefined : notes.join('\n')
  } catch (err) {
    return `pod ${pod.uuid} stopped, but its networks could not be released (rkt gc tries again): ${(err as Error).message}`
  } finally {
    lock.release()
  }
}

/** `rkt stop [--force] UUID`: asks the stage1 to stop the pod, then waits until it has exited. */
export async function stopPod(
  globals: Globals,
  uuid: string,
  force: boolean,
): Promise<{uuid: string; alreadyStopped: boolean; warning?: string}> {
  const pod = new PodStore(globals.dir).find(uuid)
  const state = pod.state()
  const done = async (alreadyStopped: boolean) => {
    const warning = await releaseNetworks(pod, globals)
    return {uuid: pod.uuid, alreadyStopped, ...(warning === undefined ? {} : {warning})}
  }
  if (pod.isStopped(state)) return done(true)
  mustBeRunning(pod)
  const entry = podStage1(pod).entrypoint('stop')
  if (!entry) throw new RktError("rkt stop not implemented for pod's stage1", {code: 'EUNSUPPORTED'})
  const status = await runEntrypoint(entry, stopArgv({uuid: pod.uuid, force}), pod.path)
  if (status !== 0) throw new RktError(`the stage1 could not stop pod ${pod.uuid} (exit status ${status})`)
  const deadline = Date.now() + (force ? 5_000 : 30_000)
  while (pod.isLockedElsewhere()) {
    if (Date.now() > deadline) {
      throw new RktError(`pod ${pod.uuid} is still running after being asked to stop`, {
        hint: `try: rkt stop --force ${pod.uuid}`,
      })
    }
    await sleep(20)
  }
  return done(false)
}
