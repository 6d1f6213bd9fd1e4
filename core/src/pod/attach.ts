// `rkt attach [--app=NAME] [--mode=MODE] UUID`: the pod's stage1 attach entrypoint, with rkt's argv, joins the
// user's stdin, stdout and stderr to the app's attach endpoints (apps run with rkt's `stream` stdio mode). A bad
// --mode exits 254, as rkt's did.
import type {Globals} from '../config/globals.js'

import {attachArgv, type AttachArgs} from '../contract/entrypoints.js'
import {RktError} from '../errors.js'
import {mustBeRunning, podAppName} from './enter.js'
import {PodStore} from './pods.js'
import {becomeEntrypoint, podStage1} from './stage1-image.js'

/** rkt's --mode: `list`, `auto` (the default), or the endpoints (`tty`, `tty-in`, `tty-out`, `stdin,stdout,stderr`). */
export function attachMode(mode: string, app: string, debug: boolean): AttachArgs {
  if (mode === 'list') return {action: 'list', app, debug}
  if (mode === 'auto' || mode === '') return {action: 'auto-attach', app, debug}
  const e = {ttyIn: false, ttyOut: false, stdin: false, stdout: false, stderr: false}
  for (const m of mode.split(',')) {
    if (m === 'tty') e.ttyIn = e.ttyOut = true
    else if (m === 'tty-in') e.ttyIn = true
    else if (m === 'tty-out') e.ttyOut = true
    else if (m === 'stdin' || m === 'stdout' || m === 'stderr') e[m] = true
    else
      throw new RktError(`--mode: unknown endpoint "${m}"`, {
        hint: 'list, auto, tty, tty-in, tty-out, or some of stdin,stdout,stderr',
      })
  }
  if ((e.ttyIn || e.ttyOut) && (e.stdin || e.stdout || e.stderr))
    throw new RktError(`--mode: "${mode}" mixes a terminal and streams`, {
      hint: 'attach to a terminal or to streams, not both',
    })
  return {action: 'custom-attach', app, debug, ...e}
}

export async function attachPod(
  globals: Globals,
  uuid: string,
  app: string | undefined,
  mode: string,
): Promise<number> {
  const pod = new PodStore(globals.dir).find(uuid)
  mustBeRunning(pod)
  const args = attachMode(mode, podAppName(pod, app, 'attach to'), globals.debug === true)
  const entry = podStage1(pod).entrypoint('attach')
  if (!entry) {
    throw new RktError(`the stage1 of pod ${pod.uuid} cannot attach to apps (it has no attach entrypoint)`, {
      code: 'ENOATTACH',
      hint: 'read its output with: rkt logs --follow',
    })
  }
  return becomeEntrypoint(entry, attachArgv(args), pod.path)
}
