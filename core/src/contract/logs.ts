// Where an app's stdout and stderr are kept, and who may attach to them (docs/stage1.md "Logs and attach"): the
// engine writes there, `rkt logs` reads there, so both find the path here.
import path from 'node:path'

import type {PodManifest, RuntimeApp} from '../schema/pod-manifest.js'

import {RktError} from '../errors.js'
import type {PodPaths} from './paths.js'

/** rkt's annotations for a CRI log at a path of the orchestrator's choosing (rktlet sets them). */
export const KUBERNETES_LOG_DIR = 'coreos.com/rkt/experiment/kubernetes-log-dir'
export const KUBERNETES_LOG_PATH = 'coreos.com/rkt/experiment/kubernetes-log-path'

/** rkt's per-app stdio modes, as `rkt run --stdin/--stdout/--stderr` set them. */
export const STDIO_ANNOTATION = {
  stdin: 'coreos.com/rkt/stage2/stdin',
  stdout: 'coreos.com/rkt/stage2/stdout',
  stderr: 'coreos.com/rkt/stage2/stderr',
} as const

/** Rotation defaults: the log is rotated past LOG_MAX_BYTES, LOG_MAX_FILES files kept (the current one included). */
export const LOG_MAX_BYTES = 10 * 1024 * 1024
export const LOG_MAX_FILES = 2

/** Inside the pod's stage1 rootfs, where the engine makes the kubernetes-log-dir reachable (a bind, a 9p share). */
export const KUBERNETES_LOG_MOUNT = 'rkt/kubernetes/log'

export interface AppLogging {
  /** The log file on the host (CRI format); rotated copies are `<file>.1` … */
  readonly file: string
  /** The same file relative to the stage1 rootfs (what the pod sees, with a leading `/`). */
  readonly inPod: string
  /** The kubernetes-log-dir the engine must make reachable at KUBERNETES_LOG_MOUNT, if any. */
  readonly kubernetesDir?: string | undefined
  /** The attach endpoints' directory (host path), for an app with a `stream` stdio annotation. */
  readonly attachDir?: string | undefined
  readonly attachStdin: boolean
}

const annotation = (list: RuntimeApp['annotations'], name: string): string | undefined =>
  list.find((a) => a.name === name)?.value

/**
 * How an app's stdio is kept: its CRI log (in the pod's `rkt/logs/`, or under the pod's kubernetes-log-dir at the
 * app's kubernetes-log-path) and its attach endpoints (for rkt's `stream` mode; `tty` is refused).
 */
export function appLogging(paths: PodPaths, manifest: PodManifest, app: RuntimeApp): AppLogging {
  const dir = annotation(manifest.annotations, KUBERNETES_LOG_DIR)
  const rel = annotation(app.annotations, KUBERNETES_LOG_PATH)
  const modes = Object.entries(STDIO_ANNOTATION).map(([s, name]) => [s, annotation(app.annotations, name)] as const)
  for (const [stream, mode] of modes) {
    if (mode === 'tty') {
      throw new RktError(`app ${app.name}: --${stream}=tty is not supported`, {
        code: 'EUSAGE',
        hint: `use --${stream}=stream to attach to the app's streams, or --interactive for a terminal`,
      })
    }
  }
  const stream = modes.filter(([, m]) => m === 'stream').map(([s]) => s)
  const attach = stream.length ? {attachDir: paths.appAttach(app.name), attachStdin: stream.includes('stdin')} : {}
  if (dir === undefined || rel === undefined) {
    const file = paths.appLog(app.name)
    return {file, inPod: `/${path.relative(paths.stage1Rootfs, file)}`, attachStdin: false, ...attach}
  }
  if (!path.isAbsolute(dir) || path.isAbsolute(rel) || path.normalize(rel).startsWith('..')) {
    throw new RktError(`app ${app.name}: the log path "${rel}" in "${dir}" leaves its directory`, {
      code: 'EUSAGE',
      hint: `${KUBERNETES_LOG_DIR} must be an absolute path and ${KUBERNETES_LOG_PATH} a path below it`,
    })
  }
  const inPod = path.join('/', KUBERNETES_LOG_MOUNT, path.normalize(rel))
  return {file: path.join(dir, path.normalize(rel)), inPod, kubernetesDir: dir, attachStdin: false, ...attach}
}

/** The files of a log, oldest first: `<file>.N` … `<file>.1`, `<file>` (those that exist are for the caller). */
export function logFiles(file: string, maxFiles = LOG_MAX_FILES): string[] {
  return [...Array.from({length: maxFiles - 1}, (_, i) => `${file}.${maxFiles - 1 - i}`), file]
}
