// An app's logger, as the supervisor starts it (README "Logs"): where its CRI log goes and which attach endpoints
// it offers, from the pod's annotations (core's contract/logs.ts owns the paths, `rkt logs` reads them back).
import fs from 'node:fs'
import path from 'node:path'

import {appLogging, type AppLogging, type LoadedPod, type PodApp} from '@rkt/core/stage1'

import type {AppConf} from './config.js'

/** The app's `log` and `attach` records (none for an interactive app: its stdio is the terminal), directories made. */
export function appLogConf(
  pod: LoadedPod,
  app: PodApp,
  interactive: boolean,
): {conf: Pick<AppConf, 'log' | 'attach'>; logging?: AppLogging} {
  if (interactive) return {conf: {}}
  const logging = appLogging(pod.paths, pod.manifest, app.runtime)
  const inPod = (p: string): string => `/${path.relative(pod.paths.stage1Rootfs, p)}`
  fs.mkdirSync(path.dirname(logging.file), {recursive: true, mode: 0o755})
  if (logging.attachDir) fs.mkdirSync(logging.attachDir, {recursive: true, mode: 0o700})
  const attach = logging.attachDir ? {dir: inPod(logging.attachDir), stdin: logging.attachStdin} : undefined
  return {conf: {log: logging.inPod, attach}, logging}
}

/** The pod's kubernetes-log-dir, which the engine makes reachable at KUBERNETES_LOG_MOUNT, if an app uses it. */
export function kubernetesLogDir(apps: readonly {readonly logging?: AppLogging | undefined}[]): string | undefined {
  return apps.find((a) => a.logging?.kubernetesDir)?.logging?.kubernetesDir
}
