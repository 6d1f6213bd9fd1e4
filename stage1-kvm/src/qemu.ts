// The QEMU command line of a pod (stage1-kvm/README.md "The VM"): a microvm machine with no default
// devices, the project's kernel, the pod's stage1 rootfs as the guest's 9p root, two virtio consoles and
// two named virtio-serial ports on descriptors kvm-exec hands over, one virtio-net NIC per pod network, one
// virtio-blk disk per app, one 9p share per host volume.
import os from 'node:os'

import {RktError, type Limits} from '@rkt/core/stage1'

import type {Accel} from './accel.js'
import type {AppDisk} from './disk.js'
import type {Share} from './guest-mounts.js'

/** The 9p mount tag of the guest's root. */
export const ROOT_TAG = 'rkt-root'
/** Names of the virtio-serial ports, as the guest's init finds them in /sys/class/virtio-ports. */
export const CTL_PORT = 'org.rkt.ctl'
export const AGENT_PORT = 'org.rkt.agent'
/** The descriptors kvm-exec gives QEMU: hvc0 (stdout, stdin), hvc1 (stderr), the ctl port. */
export const QEMU_FDS = {console: 3, stderr: 4, ctl: 5} as const

/**
 * virtio-mmio transports of QEMU 7.2's microvm without ACPI (measured: the ninth virtio device finds no
 * virtio-bus, with or without ioapic2=on). The root share and the consoles' virtio-serial take two.
 */
export const MAX_TRANSPORTS = 8
const FIXED_TRANSPORTS = 2

/** Refuses a pod whose NICs, app disks and volume shares need more virtio transports than microvm has. */
export function checkTransports(n: {nics: number; disks: number; shares: number}): void {
  const need = FIXED_TRANSPORTS + n.nics + n.disks + n.shares
  if (need <= MAX_TRANSPORTS) return
  throw new RktError(
    `the pod needs ${need} virtio devices (the root share and consoles: ${FIXED_TRANSPORTS}, networks: ${n.nics}, ` +
      `app disks: ${n.disks}, host volume shares: ${n.shares}), more than the ${MAX_TRANSPORTS} a QEMU microvm has`,
    {
      code: 'ETOOMANYDEVICES',
      hint: 'use fewer apps, networks or host volumes in one pod (several apps can mount one host volume: it is shared once), or the nspawn stage1',
    },
  )
}

/**
 * TCG's translated-code cache, in MiB. QEMU's default is an eighth of the host's memory up to 1 GiB, which a
 * guest running much code fills, unswappable, and which the pod's cgroup would have to allow (cgroup.ts).
 */
export const TCG_CACHE_MIB = 128

/** rkt's sizing: the apps' memory limits (128 MiB for an app without one) plus 128 MiB, at least 512 MiB. */
const APP_DEFAULT_MIB = 128
const OVERHEAD_MIB = 128
const FLOOR_MIB = 512

export interface VmSize {
  readonly memoryMiB: number
  readonly cpus: number
}

/**
 * The VM's memory and vCPUs from the apps' limits (rkt's rule): memory as above; vCPUs the sum of the
 * apps' CPU limits rounded up, or every host CPU when an app has none or the sum exceeds them.
 */
export function vmSize(apps: readonly Limits[], hostCpus: number = os.availableParallelism()): VmSize {
  let mib = OVERHEAD_MIB
  for (const a of apps) mib += a.memory === undefined ? APP_DEFAULT_MIB : Math.ceil(Number(a.memory) / 2 ** 20)
  let milli = 0
  let unlimited = false
  for (const a of apps) {
    if (a.cpuMilli === undefined) unlimited = true
    else milli += Number(a.cpuMilli)
  }
  const wanted = Math.ceil(milli / 1000)
  const cpus = unlimited || wanted > hostCpus || wanted < 1 ? hostCpus : wanted
  return {memoryMiB: Math.max(FLOOR_MIB, mib), cpus: Math.max(1, cpus)}
}

/** A pod network as the VM sees it: the tap QEMU opens in the pod's namespace and the guest NIC's MAC. */
export interface VmNic {
  readonly tap: string
  readonly mac: string
}

export interface QemuOptions {
  readonly qemu: string
  readonly uuid: string
  readonly accel: Accel
  readonly size: VmSize
  /** The guest kernel (an uncompressed vmlinux, booted through its PVH entry). */
  readonly kernel: string
  /** The pod's stage1 rootfs: the guest's root. */
  readonly rootfs: string
  /** Relative to the pod directory (QEMU's cwd): unix socket paths have a 108-byte limit. */
  readonly consoleLog: string
  readonly agentSocket: string
  readonly nics: readonly VmNic[]
  /** The apps' disks, in app order: the guest finds app i's by serial i. */
  readonly disks: readonly AppDisk[]
  /** Host volumes, each its own 9p share. */
  readonly shares: readonly Share[]
  readonly interactive: boolean
  /** systemd waits for the pod's READY=1 (NOTIFY_SOCKET): the guest's init relays the supervisor's (README "systemd"). */
  readonly notify?: boolean
  /** tsc_early_khz for TCG (accel.ts tscKhz). */
  readonly tscKhz?: number
  /** RKT_HYPERVISOR_EXTRA_KERNEL_PARAMS, appended as given (rkt's variable). */
  readonly extraKernelParams?: string
  readonly debug: boolean
}

