// What a pod started by a systemd unit gets from it (docs/stage1.md "Under systemd"): the unit's listening sockets
// (socket activation: LISTEN_FDS descriptors at 3, 4, …, for the process LISTEN_PID names) and its notification
// socket (NOTIFY_SOCKET, where Type=notify units say READY=1).
import fs from 'node:fs'

import {RktError} from '../errors.js'
import type {App, ImageManifest} from '../schema/index.js'

/** The image annotation of an app that says READY=1 on NOTIFY_SOCKET itself (appc's executor spec). */
export const NOTIFY_ANNOTATION = 'appc.io/executor/supports-systemd-notify'

/** Where an app whose image has NOTIFY_ANNOTATION finds its notification socket (systemd's own path). */
export const APP_NOTIFY_SOCKET = '/run/systemd/notify'

/** The unit's listening sockets handed to this process: descriptors 3 … 3+count-1, with their names. */
export interface ListenFds {
  readonly count: number
  /** LISTEN_FDNAMES as given (colon-separated), or undefined. */
  readonly names: string | undefined
}

/** The first descriptor of socket activation (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3

/**
 * The sockets systemd passed to process `pid`, or undefined when none were (no LISTEN_FDS, or LISTEN_FDS meant for
 * another process, as sd_listen_fds(3) reads them). A count that names descriptors this process does not have is
 * refused: the pod would start without the sockets its unit was meant to give it.
 */
export function listenFds(env: NodeJS.ProcessEnv, pid: number): ListenFds | undefined {
  const fds = env['LISTEN_FDS']
  if (fds === undefined || env['LISTEN_PID'] !== String(pid)) return undefined
  const count = /^[0-9]{1,4}$/.test(fds) ? Number(fds) : NaN
  if (!(count >= 0 && count <= 1024)) {
    throw new RktError(`LISTEN_FDS="${fds}" is not a number of descriptors`, {
      code: 'ELISTENFDS',
      hint: 'start rkt from a systemd socket unit (or systemd-socket-activate), which sets LISTEN_FDS and LISTEN_PID',
    })
  }
  for (let fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + count; fd++) {
    try {
      fs.fstatSync(fd)
    } catch {
      throw new RktError(`LISTEN_FDS=${count} but descriptor ${fd} is not open`, {
        code: 'ELISTENFDS',
        hint: 'the process that started rkt closed the sockets it announced; start rkt directly from the socket unit',
      })
    }
  }
  return count === 0 ? undefined : {count, names: env['LISTEN_FDNAMES']}
}

/** Refuses socket activation for an engine that cannot hand the sockets to its apps (exit 254, naming the fix). */
export function refuseListenFds(engine: string, env: NodeJS.ProcessEnv, pid: number): void {
  if (listenFds(env, pid) === undefined) return
  throw new RktError(
    `socket activation is not supported by the ${engine} stage1: its apps cannot get the unit's sockets`,
    {
      code: 'EUNSUPPORTED',
      hint: 'run socket-activated pods with the nspawn (default) or fly stage1, or drop the unit’s .socket',
    },
  )
}

/**
 * The apps that get the pod's listening sockets: the only app of a one-app pod, else every app whose image declares
 * a port with `socketActivated: true` (as rkt chose them).
 */
export function socketActivatedApps(apps: readonly {readonly name: string; readonly app: App}[]): Set<string> {
  if (apps.length === 1) return new Set([apps[0]!.name])
  return new Set(apps.filter((a) => a.app.ports.some((p) => p.socketActivated)).map((a) => a.name))
}

/** True when the app's image says READY=1 itself (NOTIFY_ANNOTATION is "true"). */
export function supportsNotify(image: Pick<ImageManifest, 'annotations'>): boolean {
  return image.annotations.some((a) => a.name === NOTIFY_ANNOTATION && a.value === 'true')
}
