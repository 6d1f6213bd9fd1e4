// Resource limits from isolators (appc's resource/memory, resource/cpu, os/linux/cpu-shares), for the pod's
// and apps' cgroups (cgroups.ts). appc lets an executor ignore what it does not support but it MUST say so:
// every request it does not enforce goes through `warn`.
import type {AnyIsolator} from '../schema/isolators.js'

import {getIsolator} from '../schema/isolators.js'

/** Cgroup limits of an app (or of the whole pod). */
export interface Limits {
  /** Bytes (memory.limit_in_bytes, memory.max). */
  readonly memory?: bigint
  /** Thousandths of a CPU (cpu.cfs_quota_us over a 100 ms period, cpu.max). */
  readonly cpuMilli?: bigint
  /** os/linux/cpu-shares, 2..262144 (cpu.shares; cpu.weight on cgroup v2). */
  readonly cpuShares?: number
}

/** A period of 100 ms, the kernel's default; the kernel refuses a quota under 1 ms. */
export const CFS_PERIOD_US = 100_000n
const CFS_MIN_QUOTA_US = 1000n

/** cpu.cfs_quota_us for a limit in millicores (over CFS_PERIOD_US). */
export function cfsQuota(milli: bigint): bigint {
  const quota = (milli * CFS_PERIOD_US) / 1000n
  return quota < CFS_MIN_QUOTA_US ? CFS_MIN_QUOTA_US : quota
}

/** A request the engine does not enforce is a modification of the isolator: say so. */
function checkRequest(name: string, v: {request?: {text: string}; limit?: {text: string}}, warn: (m: string) => void) {
  if (v.limit === undefined) warn(`${name} without a limit ignored: only limits are enforced`)
  else if (v.request !== undefined && v.request.text !== v.limit.text) {
    warn(`${name}: request ${v.request.text} ignored, limit ${v.limit.text} enforced`)
  }
}

/** The cgroup limits of an isolator list (app or pod). */
export function limitsOf(isolators: readonly AnyIsolator[], warn: (m: string) => void): Limits {
  const memory = getIsolator(isolators, 'resource/memory')
  const cpu = getIsolator(isolators, 'resource/cpu')
  const shares = getIsolator(isolators, 'os/linux/cpu-shares')
  if (memory) checkRequest('resource/memory', memory.value, warn)
  if (cpu) {
    checkRequest('resource/cpu', cpu.value, warn)
    const milli = cpu.value.limit?.milli
    if (milli !== undefined && (milli * CFS_PERIOD_US) / 1000n < CFS_MIN_QUOTA_US) {
      warn(`resource/cpu: limit ${cpu.value.limit?.text} raised to 10m, the kernel's smallest quota`)
    }
  }
  return {
    ...(memory?.value.limit === undefined ? {} : {memory: memory.value.limit.value}),
    ...(cpu?.value.limit === undefined ? {} : {cpuMilli: cpu.value.limit.milli}),
    ...(shares === undefined ? {} : {cpuShares: shares.value}),
  }
}

/** The pod-level isolators: resource limits apply to the pod's cgroup; the others are ignored, and said so. */
export function podLimits(isolators: readonly AnyIsolator[], warn: (m: string) => void): Limits {
  for (const i of isolators) {
    if (i.name !== 'resource/memory' && i.name !== 'resource/cpu') warn(`pod isolator ${i.name} ignored`)
  }
  return limitsOf(
    isolators.filter((i) => i.name === 'resource/memory' || i.name === 'resource/cpu'),
    warn,
  )
}
