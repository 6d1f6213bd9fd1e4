// fly's run entrypoint: one app, the host's namespaces, a chroot into the app's rootfs (as rkt's
// stage1-fly did). It mounts what the app sees (/dev, /proc, /sys, a /tmp, the volumes, DNS files), then hands over
// to fly-exec by execve: same PID, so `rkt run` stays the process its caller started, and no Node process
// stays in the pod. fly-exec holds the pod lock, forks the app, forwards signals, records its status and
// exits with its code; the app never receives the lock.
import fs from 'node:fs'
import path from 'node:path'

import {
  APP_NOTIFY_SOCKET,
  appCommand,
  appMounts,
  bindDnsFiles,
  bindMount,
  ENV,
  entrypoint,
  handlerCommand,
  listenFds,
  loadPod,
  markApp,
  metadataUrl,
  mount,
  mountVolumes,
  MS,
  parseRunArgv,
  placeGeneratedFile,
  type PodApp,
  podLockFd,
  prepareMountTarget,
  readMountinfo,
  resolveCredentials,
  RktError,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  supportsNotify,
  writeAppEnv,
} from '@rkt/core/stage1'
import {isPlainDefault, parseNetList} from '@rkt/net-plugins'

import {makePodCgroups} from './cgroups.js'
import {execFlyExec, logOptions} from './fly-exec.js'

