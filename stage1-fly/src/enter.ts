// fly's enter entrypoint: fly has no namespaces to join, so entering is running the command chrooted in the
// app's rootfs with the app's credentials, working directory and environment, through fly-exec (same PID).
import path from 'node:path'

import {
  appCgroups,
  enterCommand,
  entrypoint,
  loadPod,
  parseEnterArgv,
  podApp,
  recordedPodCgroups,
  resolveCredentials,
} from '@rkt/core/stage1'

import {execFlyExec} from './fly-exec.js'

export const main = entrypoint('enter', import.meta.url, (argv, warn) => {
  const args = parseEnterArgv(argv)
  const root = process.cwd()
  const pod = loadPod(root, path.basename(root))
  const app = podApp(pod, args.app)
  const envFile = pod.paths.appEnv(app.name)
  const command = enterCommand(app, envFile, args.command)
  const creds = resolveCredentials(app.rootfs, app.app, {image: app.image})
  const workDir = app.app.workingDirectory ?? '/'
  // The entered process joins the app's cgroups: their limits hold for it, and it ends with the pod.
  const cgroups = appCgroups(recordedPodCgroups(pod.paths, pod.uuid, warn)) // none for a pod run without cgroups
  execFlyExec(import.meta.url, 'enter', {app, creds, workDir, envFile, cgroups}, [], command, process.env)
})
