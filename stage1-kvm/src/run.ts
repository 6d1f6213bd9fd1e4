// kvm's run entrypoint (stage1-kvm/README.md): prepares every app on the host as nspawn's run does (the
// guest runs the same supervisor over the same stage1 rootfs, shared by 9p), sets up the pod's CNI
// networks and gives each a tap, writes the supervisor's configuration and the guest's start script, and
// becomes kvm-exec by execve (same PID: `rkt run` is the pod), which starts QEMU and turns the guest's
// report into the exit code. No Node process stays in the pod.
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {
  entrypoint,
  execve,
  findHostTool,
  loadPod,
  metadataUrl,
  parseRunArgv,
  podLockFd,
  podLimits,
  RktError,
  runtimeConfigOf,
  saveRuntimeConfig,
  setCloexec,
  writePidFile,
  type LoadedPod,
  type RunArgs,
  refuseListenFds,
} from '@rkt/core/stage1'
import {parseNetList} from '@rkt/net-plugins'
import {prepareApp, setupNetworks} from '@rkt/stage1-supervisor/apps'
import {DEFAULT_GRACE_MS, writeConf} from '@rkt/stage1-supervisor/config'
import {preparePodEtc} from '@rkt/stage1-supervisor/etc'
import {kubernetesLogDir} from '@rkt/stage1-supervisor/logs'

import {bootTimeoutMs, chooseAccel, KVM_ENV, probeAccelHost, tscKhz} from './accel.js'
import {enterQemuCgroup} from './cgroup.js'
import {makeAppDisk} from './disk.js'
import {GUEST_BOUNDING, guestFds, startScript} from './guest.js'
import {guestMounts, shareKubernetesLogs} from './guest-mounts.js'
import {bridgeTaps, guestNetScript} from './net.js'
import {guestKernel, KvmPaths} from './paths.js'
import {checkTransports, qemuArgv, vmSize} from './qemu.js'

const warn = (m: string): void => {
  process.stderr.write(`run: warning: ${m}\n`)
}

function refuseUnsupported(args: RunArgs, pod: LoadedPod): void {
  if (parseNetList(args.net).kind === 'host') {
    throw new RktError("--net=host is not possible with the kvm stage1: a VM can't share the host's network stack", {
      code: 'ENETHOST',
      hint: 'use a contained network (--net=default, the default) with --port to publish ports, or the nspawn stage1',
    })
  }
  if (args.ipc === 'parent') {
    throw new RktError('--ipc=parent is not possible with the kvm stage1: the pod is a VM with its own kernel', {
      code: 'EIPC',
      hint: 'drop --ipc=parent',
    })
  }
  if (args.privateUsers) {
    throw new RktError('--private-users is not supported by the kvm stage1: its apps are root in the guest', {
      code: 'EUNSUPPORTED',
      hint: 'use the nspawn stage1 (the default; --stage1-path=stage1-nspawn.aci), or run without --private-users',
    })
  }
  if (args.interactive && pod.apps.length !== 1) {
    throw new RktError('--interactive needs exactly one app', {code: 'EUSAGE'})
  }
}

