// bwrap's enter entrypoint: nsenter joins the namespaces and root of the app's sandbox (its bwrap init, whose
// host PID run recorded), then app-exec joins the app's cgroups and becomes the app's user in its working
// directory. The environment is the app's, plus the caller's TERM.
import path from 'node:path'

import {
  detectCgroups,
  enterCommand,
  enterEnv,
  entrypoint,
  execve,
  loadPod,
  openAppFds,
  parseEnterArgv,
  podApp,
  readPidFile,
  requireHostTool,
  RktError,
} from '@rkt/core/stage1'

import {appExec} from './sandbox.js'

export const main = entrypoint('enter', import.meta.url, (argv) => {
  const args = parseEnterArgv(argv)
  const pod = loadPod(process.cwd(), path.basename(process.cwd()))
  const app = podApp(pod, args.app)
  const command = enterCommand(app, pod.paths.appEnv(app.name), args.command)
  const pid = readPidFile(pod.paths.appPid(app.name))
  if (pid === undefined)
    throw new RktError(`app ${app.name} has not started`, {hint: 'wait for it, or check rkt status'})
  const {procs} = openAppFds(detectCgroups(), pod.uuid, app.name)
  const exec = appExec(
    app,
    procs.map((_, i) => 3 + i),
    false,
    command,
  )
  const nsenter = requireHostTool('nsenter', 'util-linux', 'the bwrap stage1')
  return execve(
    nsenter,
    ['nsenter', `--target=${pid}`, '--all', '--root', ...exec],
    enterEnv(pod.paths, app.name),
    procs,
  )
})
