// nspawn's run entrypoint (stage1-nspawn/README.md): prepares every app on the host (volumes and /etc files
// bound into its rootfs, environment, credentials, program, isolators), creates the pod's cgroups with their
// limits, writes the supervisor's configuration, and becomes systemd-nspawn by execve (same PID: `rkt run` is
// the pod). nspawn keeps the pod lock to itself and hands the supervisor the cgroup descriptors opened here;
// no Node process stays in the pod.
import fs from 'node:fs'
import path from 'node:path'
import tty from 'node:tty'

import {
  applyLimits,
  type CgroupHost,
  createPodCgroups,
  detectCgroups,
  enterPodCgroups,
  entrypoint,
  execve,
  KUBERNETES_LOG_MOUNT,
  type LoadedPod,
  LISTEN_FDS_START,
  listenFds,
  loadPod,
  metadataUrl,
  openAppFds,
  parseIdRange,
  parseRunArgv,
  podLockFd,
  podLimits,
  recordPodCgroups,
  RktError,
  type RunArgs,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  socketActivatedApps,
  writePidFile,
  type IdRange,
} from '@rkt/core/stage1'
import {parseNetList} from '@rkt/net-plugins'

import {prepareApp, setupNetworks, type PreparedApp} from '@rkt/stage1-supervisor/apps'
import {applyMountPlan} from '@rkt/stage1-supervisor/mount-plan'
import {capMask, hostBoundingSet} from '@rkt/stage1-supervisor/capabilities'
import {DEFAULT_GRACE_MS, writeConf, type AppConf} from '@rkt/stage1-supervisor/config'
import {preparePodEtc} from '@rkt/stage1-supervisor/etc'
import {kubernetesLogDir} from '@rkt/stage1-supervisor/logs'

import {
  allowLowPorts,
  findNsenter,
  findNspawn,
  nspawnCapabilities,
  nspawnCommand,
  nspawnEnv,
  propagateOnTmpfs,
  type NspawnNet,
} from './nspawn.js'

const warn = (m: string): void => {
  process.stderr.write(`run: warning: ${m}\n`)
}

/** Run flags this engine cannot honour: refused up front, before anything is mounted or created. */
function refuseUnsupported(args: RunArgs, pod: LoadedPod): void {
  if (args.ipc === 'parent') {
    throw new RktError(
      '--ipc=parent is not possible with the nspawn stage1: systemd-nspawn always gives the pod its own IPC namespace',
      {
        code: 'EIPC',
        hint: 'drop --ipc=parent (pods get a private IPC namespace), or use the fly stage1, which shares the host’s',
      },
    )
  }
  if (args.interactive && pod.apps.length !== 1) {
    throw new RktError('--interactive needs exactly one app', {code: 'EUSAGE'})
  }
}

/**
 * The pod's cgroups, with this process (nspawn-to-be) in them and their limits written, and the descriptors
 * each app's configuration names: `fds[i]` is handed on as 3+i, the number the container sees.
 */
function makeCgroups(
  pod: LoadedPod,
  host: CgroupHost,
  apps: readonly PreparedApp[],
  listening: number,
): {confs: AppConf[]; fds: number[]} {
  const uuid = pod.uuid
  // Recorded first: whatever fails after this, gc knows what to remove.
  recordPodCgroups(pod.paths.cgroups, host, uuid)
  createPodCgroups(
    host,
    uuid,
    apps.map((a) => a.app.name),
  )
  // In before the limits: on cgroup v2 the controllers, hence their files in the apps' cgroups, can be
  // enabled only once no process is left in the pod's inner cgroups.
  enterPodCgroups(host, uuid)
  applyLimits(host, uuid, undefined, podLimits(pod.manifest.isolators, warn), warn)
  // The unit's listening sockets come first, at the numbers they already have (LISTEN_FDS_START…).
  const fds: number[] = Array.from({length: listening}, (_, i) => LISTEN_FDS_START + i)
  const confs = apps.map((a) => {
    const appWarn = (m: string): void => warn(`app ${a.app.name}: ${m}`)
    applyLimits(host, uuid, a.app.name, a.isolation.limits, appWarn)
    const opened = openAppFds(host, uuid, a.app.name)
    const number = (fd: number): number => 3 + fds.push(fd) - 1
    const cgroupFds = opened.procs.map(number)
    const oomFds = opened.oom === undefined ? [] : [number(opened.oom)]
    return {...a.conf, cgroupFds, oomFds}
  })
  return {confs, fds}
}

/**
 * With private users, the supervisor is the pod's root (host uid range.first): the files and directories it
 * reads and writes, made here by host root, become its own: its configuration (0600: apps' environments),
 * and /rkt, /rkt/status and /rkt/pids, where it writes the statuses, pids and its ready link.
 */
function giveSupervisorFiles(pod: LoadedPod, range: IdRange): void {
  const p = pod.paths
  for (const f of [p.supervisorConf, p.rktDir, p.statusDir, p.pidsDir]) fs.chownSync(f, range.first, range.first)
  for (const f of [p.logsDir, p.attachDir]) if (fs.existsSync(f)) fs.chownSync(f, range.first, range.first)
}