/** The host's /dev, /proc and /sys (recursively) and a private /tmp: fly shares the host, as rkt's did. */
function mountSystem(rootfs: string): void {
  for (const dir of ['/dev', '/proc', '/sys']) {
    const target = path.join(rootfs, dir)
    if (fs.lstatSync(target, {throwIfNoEntry: false})?.isSymbolicLink()) {
      throw new RktError(`the app's ${dir} is a symlink: it must be a plain directory`, {code: 'EMOUNTTARGET'})
    }
    fs.mkdirSync(target, {recursive: true, mode: 0o755})
    bindMount(dir, target, true)
  }
  const tmp = path.join(rootfs, 'tmp')
  if (fs.lstatSync(tmp, {throwIfNoEntry: false})?.isSymbolicLink()) {
    throw new RktError("the app's /tmp is a symlink: it must be a plain directory", {code: 'EMOUNTTARGET'})
  }
  fs.mkdirSync(tmp, {recursive: true, mode: 0o1777})
  mount('tmpfs', tmp, 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777')
}

/** The /etc/hosts of an app that gets neither the host's nor stage0's. */
const HOSTS = '127.0.0.1 localhost localdomain\n'

/**
 * fly has no network of its own: the pod always shares the host's, as rkt's fly. `default` is what stage0
 * sends when no --net was given, so it means the host's here too; anything asking for a network of the pod's
 * own (none, all, named networks) is refused rather than silently given the host's.
 */
function refuseNetworks(net: string): void {
  const mode = parseNetList(net)
  if (mode.kind === 'host' || isPlainDefault(mode)) return
  throw new RktError(`--net=${net}: the fly stage1 has no networking of its own; its pods use the host’s network`, {
    code: 'ENET',
    hint: 'use --net=host (or no --net) with fly, or the default nspawn stage1 for contained networks',
  })
}

/**
 * What the app gets of the unit that started `rkt run` (docs/stage1.md "Under systemd"), as fly-exec options: the
 * unit's listening sockets (fly-exec keeps them at 3… for the app, with LISTEN_FDS and LISTEN_PID), and for an app
 * whose image says READY=1 itself, the unit's NOTIFY_SOCKET, bound into its root at systemd's path (an abstract
 * socket is reachable as it is: fly shares the host's network namespace). The app is not the unit's main process,
 * so the unit needs NotifyAccess=all.
 */
function unitHandOver(app: PodApp, warn: (m: string) => void): string[] {
  const out: string[] = []
  const fds = listenFds(process.env, process.pid)
  if (fds) out.push('--listen-fds', String(fds.count))
  if (fds?.names !== undefined) out.push('--env', `LISTEN_FDNAMES=${fds.names}`)
  const unit = process.env['NOTIFY_SOCKET']
  if (!supportsNotify(app.image)) return out
  if (unit === undefined || unit === '') {
    warn(`app ${app.name} notifies readiness, but rkt was not started with NOTIFY_SOCKET (a Type=notify unit)`)
    return out
  }
  if (unit.startsWith('@')) return [...out, '--env', `NOTIFY_SOCKET=${unit}`]
  bindMount(unit, prepareMountTarget(app.rootfs, APP_NOTIFY_SOCKET, false, 'the notification socket'), false)
  return [...out, '--env', `NOTIFY_SOCKET=${APP_NOTIFY_SOCKET}`]
}

export const main = entrypoint('run', import.meta.url, (argv, warn) => {
  const args = parseRunArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  saveRuntimeConfig(pod.paths.runtimeConfig, runtimeConfigOf(args, args.hostname ?? `rkt-${args.uuid}`))
  if (args.mutable) {
    throw new RktError(
      'mutable pods (rkt app sandbox) are not supported by the fly stage1: it runs one app, fixed at start',
      {
        code: 'EUNSUPPORTED',
        hint: 'use the nspawn stage1 (the default) or kvm for rkt app sandbox, or run the app with rkt run on fly',
      },
    )
  }
  if (pod.apps.length !== 1) {
    throw new RktError(`fly runs exactly one app per pod; this pod has ${pod.apps.length}`, {
      hint: 'run each app in its own pod, or choose the nspawn stage1',
    })
  }
  refuseNetworks(args.net)
  if (args.privateUsers) {
    throw new RktError('--private-users is not supported by the fly stage1: its apps run in the host’s namespaces', {
      code: 'EUNSUPPORTED',
      hint: 'use the nspawn stage1 (the default; --stage1-path=stage1-nspawn.aci), or run without --private-users',
    })
  }
  if (args.hostname !== undefined) warn(`--hostname=${args.hostname} ignored: fly pods share the host’s hostname`)
  // Nothing to forward: the app binds the host's ports itself, and a port a host service holds fails its bind.
  if (pod.manifest.ports.length > 0)
    warn('--port ignored: fly pods use the host’s network, so the app’s ports are the host’s own')
  const app = pod.apps[0]!
  if ((app.app.exec ?? []).length === 0) appCommand(app, []) // refused before anything is set up
  const lockFd = podLockFd('the fly stage1')

  const cgroups = makePodCgroups(pod, app, warn)
  const mounts = appMounts(pod, app)
  // --readonly-rootfs: the root must be a mount of its own to be made read-only (with --no-overlay it is a
  // plain directory), and that mount must exist before the ones stacked inside it.
  const rootIsMount = readMountinfo().some((m) => m.mountPoint === path.resolve(app.rootfs))
  if (app.runtime.readOnlyRootFS && !rootIsMount) bindMount(app.rootfs, app.rootfs, false)
  mountSystem(app.rootfs)
  mountVolumes(app.rootfs, mounts)
  // An app without the host's or stage0's /etc/hosts gets a minimal one in its own root.
  const unbound = bindDnsFiles(pod.paths, app.rootfs, args.dnsConfMode, warn)
  if (unbound.includes('/etc/hosts') && !placeGeneratedFile(app.rootfs, '/etc/hosts', HOSTS))
    warn("no /etc/hosts: the image's symlinks put it in a volume, where rkt writes nothing")
  const systemd = unitHandOver(app, warn)
  // Last, once every mount point inside it exists; /tmp and writable volumes stay writable.
  if (app.runtime.readOnlyRootFS) mount(null, app.rootfs, null, MS.BIND | MS.REMOUNT | MS.RDONLY)

  // fly shares the host's network, so the metadata service (listening on all addresses) is on loopback.
  const env = writeAppEnv(pod.paths, app, args.mdsToken ? metadataUrl('127.0.0.1', args.mdsToken) : undefined)
  const creds = resolveCredentials(app.rootfs, app.app, {image: app.image})
  const workDir = app.app.workingDirectory ?? '/'
  const command = appCommand(app, env)
  markApp(pod.paths, app.name, 'created')

  // The hand-over. fly-exec keeps the lock descriptor (it marks it close-on-exec for the app).
  setCloexec(lockFd, false)
  const childEnv = {...process.env}
  delete childEnv[ENV.lockFd]
  const runOptions = ['--status', pod.paths.appStatus(app.name), '--pid-file', pod.paths.pid]
  runOptions.push('--pgid-file', pod.paths.pgid, '--started-file', pod.paths.appStarted(app.name))
  runOptions.push('--ready-link', pod.paths.supervisorStatus, '--lock-fd', String(lockFd))
  if (cgroups.oom) runOptions.push('--oom', cgroups.oom, '--oom-marker', pod.paths.appOom(app.name))
  runOptions.push(...systemd)
  // appc's event handlers, run by fly-exec as root in the app's root (rkt's rule), word by word.
  for (const name of ['pre-start', 'post-stop'] as const)
    for (const word of handlerCommand(app, name, env, workDir) ?? []) runOptions.push(`--${name}`, word)
  runOptions.push(...logOptions(import.meta.url, pod, app, args.interactive))
  const envFile = pod.paths.appEnv(app.name)
  const ctx = {app, creds, workDir, envFile, cgroups: cgroups.dirs}
  execFlyExec(import.meta.url, 'run', ctx, runOptions, command, childEnv)
})
