// fly's enter entrypoint: fly has no namespaces to join, so entering is running the command chrooted in the
// app's rootfs with the app's credentials, working directory and environment, through fly-exec (same PID).
import path from 'node:path'

import {
  entrypoint,
  findExecutable,
  loadPod,
  parseEnterArgv,
  podApp,
  readEnvFile,
  resolveCredentials,
  RktError,
} from '@rkt/core/stage1'

import {execFlyExec} from './fly-exec.js'

export const main = entrypoint('enter', import.meta.url, (argv) => {
  const args = parseEnterArgv(argv)
  const root = process.cwd()
  const pod = loadPod(root, path.basename(root))
  const app = podApp(pod, args.app)
  const command = args.command.length > 0 ? args.command : ['/bin/bash']
  const env = readEnvFile(pod.paths.appEnv(app.name))
  const creds = resolveCredentials(app.rootfs, app.app, {image: app.image})
  const workDir = app.app.workingDirectory ?? '/'
  let program: string
  try {
    program = findExecutable(app.rootfs, command[0]!, env, workDir)
  } catch (err) {
    // findExecutable's hint is for `rkt run` (--exec); the fix here is the command given to `rkt enter`.
    if (!(err instanceof RktError) || err.code !== 'ENOEXEC') throw err
    throw new RktError(err.message, {
      code: 'ENOEXEC',
      hint: 'name a program the image has after the UUID, e.g. rkt enter UUID /bin/sh (the default is /bin/bash)',
    })
  }
  const envFile = pod.paths.appEnv(app.name)
  execFlyExec(import.meta.url, 'enter', {app, creds, workDir, envFile}, [], [program, ...command.slice(1)], process.env)
})
