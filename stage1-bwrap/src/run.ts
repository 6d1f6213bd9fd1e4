// bwrap's run entrypoint: each app of the pod in a bubblewrap sandbox of its own (PID, mount, IPC and UTS
// namespaces; the host's network, or none), started and waited for by this process, which keeps the pod lock
// for the pod's whole life and records each app's exit status. Volumes and /etc files are bound into the
// apps' roots on the host by the SDK (each target resolved inside the root right before its mount), so bwrap
// binds only the root, /proc and /dev. When an app fails, the others get SIGTERM and report 0 if they die of it.
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {
  appCommand,
  appDir,
  appMounts,
  bindDnsFiles,
  effectiveCapabilities,
  entrypoint,
  envRecord,
  loadPod,
  markApp,
  metadataUrl,
  mountVolumes,
  openAppFds,
  parseRunArgv,
  podLockFd,
  requireHostTool,
  RktError,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  setUpPodCgroups,
  signalCgroups,
  writeAppEnv,
  writeAppStatus,
  writePidFile,
  writePodReady,
  type PodApp,
  refuseListenFds,
} from '@rkt/core/stage1'
import {isPlainDefault, parseNetList} from '@rkt/net-plugins'

import {APP_EXEC, appExec} from './sandbox.js'

/** The isolators enforced (cgroup limits, bwrap's capability set); any other is named as ignored. */
const ENFORCED = ['resource/memory', 'resource/cpu', 'os/linux/cpu-shares', 'os/linux/capabilities-retain-set']
ENFORCED.push('os/linux/capabilities-remove-set')

/** bwrap's network: the host's (also for the plain default, as fly's), or none; CNI networks are refused. */
function netFlags(net: string): string[] {
  const mode = parseNetList(net)
  if (mode.kind === 'none') return ['--unshare-net']
  if (mode.kind === 'host' || isPlainDefault(mode)) return []
  throw new RktError(`--net=${net}: the bwrap stage1 has no contained networks`, {
    code: 'ENET',
    hint: 'use --net=host or --net=none with bwrap, or the nspawn stage1 for CNI networks',
  })
}

export const main = entrypoint('run', import.meta.url, async (argv, warn) => {
  const args = parseRunArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  const hostname = args.hostname ?? `rkt-${args.uuid}`
  saveRuntimeConfig(pod.paths.runtimeConfig, runtimeConfigOf(args, hostname))
  refuseListenFds('bwrap', process.env, process.pid)
  const bwrap = requireHostTool('bwrap', 'bubblewrap', 'the bwrap stage1')
  const net = netFlags(args.net)
  const unsupported = {code: 'EUNSUPPORTED', hint: 'use the nspawn stage1'}
  if (args.privateUsers) throw new RktError('--private-users is not supported by the bwrap stage1', unsupported)
  if (pod.manifest.ports.length > 0) warn('--port ignored: bwrap pods use the host’s network, or none')
  setCloexec(podLockFd('the bwrap stage1'), true) // this process keeps the lock for the pod's life; no sandbox inherits it
  const host = setUpPodCgroups(pod, warn)
  const mds = args.mdsToken ? metadataUrl('127.0.0.1', args.mdsToken) : undefined

  /** Everything an app needs before its sandbox starts: mounts, environment, programs, capabilities. */
  const prepare = (app: PodApp) => {
    const w = (m: string): void => warn(`app ${app.name}: ${m}`)
    for (const i of app.app.isolators) if (!ENFORCED.includes(i.name)) w(`isolator ${i.name} ignored by bwrap`)
    mountVolumes(app.rootfs, appMounts(pod, app))
    bindDnsFiles(pod.paths, app.rootfs, args.dnsConfMode, w)
    const env = writeAppEnv(pod.paths, app, mds)
    const handler = (name: string) =>
      app.app.eventHandlers.filter((h) => h.name === name).map((h) => appCommand(app, env, h.exec))
    const caps = effectiveCapabilities(app.app.isolators)
    if (['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'].some((c) => !caps.includes(c)))
      throw new RktError(`app ${app.name}: bwrap needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP kept`, unsupported)
    markApp(pod.paths, app.name, 'created')
    return {
      app,
      env: envRecord(env),
      exec: appCommand(app, env),
      preStart: handler('pre-start'),
      postStop: handler('post-stop'),
      caps,
    }
  }
  const apps = pod.apps.map(prepare)
  const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app-exec')

  /** Runs `command` in a new sandbox of the app; calls `started` with its init's host PID; resolves with its exit code. */
  const sandboxed = (p: (typeof apps)[number], command: string[], asRoot: boolean, started?: (pid: number) => void) => {
    const {procs} = openAppFds(host, pod.uuid, p.app.name)
    const fds = [fs.openSync(helper, 'r'), ...procs] // 3: app-exec, copied in; 4…: the app's cgroup.procs
    const info = 3 + fds.length
    const argv = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', hostname]
    argv.push(...net, '--bind', p.app.rootfs, '/', '--proc', '/proc', '--dev', '/dev')
    argv.push('--perms', '0555', '--ro-bind-data', '3', APP_EXEC, '--cap-drop', 'ALL')
    if (p.app.runtime.readOnlyRootFS) argv.push('--remount-ro', '/')
    argv.push(...p.caps.flatMap((c) => ['--cap-add', c]), '--info-fd', String(info), '--')
    const cgroupFds = procs.map((_, i) => 4 + i)
    argv.push(...appExec(p.app, cgroupFds, asRoot, command))
    const child = spawn(bwrap, argv, {stdio: ['inherit', 'inherit', 'inherit', ...fds, 'pipe'], env: p.env})
    for (const fd of fds) fs.closeSync(fd)
    let text = ''
    child.stdio[info]!.on('data', (d: Buffer) => (text += String(d))).on(
      'end',
      () => text && started?.((JSON.parse(text) as {'child-pid': number})['child-pid']),
    )
    return new Promise<number>((resolve) => child.on('close', (c, s) => resolve(c ?? 128 + os.constants.signals[s!])))
  }

  let up = 0
  const isUp = (): void => {
    if (++up === apps.length) writePodReady(pod.paths, process.pid)
  }
  const appDirs = host.hierarchies.flatMap((h) => apps.map((p) => appDir(h, pod.uuid, p.app.name)))
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, () => signalCgroups(appDirs, s))
  let failed: number | undefined
  const runApp = async (p: (typeof apps)[number]): Promise<void> => {
    const name = p.app.name
    let code = 0
    for (const h of p.preStart) if (code === 0 && (await sandboxed(p, h, true)) !== 0) code = 254
    if (code === 0) {
      const started = (pid: number): void => {
        writePidFile(pod.paths.appPid(name), pid)
        markApp(pod.paths, name, 'started')
        isUp()
      }
      code = await sandboxed(p, p.exec, false, started)
      if (code === 143 && failed !== undefined) code = 0 // stopped because a sibling failed
    } else {
      warn(`app ${name}: its pre-start handler failed`)
      isUp()
    }
    writeAppStatus(pod.paths, name, code)
    if (code !== 0 && failed === undefined) {
      failed = code
      signalCgroups(appDirs, 'SIGTERM')
    }
    for (const h of p.postStop) if (await sandboxed(p, h, true)) warn(`app ${name}: its post-stop handler failed`)
  }
  await Promise.all(apps.map(runApp))
  return failed ?? 0
})
