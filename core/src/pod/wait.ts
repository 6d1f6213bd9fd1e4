// `rkt status --wait` and `--wait-ready` (rkt's pkg/pod/wait.go): poll every 100 ms until the pod has
// finished, or its stage1 says it is ready, or the time is up.
import {setTimeout as sleep} from 'node:timers/promises'

import type {Pod} from './pods.js'

import {RktError} from '../errors.js'

/** How long to wait: 0 = not at all, Infinity = for ever. */
export interface WaitOptions {
  readonly readyMs: number
  readonly finishedMs: number
}

const POLL_MS = 100

async function poll(what: string, ms: number, done: () => boolean): Promise<void> {
  if (ms <= 0 || done()) return
  const deadline = Date.now() + ms
  for (;;) {
    await sleep(POLL_MS)
    if (done()) return
    if (Date.now() >= deadline) {
      throw new RktError(`timed out waiting for the pod ${what}`, {
        code: 'ETIMEDOUT',
        hint: 'wait longer, or check rkt status',
      })
    }
  }
}

/** Waits for readiness, then for the end, as asked. */
export async function waitPod(pod: Pod, opts: WaitOptions): Promise<void> {
  await poll('to be ready', opts.readyMs, () => {
    if (!pod.refresh()) throw new RktError(`pod ${pod.uuid} is gone`, {hint: 'rkt gc or rm removed it'})
    if (pod.isSupervisorReady()) return true
    // A pod that can no longer become ready must not keep its caller waiting for ever.
    if (pod.isFinished()) throw new RktError(`pod ${pod.uuid} finished without becoming ready (it is ${pod.state()})`)
    return false
  })
  await poll('to finish', opts.finishedMs, () => !pod.refresh() || pod.isFinished())
}
