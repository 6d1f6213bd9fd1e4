// QEMU's cgroup on the host (stage1-kvm/README.md "QEMU's cgroup"): the apps' own cgroups are in the guest,
// but the host must bound what the whole VM costs it. run moves itself, hence kvm-exec (same PID after
// execve) and QEMU (its child), into the pod's cgroups (the layout of core/src/stage1/cgroups.ts, recorded in
// the pod directory for gc), with a memory limit of the VM's memory plus QEMU's own. No app cgroups: the
// apps' limits are enforced by the guest's kernel.
import {applyLimits, createPodCgroups, detectCgroups, enterPodCgroups, recordPodCgroups} from '@rkt/core/stage1'
import type {LoadedPod, Warn} from '@rkt/core/stage1'

import {TCG_CACHE_MIB, type VmSize} from './qemu.js'

/**
 * QEMU's memory beyond the guest's RAM: its translated-code cache at its bound (TCG_CACHE_MIB), plus 128 MiB
 * for the rest. Measured under TCG on busybox pods (QEMU 7.2): about 95 MiB once booted, of which the code
 * cache is 30–40 MiB and the kernel image's mapping 11–16 MiB; the host's page cache of the files QEMU reads
 * over 9p is charged here too, but is reclaimed at the limit rather than fatal.
 */
export const QEMU_OVERHEAD_MIB = TCG_CACHE_MIB + 128

/** The memory limit of the pod's cgroup: the VM's RAM and QEMU's overhead, in bytes. */
export function qemuMemoryLimit(size: VmSize): bigint {
  return BigInt(size.memoryMiB + QEMU_OVERHEAD_MIB) * 2n ** 20n
}

/**
 * Puts this process (kvm-exec to be) into the pod's cgroups with QEMU's memory limit. Called just before the
 * execve: what Node touched so far stays charged to the caller's cgroup (cgroup v1 and v2 charge a page
 * where it was first used), so the limit bounds QEMU alone. Recorded first, so gc removes them whatever fails.
 */
export function enterQemuCgroup(pod: LoadedPod, size: VmSize, warn: Warn): void {
  const host = detectCgroups()
  recordPodCgroups(pod.paths.cgroups, host, pod.uuid)
  createPodCgroups(host, pod.uuid, [])
  enterPodCgroups(host, pod.uuid)
  applyLimits(host, pod.uuid, undefined, {memory: qemuMemoryLimit(size)}, (m) =>
    warn(`QEMU's memory is not bounded on the host: ${m}`),
  )
}