/** The guest kernel's command line. */
export function kernelCmdline(o: QemuOptions): string {
  const params = [
    'console=ttyS0',
    // The console log is for failures: quiet keeps the emulated UART (slow under TCG) nearly idle.
    o.debug ? 'loglevel=7' : 'quiet',
    `root=${ROOT_TAG}`,
    'rootfstype=9p',
    // cache=mmap: no page cache of file contents (host and guest both write the apps' files and volumes),
    // but mmap works; msize: 9p's per-message payload, the main cost of each read and write.
    'rootflags=trans=virtio,version=9p2000.L,cache=mmap,msize=524288',
    'rw',
    'init=/kvm/init',
    'panic=-1',
    // reboot: a triple fault, which ends QEMU (-no-reboot) without needing ACPI.
    'reboot=t',
    `rkt.interactive=${o.interactive ? 1 : 0}`,
  ]
  if (o.debug) params.push('rkt.debug=1')
  if (o.notify) params.push('rkt.notify=1')
  // Under TCG: the TSC's rate (calibrating it against an emulated timer hangs some boots), and the delay
  // loop's, from it (HZ=100 in kernel/guest.config): calibrating each vCPU costs a quarter second.
  if (o.accel === 'tcg' && o.tscKhz !== undefined) params.push(`tsc_early_khz=${o.tscKhz}`, `lpj=${o.tscKhz * 10}`)
  if (o.extraKernelParams?.trim()) params.push(o.extraKernelParams.trim())
  return params.join(' ')
}

/** QEMU's argv, program first. Options that carry user data (paths) escape QEMU's comma separator. */
export function qemuArgv(o: QemuOptions): string[] {
  const esc = (s: string): string => s.replaceAll(',', ',,')
  const argv = [
    o.qemu,
    '-name',
    `rkt-${o.uuid}`,
    '-M',
    'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off',
    '-accel',
    o.accel === 'kvm' ? 'kvm' : `tcg,thread=multi,tb-size=${TCG_CACHE_MIB}`,
    '-cpu',
    o.accel === 'kvm' ? 'host' : 'max',
    '-m',
    `${o.size.memoryMiB}M`,
    '-smp',
    String(o.size.cpus),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    o.kernel,
    '-append',
    kernelCmdline(o),
    '-chardev',
    `file,id=log,path=${esc(o.consoleLog)}`,
    '-serial',
    'chardev:log',
    '-fsdev',
    `local,id=root,path=${esc(o.rootfs)},security_model=passthrough,multidevs=remap`,
    '-device',
    `virtio-9p-device,fsdev=root,mount_tag=${ROOT_TAG}`,
    '-device',
    'virtio-serial-device,max_ports=4',
    '-chardev',
    `socket,id=con,fd=${QEMU_FDS.console}`,
    '-device',
    'virtconsole,chardev=con',
    '-chardev',
    `socket,id=err,fd=${QEMU_FDS.stderr}`,
    '-device',
    'virtconsole,chardev=err',
    '-chardev',
    `socket,id=ctl,fd=${QEMU_FDS.ctl}`,
    '-device',
    `virtserialport,chardev=ctl,name=${CTL_PORT}`,
    '-chardev',
    `socket,id=agent,path=${esc(o.agentSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,chardev=agent,name=${AGENT_PORT}`,
  ]
  o.nics.forEach((nic, i) => {
    argv.push('-netdev', `tap,id=n${i},ifname=${nic.tap},script=no,downscript=no`)
    argv.push('-device', `virtio-net-device,netdev=n${i},mac=${nic.mac}`)
  })
  o.disks.forEach((d, i) => {
    argv.push('-drive', `file=${esc(d.file)},if=none,format=${d.format},id=disk${i}`)
    argv.push('-device', `virtio-blk-device,drive=disk${i},serial=${i}`)
  })
  for (const s of o.shares) {
    const ro = s.readOnly ? ',readonly=on' : ''
    argv.push('-fsdev', `local,id=${s.tag},path=${esc(s.path)},security_model=passthrough,multidevs=remap${ro}`)
    argv.push('-device', `virtio-9p-device,fsdev=${s.tag},mount_tag=${s.tag}`)
  }
  return argv
}
