// fly's run entrypoint: one app, the host's namespaces, a chroot into the app's rootfs (as rkt's
// stage1-fly did). It mounts what the app sees (/dev, /proc, /sys, a /tmp, the volumes, DNS files), then hands over
// to fly-exec by execve: same PID, so `rkt run` stays the process its caller started, and no Node process
// stays in the pod. fly-exec holds the pod lock, forks the app, forwards signals, records its status and
// exits with its code; the app never receives the lock.
import fs from 'node:fs'
import path from 'node:path'

import {
  appMounts,
  bindGeneratedFile,
  bindMount,
  composeEnv,
  ENV,
  entrypoint,
  findExecutable,
  loadPod,
  markApp,
  metadataUrl,
  mount,
  mountVolumes,
  MS,
  parseNetList,
  parseRunArgv,
  placeGeneratedFile,
  readMountinfo,
  resolveCredentials,
  RktError,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  writeEnvFile,
  type LoadedPod,
  type PodApp,
} from '@rkt/core/stage1'

import {makePodCgroups} from './cgroups.js'
import {execFlyExec} from './fly-exec.js'

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

/**
 * /etc/resolv.conf and /etc/hosts per rkt's DNS modes (fly has no networking, so 'default' does little): the
 * host's or stage0's file bound read-only, never copied, so nothing is written through the image's symlinks
 * into a volume (bindGeneratedFile); an app without /etc/hosts gets a minimal one in its own root.
 */
function dnsFiles(pod: LoadedPod, app: PodApp, resolv: string, hosts: string): void {
  const warn = (target: string): void => {
    process.stderr.write(
      `run: warning: no ${target}: the image's symlinks put it in a volume, where rkt writes nothing\n`,
    )
  }
  const bind = (source: string, target: string): void => {
    if (!bindGeneratedFile(app.rootfs, source, target)) warn(target)
  }
  if (resolv === 'host') bind('/etc/resolv.conf', '/etc/resolv.conf')
  else if (resolv === 'stage0' && fs.existsSync(pod.paths.resolvConf)) bind(pod.paths.resolvConf, '/etc/resolv.conf')
  const hostsSource = hosts === 'host' ? '/etc/hosts' : hosts === 'stage0' ? pod.paths.hosts : undefined
  if (hostsSource) bind(hostsSource, '/etc/hosts')
  else if (!placeGeneratedFile(app.rootfs, '/etc/hosts', '127.0.0.1 localhost localdomain\n')) warn('/etc/hosts')
}

/**
 * fly has no network of its own: the pod always shares the host's, as rkt's fly. `default` is what stage0
 * sends when no --net was given, so it means the host's here too; anything asking for a network of the pod's
 * own (none, all, named networks) is refused rather than silently given the host's.
 */
function refuseNetworks(net: string): void {
  const mode = parseNetList(net)
  const plainDefault =
    mode.kind === 'contained' &&
    !mode.all &&
    mode.nets.length === 1 &&
    mode.nets[0]!.name === 'default' &&
    mode.nets[0]!.args === ''
  if (mode.kind === 'host' || plainDefault) return
  throw new RktError(`--net=${net}: the fly stage1 has no networking of its own; its pods use the host’s network`, {
    code: 'ENET',
    hint: 'use --net=host (or no --net) with fly, or the default nspawn stage1 for contained networks',
  })
}

export const main = entrypoint('run', import.meta.url, (argv) => {
  const args = parseRunArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  saveRuntimeConfig(pod.paths.runtimeConfig, runtimeConfigOf(args, args.hostname ?? `rkt-${args.uuid}`))
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
  // Nothing to forward: the app binds the host's ports itself, and a port a host service holds fails its bind.
  if (pod.manifest.ports.length > 0) {
    process.stderr.write(
      'run: warning: --port ignored: fly pods use the host’s network, so the app’s ports are the host’s own\n',
    )
  }
  const app = pod.apps[0]!
  const exec = app.app.exec ?? []
  if (exec.length === 0) {
    throw new RktError(`image "${app.image.name}" has an empty "exec"`, {hint: 'give the command with --exec=BINARY'})
  }
  const lockFd = Number(process.env[ENV.lockFd])
  if (!Number.isInteger(lockFd) || lockFd < 0) {
    throw new RktError(`${ENV.lockFd} is not set: fly must be started by rkt`, {code: 'ECONTRACT'})
  }

  const cgroups = makePodCgroups(pod, app, (m) => process.stderr.write(`run: warning: ${m}\n`))
  const mounts = appMounts(pod, app)
  // --readonly-rootfs: the root must be a mount of its own to be made read-only (with --no-overlay it is a
  // plain directory), and that mount must exist before the ones stacked inside it.
  const rootIsMount = readMountinfo().some((m) => m.mountPoint === path.resolve(app.rootfs))
  if (app.runtime.readOnlyRootFS && !rootIsMount) bindMount(app.rootfs, app.rootfs, false)
  mountSystem(app.rootfs)
  mountVolumes(app.rootfs, mounts)
  dnsFiles(pod, app, args.dnsConfMode.resolv, args.dnsConfMode.hosts)
  // Last, once every mount point inside it exists; /tmp and writable volumes stay writable.
  if (app.runtime.readOnlyRootFS) mount(null, app.rootfs, null, MS.BIND | MS.REMOUNT | MS.RDONLY)

  // fly shares the host's network, so the metadata service (listening on all addresses) is on loopback.
  const mds = args.mdsToken ? {AC_METADATA_URL: metadataUrl('127.0.0.1', args.mdsToken)} : {}
  const env = composeEnv(app.app.environment, {AC_APP_NAME: app.name, ...mds})
  writeEnvFile(pod.paths.appEnv(app.name), env)
  const creds = resolveCredentials(app.rootfs, app.app, {image: app.image})
  const workDir = app.app.workingDirectory ?? '/'
  const program = findExecutable(app.rootfs, exec[0]!, env, workDir)
  markApp(pod.paths, app.name, 'created')

  // The hand-over. fly-exec keeps the lock descriptor (it marks it close-on-exec for the app).
  setCloexec(lockFd, false)
  const childEnv = {...process.env}
  delete childEnv[ENV.lockFd]
  const runOptions = ['--status', pod.paths.appStatus(app.name), '--pid-file', pod.paths.pid]
  runOptions.push('--pgid-file', pod.paths.pgid, '--started-file', pod.paths.appStarted(app.name))
  runOptions.push('--ready-link', pod.paths.supervisorStatus, '--lock-fd', String(lockFd))
  if (cgroups.oom) runOptions.push('--oom', cgroups.oom, '--oom-marker', pod.paths.appOom(app.name))
  const envFile = pod.paths.appEnv(app.name)
  const ctx = {app, creds, workDir, envFile, cgroups: cgroups.dirs}
  execFlyExec(import.meta.url, 'run', ctx, runOptions, [program, ...exec.slice(1)], childEnv)
})
