// nspawn's enter entrypoint (stage1-nspawn/README.md "enter"): finds the app's process on the host, from the
// PID the supervisor recorded inside the pod, and execs the /enter helper, which joins its cgroups and
// namespaces and applies the app's credentials, capabilities, no_new_privs and seccomp filter from the
// supervisor's configuration before it execs the command (rkt's CVE-2019-10144/5/7 were an enter that did not).
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {
  enterCommand,
  entrypoint,
  execve,
  loadPod,
  parseEnterArgv,
  podApp,
  readAppStatus,
  readPidFile,
  RktError,
} from '@rkt/core/stage1'

import {findHostPid, isAlive} from './procs.js'

export const main = entrypoint('enter', import.meta.url, (argv) => {
  const args = parseEnterArgv(argv)
  const root = process.cwd()
  const pod = loadPod(root, path.basename(root))
  const app = podApp(pod, args.app)
  if (!isAlive(args.pid)) {
    throw new RktError(`pod ${pod.uuid} is not running (its supervisor, PID ${args.pid}, is gone)`, {
      code: 'ENOTRUNNING',
      hint: 'see the pods with: rkt list',
    })
  }
  const gone = (): RktError => {
    const code = readAppStatus(pod.paths, app.name)
    return code === undefined
      ? new RktError(`app ${app.name} is not running yet`, {code: 'ENOTRUNNING', hint: 'try again in a moment'})
      : new RktError(`app ${app.name} has exited (status ${code}): there is nothing to enter`, {code: 'ENOTRUNNING'})
  }
  const nsPid = readPidFile(pod.paths.appPid(app.name))
  const hostPid = nsPid === undefined ? undefined : findHostPid(args.pid, nsPid)
  if (hostPid === undefined) throw gone()

  const command = enterCommand(app, pod.paths.appEnv(app.name), args.command)
  const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), 'enter')
  // An app added to a mutable pod has its own configuration file.
  const added = pod.paths.addedAppConf(app.name)
  const conf = fs.existsSync(added) ? added : pod.paths.supervisorConf
  const helperArgv = ['enter', '--conf', conf, '--app', app.name, '--pid', String(hostPid)]
  execve(helper, [...helperArgv, '--', ...command], process.env)
})