export const main = entrypoint('run', import.meta.url, async (argv) => {
  const args = parseRunArgv(argv)
  const pod = loadPod(process.cwd(), args.uuid)
  const kvm = new KvmPaths(pod.paths)
  const hostname = args.hostname ?? `rkt-${args.uuid}`
  saveRuntimeConfig(pod.paths.runtimeConfig, runtimeConfigOf(args, hostname))
  refuseUnsupported(args, pod)
  refuseListenFds('kvm', process.env, process.pid)
  const accel = chooseAccel(process.env[KVM_ENV.accel], probeAccelHost())
  const bootTimeout = bootTimeoutMs(accel.accel, process.env[KVM_ENV.bootTimeout])
  const qemu = findHostTool('qemu-system-x86_64')
  if (qemu === undefined) {
    throw new RktError('qemu-system-x86_64 is not installed (not found on PATH)', {
      code: 'ENOQEMU',
      hint: 'install QEMU (Debian: apt-get install qemu-system-x86)',
    })
  }
  // The image's own files, beside this entrypoint in the store's tree: nothing the pod can write.
  const image = path.dirname(fileURLToPath(import.meta.url))
  const kernel = guestKernel(image)
  if (!fs.existsSync(kernel))
    throw new RktError(`the stage1 image has no guest kernel (${kernel})`, {hint: 'rebuild it with npm run build'})
  const lockFd = podLockFd('the kvm stage1')
  if (accel.notice) process.stderr.write(`${accel.notice}\n`)

  // Before anything changes the apps' rootfs (prepareApp plans, nothing more; the guest mounts): the disks hold
  // each app's tree as the pod sees it before any app ran.
  const noOverlay = !fs.existsSync(pod.paths.overlayPrepared)
  const disks = pod.apps.map((app) => makeAppDisk(kvm, app, noOverlay))

  // Whatever fails from here on, stage0's gc of the pod tears the networks down (net-state.json first).
  const networks = await setupNetworks(pod, args)
  const {interfaces, nics} = networks ? await bridgeTaps(networks.netns) : {interfaces: [], nics: []}

  const etc = preparePodEtc(pod.paths, hostname, args.dnsConfMode, networks?.dns)
  if (args.mdsToken && networks?.hostIp === undefined)
    warn('--mds-register: the pod has no network to reach the metadata service')
  const mds = args.mdsToken && networks?.hostIp ? metadataUrl(networks.hostIp, args.mdsToken) : undefined
  const apps = pod.apps.map((app) => prepareApp(pod, app, etc, args, GUEST_BOUNDING, mds, warn))
  const attachable = apps.find((a) => a.logging?.attachDir)
  if (attachable) {
    throw new RktError(`app ${attachable.app.name}: the kvm stage1 cannot attach to apps' streams`, {
      code: 'EUSAGE',
      hint: "its endpoints would be in the guest, out of the host's reach: use the nspawn or fly stage1, or drop the coreos.com/rkt/stage2/* annotations",
    })
  }
  const hostVolumes = new Set(
    apps.flatMap((a) =>
      a.mounts.flatMap((s) => (s.kind === 'volume' && s.mount.kind === 'host' ? [s.mount.volume] : [])),
    ),
  )
  const k8sLogs = kubernetesLogDir(apps)
  checkTransports({nics: nics.length, disks: apps.length, shares: hostVolumes.size + (k8sLogs ? 1 : 0)})
  const mounts = guestMounts(kvm, apps, warn)
  if (k8sLogs) shareKubernetesLogs(kvm, k8sLogs, mounts)
  const size = vmSize(apps.map((a) => a.isolation.limits))
  const conf = path.join('/', path.relative(pod.paths.stage1Rootfs, pod.paths.supervisorConf))
  writeConf(pod.paths.supervisorConf, {
    graceMs: DEFAULT_GRACE_MS,
    mutable: args.mutable,
    apps: apps.map((a, i) => ({...a.conf, cgroupFds: [guestFds(i).cgroupFd], oomFds: [guestFds(i).oomFd]})),
  })
  // systemd's socket for `Type=notify` units (README "systemd"): kvm-exec sends it READY=1 once the guest has
  // booted or, when an app speaks the protocol itself, once the guest's supervisor says every such app is ready.
  const notifySocket = process.env['NOTIFY_SOCKET'] || undefined
  const notifyApps = notifySocket !== undefined && apps.some((a) => a.conf.notify === true)
  fs.mkdirSync(path.dirname(kvm.startScript), {recursive: true})
  fs.writeFileSync(
    kvm.startScript,
    startScript({
      net: guestNetScript(interfaces),
      mounts: mounts.lines,
      pod: podLimits(pod.manifest.isolators, warn),
      apps: apps.map((a) => ({name: a.app.name, limits: a.isolation.limits})),
      supervisorConf: conf,
    }),
  )
  fs.mkdirSync(kvm.dir, {recursive: true, mode: 0o700})

  const extraParams = process.env[KVM_ENV.extraKernelParams]
  const khz = accel.accel === 'tcg' ? tscKhz(fs.readFileSync('/proc/cpuinfo', 'utf8')) : undefined
  const qemuArgs = qemuArgv({
    qemu,
    uuid: pod.uuid,
    accel: accel.accel,
    size,
    kernel,
    rootfs: pod.paths.stage1Rootfs,
    consoleLog: path.relative(pod.paths.root, kvm.consoleLog),
    agentSocket: KvmPaths.agentSocket,
    nics,
    disks,
    shares: mounts.shares,
    interactive: args.interactive,
    notify: notifyApps,
    ...(khz !== undefined ? {tscKhz: khz} : {}),
    ...(extraParams ? {extraKernelParams: extraParams} : {}),
    debug: args.debug,
  })
  const helper = path.join(image, 'kvm-exec')
  const helperArgv = [
    'kvm-exec',
    '--lock-fd',
    '3',
    '--boot-timeout',
    String(bootTimeout),
    '--console-log',
    kvm.consoleLog,
    '--status-dir',
    pod.paths.statusDir,
    '--timeout-hint',
    accel.hint,
    ...pod.apps.flatMap((a) => ['--app', a.name]),
    ...(networks ? ['--netns', networks.netns] : []),
    ...(args.interactive ? ['--interactive'] : []),
    ...(notifyApps ? ['--notify-apps'] : []),
    ...(args.debug ? ['--debug'] : []),
    '--',
    ...qemuArgs,
  ]
  if (args.debug) process.stderr.write(`run: ${helperArgv.join(' ')}\n`)
  const env: Record<string, string> = {PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}
  if (process.env['TERM']) env['TERM'] = process.env['TERM']
  if (notifySocket !== undefined) env['NOTIFY_SOCKET'] = notifySocket

  enterQemuCgroup(pod, size, warn)
  // The hand-over: kvm-exec is this process from here on, hence `ppid`; it keeps the pod lock (at 3).
  writePidFile(pod.paths.ppid, process.pid)
  setCloexec(lockFd, true)
  execve(helper, helperArgv, env, [lockFd])
})
