// /kvm/start.sh, the guest's side of run (stage1-kvm/README.md "In the guest"): written on the host into
// the pod's stage1 rootfs, run by the guest's init with busybox sh. It brings the network up as the pod's
// namespace has it, makes the pod's and apps' cgroups (cgroup v2) with their limits, opens on 3, 4, … the
// descriptors supervisor.conf names for each app (its cgroup.procs, its memory.events), and execs the
// same supervisor nspawn pods run.
import {CFS_PERIOD_US, cfsQuota, sharesToWeight, type Limits} from '@rkt/core/stage1'
import {CAPABILITIES} from '@rkt/stage1-supervisor/capabilities'

import {sh} from './net.js'

/** Where the pod's cgroup is in the guest's hierarchy; apps are below it. */
export const GUEST_POD_CGROUP = '/sys/fs/cgroup/pod'

/** Every capability the guest's kernel knows: the supervisor runs as the guest's root, with all of them. */
export const GUEST_BOUNDING = Object.values(CAPABILITIES).reduce((m, bit) => m | (1n << BigInt(bit)), 0n)

/** App `app`'s cgroup in the guest. */
export const guestAppCgroup = (app: string): string => `${GUEST_POD_CGROUP}/${app}`

/** The v2 knobs of a set of limits. */
export function limitFiles(l: Limits): [string, string][] {
  const files: [string, string][] = []
  if (l.memory !== undefined) files.push(['memory.max', String(l.memory)])
  if (l.cpuMilli !== undefined) files.push(['cpu.max', `${cfsQuota(l.cpuMilli)} ${CFS_PERIOD_US}`])
  if (l.cpuShares !== undefined) files.push(['cpu.weight', String(sharesToWeight(l.cpuShares))])
  return files
}

export interface GuestApp {
  readonly name: string
  readonly limits: Limits
}

/** Descriptors of app i in supervisor.conf: its cgroup.procs and its memory.events. */
export function guestFds(i: number): {cgroupFd: number; oomFd: number} {
  return {cgroupFd: 3 + 2 * i, oomFd: 4 + 2 * i}
}

export function startScript(o: {
  net: readonly string[]
  /** The apps' disks and mount plans (guest-mounts.ts). */
  mounts: readonly string[]
  pod: Limits
  apps: readonly GuestApp[]
  supervisorConf: string
}): string {
  const lines = [
    '# Written by the kvm stage1 run entrypoint; run by /kvm/init (stage1-kvm/README.md "In the guest").',
    'set -e',
    // Applets by bare name: busybox sh runs them in a fork of itself (mkdir, echo: in-process), so no
    // exec re-reads a binary over 9p, the costliest thing a TCG guest does here.
    // the pod's hostname, which run wrote without a newline (read then fails, having read it), given to the
    // kernel by shell builtins: nspawn sets it from outside; here the guest's kernel has its own
    'read -r h < /etc/hostname || [ -n "$h" ]; echo "$h" > /proc/sys/kernel/hostname',
    ...o.net,
    ...o.mounts,
    `echo '+memory +cpu +pids' > /sys/fs/cgroup/cgroup.subtree_control`,
    `mkdir -p ${GUEST_POD_CGROUP}`,
    ...limitFiles(o.pod).map(([f, v]) => `echo ${sh(v)} > ${GUEST_POD_CGROUP}/${f}`),
    `echo '+memory +cpu +pids' > ${GUEST_POD_CGROUP}/cgroup.subtree_control`,
  ]
  const redirects: string[] = []
  o.apps.forEach((a, i) => {
    const dir = `${GUEST_POD_CGROUP}/${sh(a.name)}`
    lines.push(`mkdir -p ${dir}`)
    for (const [f, v] of limitFiles(a.limits)) lines.push(`echo ${sh(v)} > ${dir}/${f}`)
    const {cgroupFd, oomFd} = guestFds(i)
    redirects.push(`${cgroupFd}<>${dir}/cgroup.procs`, `${oomFd}<${dir}/memory.events`)
  })
  if (redirects.length > 0) lines.push(`exec ${redirects.join(' ')}`)
  lines.push(`exec /supervisor ${sh(o.supervisorConf)}`)
  return lines.join('\n') + '\n'
}

/**
 * The set-up script of an app added to the running pod (`/kvm/added/<app>.sh`, run by the guest's init before it
 * asks the supervisor to add the app): its cgroup with its limits, then its mount plan (guest-mounts.ts).
 */
export function addedAppScript(app: GuestApp, mounts: readonly string[]): string {
  const dir = `${GUEST_POD_CGROUP}/${sh(app.name)}`
  const lines = [
    '# Written by the kvm stage1 app/add entrypoint; run by /kvm/init (stage1-kvm/README.md "Mutable pods").',
    `mkdir -p ${dir}`,
    ...limitFiles(app.limits).map(([f, v]) => `echo ${sh(v)} > ${dir}/${f}`),
    ...mounts,
  ]
  return lines.join('\n') + '\n'
}
