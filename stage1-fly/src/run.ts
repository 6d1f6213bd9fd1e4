// fly's run entrypoint: one app, the host's namespaces, a chroot into the app's rootfs (reference/rkt.md
// §6.2). It mounts what the app sees (/dev, /proc, /sys, a /tmp, the volumes, DNS files), then hands over
// to fly-exec by execve: same PID, so `rkt run` stays the process its caller started, and no Node process
// stays in the pod. fly-exec holds the pod lock, forks the app, forwards signals, records its status and
// exits with its code; the app never receives the lock.
import fs from 'node:fs'
import path from 'node:path'

import {
  appMounts,
  checkMountTarget,
  composeEnv,
  ENV,
  entrypoint,
  findExecutable,
  loadPod,
  markApp,
  mount,
  MS,
  parseRunArgv,
  readMountinfo,
  resolveCredentials,
  RktError,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  writeEnvFile,
  type AppMount,
  type LoadedPod,
  type PodApp,
} from '@rkt/core/stage1'

import {execFlyExec} from './fly-exec.js'

/** Creates the mount target inside the app's root (resolved there, never on the host) and returns its host path. */
function prepareTarget(rootfs: string, target: string, dir: boolean, what: string): string {
  const host = path.join(rootfs, checkMountTarget(rootfs, target, what))
  if (!fs.existsSync(host)) {
    fs.mkdirSync(path.dirname(host), {recursive: true, mode: 0o755})
    if (dir) fs.mkdirSync(host, {mode: 0o755})
    else fs.closeSync(fs.openSync(host, 'a', 0o644))
  }
  return host
}

/**
 * Binds source at target, then makes the new mounts slaves: on a host whose mounts are shared (systemd's
 * default) mounts made on the host still reach the app, but nothing the pod unmounts, at exit or in gc, can
 * propagate back and unmount the host's own (its /dev/pts, say).
 */
function bind(source: string, target: string, recursive: boolean): void {
  mount(source, target, null, MS.BIND | (recursive ? MS.REC : 0))
  mount(null, target, null, MS.SLAVE | (recursive ? MS.REC : 0))
}

/** The host's /dev, /proc and /sys (recursively) and a private /tmp: fly shares the host, as rkt's did. */
function mountSystem(rootfs: string): void {
  for (const dir of ['/dev', '/proc', '/sys']) {
    const target = path.join(rootfs, dir)
    if (fs.lstatSync(target, {throwIfNoEntry: false})?.isSymbolicLink()) {
      throw new RktError(`the app's ${dir} is a symlink: it must be a plain directory`, {code: 'EMOUNTTARGET'})
    }
    fs.mkdirSync(target, {recursive: true, mode: 0o755})
    bind(dir, target, true)
  }
  const tmp = path.join(rootfs, 'tmp')
  if (fs.lstatSync(tmp, {throwIfNoEntry: false})?.isSymbolicLink()) {
    throw new RktError("the app's /tmp is a symlink: it must be a plain directory", {code: 'EMOUNTTARGET'})
  }
  fs.mkdirSync(tmp, {recursive: true, mode: 0o1777})
  mount('tmpfs', tmp, 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777')
}

/** The pod's volumes, bound where the app expects them; read-only ones remounted read-only (submounts too). */
function mountVolumes(app: PodApp, mounts: readonly AppMount[]): void {
  for (const m of mounts) {
    if (m.kind === 'empty' && !fs.existsSync(m.source)) {
      fs.mkdirSync(m.source, {recursive: true})
      fs.chmodSync(m.source, m.empty?.mode ?? 0o755)
      fs.chownSync(m.source, m.empty?.uid ?? 0, m.empty?.gid ?? 0)
    }
    const isDir = fs.statSync(m.source).isDirectory()
    const target = prepareTarget(app.rootfs, m.target, isDir, `volume ${m.volume}`)
    bind(m.source, target, m.recursive)
    if (m.readOnly) {
      const under = readMountinfo()
        .map((e) => e.mountPoint)
        .filter((p) => p === target || (m.recursive && p.startsWith(`${target}/`)))
      for (const p of under) mount(null, p, null, MS.BIND | MS.REMOUNT | MS.RDONLY)
    }
  }
}

/** /etc/resolv.conf and /etc/hosts per rkt's DNS modes (fly has no networking, so 'default' does little). */
function dnsFiles(pod: LoadedPod, app: PodApp, resolv: string, hosts: string): void {
  if (resolv === 'host') {
    bind('/etc/resolv.conf', prepareTarget(app.rootfs, '/etc/resolv.conf', false, '/etc/resolv.conf'), false)
    mount(
      null,
      path.join(app.rootfs, checkMountTarget(app.rootfs, '/etc/resolv.conf')),
      null,
      MS.BIND | MS.REMOUNT | MS.RDONLY,
    )
  } else if (resolv === 'stage0' && fs.existsSync(pod.paths.resolvConf)) {
    fs.copyFileSync(pod.paths.resolvConf, prepareTarget(app.rootfs, '/etc/resolv.conf', false, '/etc/resolv.conf'))
  }
  const hostsSource = hosts === 'host' ? '/etc/hosts' : hosts === 'stage0' ? pod.paths.hosts : undefined
  if (hostsSource) {
    const target = prepareTarget(app.rootfs, '/etc/hosts', false, '/etc/hosts')
    bind(hostsSource, target, false)
    mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY)
  } else {
    const target = path.join(app.rootfs, checkMountTarget(app.rootfs, '/etc/hosts'))
    if (!fs.existsSync(target)) {
      fs.mkdirSync(path.dirname(target), {recursive: true, mode: 0o755})
      fs.writeFileSync(target, '127.0.0.1 localhost localdomain\n', {mode: 0o644})
    }
  }
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
  const app = pod.apps[0]!
  const exec = app.app.exec ?? []
  if (exec.length === 0) {
    throw new RktError(`image "${app.image.name}" has an empty "exec"`, {hint: 'give the command with --exec=BINARY'})
  }
  const lockFd = Number(process.env[ENV.lockFd])
  if (!Number.isInteger(lockFd) || lockFd < 0) {
    throw new RktError(`${ENV.lockFd} is not set: fly must be started by rkt`, {code: 'ECONTRACT'})
  }

  const mounts = appMounts(pod, app)
  // --readonly-rootfs: the root must be a mount of its own to be made read-only (with --no-overlay it is a
  // plain directory), and that mount must exist before the ones stacked inside it.
  const rootIsMount = readMountinfo().some((m) => m.mountPoint === path.resolve(app.rootfs))
  if (app.runtime.readOnlyRootFS && !rootIsMount) bind(app.rootfs, app.rootfs, false)
  mountSystem(app.rootfs)
  mountVolumes(app, mounts)
  dnsFiles(pod, app, args.dnsConfMode.resolv, args.dnsConfMode.hosts)
  // Last, once every mount point inside it exists; /tmp and writable volumes stay writable.
  if (app.runtime.readOnlyRootFS) mount(null, app.rootfs, null, MS.BIND | MS.REMOUNT | MS.RDONLY)

  const env = composeEnv(app.app.environment, {AC_APP_NAME: app.name})
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
  const envFile = pod.paths.appEnv(app.name)
  execFlyExec(import.meta.url, 'run', {app, creds, workDir, envFile}, runOptions, [program, ...exec.slice(1)], childEnv)
})