/** The pod's kubernetes-log-dir, where its apps' loggers write, bound where the supervisor's records say (logs.ts). */
function kubernetesBinds(pod: LoadedPod, apps: readonly PreparedApp[]): [string, string][] {
  const dir = kubernetesLogDir(apps)
  if (dir === undefined) return []
  const mount = path.join(pod.paths.stage1Rootfs, KUBERNETES_LOG_MOUNT)
  fs.mkdirSync(mount, {recursive: true})
  return [[dir, `/${KUBERNETES_LOG_MOUNT}`]]
}

export const main = entrypoint('run', import.meta.url, async (argv) => {
  const args = parseRunArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  const hostname = args.hostname ?? `rkt-${args.uuid}`
  saveRuntimeConfig(pod.paths.runtimeConfig, runtimeConfigOf(args, hostname))
  refuseUnsupported(args, pod)
  const range = args.privateUsers === undefined ? undefined : parseIdRange(args.privateUsers)
  const nspawn = findNspawn(process.env['PATH'])
  const nsenter = range ? findNsenter(process.env['PATH']) : ''
  const netMode = parseNetList(args.net)
  if (netMode.kind !== 'contained' && pod.manifest.ports.length > 0)
    warn(`--port ignored: with --net=${netMode.kind} the pod has no network of its own to forward to`)
  const lockFd = podLockFd('the nspawn stage1')

  // Before anything else is made: the networks' DNS settings may make the pod's resolv.conf. Whatever
  // fails from here on, stage0's gc of the pod tears them down (net-state.json records them first).
  const networks = await setupNetworks(pod, args)
  const net: NspawnNet =
    networks !== undefined
      ? {kind: 'netns', path: networks.netns}
      : netMode.kind === 'host'
        ? {kind: 'host'}
        : {kind: 'private'}
  if (range && networks) allowLowPorts(nsenter, networks.netns)

  const etc = preparePodEtc(pod.paths, hostname, args.dnsConfMode, networks?.dns)
  // nspawn withholds CAP_NET_BIND_SERVICE from a user-namespaced container on a network namespace the host owns
  // (it would not let it bind low ports there; in a CNI namespace allowLowPorts opens them to every uid).
  const withheld = range && net.kind !== 'private' ? capMask(['CAP_NET_BIND_SERVICE']).mask : 0n
  const hostBounding = hostBoundingSet() & ~withheld
  // The metadata service (stage0 registered the pod when asked, --mds-register) listens on the host: apps reach
  // it at the host's address on their network, or on loopback with the host's network.
  const mdsHost = networks !== undefined ? networks.hostIp : netMode.kind === 'host' ? '127.0.0.1' : undefined
  if (args.mdsToken && mdsHost === undefined)
    warn('--mds-register: the pod has no network to reach the metadata service')
  const mds = args.mdsToken && mdsHost ? metadataUrl(mdsHost, args.mdsToken) : undefined
  const apps = pod.apps.map((app) => {
    const prepared = prepareApp(pod, app, etc, args, hostBounding, mds, warn)
    applyMountPlan(app.rootfs, prepared.mounts, range, (m) => warn(`app ${app.name}: ${m}`))
    return prepared
  })
  const host = detectCgroups()
  const listening = listenFds(process.env, process.pid)
  const {confs, fds} = makeCgroups(pod, host, apps, listening?.count ?? 0)
  const conf = path.join('/', path.relative(pod.paths.stage1Rootfs, pod.paths.supervisorConf))
  const activated = listening ? socketActivatedApps(pod.apps) : new Set<string>()
  if (listening && activated.size === 0)
    warn('the unit’s sockets reach no app: no app of this pod declares a port with socketActivated: true')
  writeConf(pod.paths.supervisorConf, {
    graceMs: DEFAULT_GRACE_MS,
    mutable: args.mutable,
    listenFds: listening,
    apps: confs.map((c) => ({...c, socketActivated: activated.has(c.name)})),
  })
  // A mutable pod's added apps: the supervisor seals the directory, app/add writes underneath (mutable.ts).
  if (args.mutable) fs.mkdirSync(pod.paths.addedAppsDir, {mode: 0o700})
  if (range) giveSupervisorFiles(pod, range)

  const command = nspawnCommand(
    {
      uuid: pod.uuid,
      rootfs: pod.paths.stage1Rootfs,
      net,
      // A terminal only for an interactive app on a terminal; otherwise the pod's stdio is ours, as it is.
      console: args.interactive && tty.isatty(0) ? 'interactive' : 'pipe',
      capabilities: nspawnCapabilities(
        apps.map((a) => a.isolation.caps),
        args.disableCapabilities,
      ),
      conf,
      privateUsers: range,
      binds: kubernetesBinds(pod, apps),
      // The supervisor says READY=1 once every app that notifies did: nspawn waits for it (README "systemd").
      notifyReady: confs.some((c) => c.notify === true),
    },
    {nspawn, nsenter},
  )
  const env = nspawnEnv({
    path: process.env['PATH'],
    term: process.env['TERM'],
    listenFds: fds.length,
    pid: process.pid,
    notifySocket: process.env['NOTIFY_SOCKET'],
  })
  if (args.debug) process.stderr.write(`run: ${command.argv.join(' ')}\n`)

  // The hand-over: nspawn is this process from here on, hence `ppid`. The lock goes last, after the
  // LISTEN_FDS descriptors: nspawn keeps it open and passes only those on.
  propagateOnTmpfs()
  writePidFile(pod.paths.ppid, process.pid)
  setCloexec(lockFd, true)
  execve(command.file, command.argv, env, [...fds, lockFd])
})
