// An app's isolators (appc spec/ace.md "Isolators") translated into what the
// supervisor applies and what the cgroups get. appc lets an executor ignore isolators it does not support,
// but it MUST say which ones it ignored or modified: every such case goes through `warn`.
import type {AnyIsolator} from '@rkt/core/stage1'

import {effectiveCapabilities, getIsolator, isIsolator, limitsOf, RktError, type Limits} from '@rkt/core/stage1'

import {capMask, capNames, NSPAWN_DEFAULT_CAPS} from './capabilities.js'
import {seccompFilter, type SeccompFilter} from './seccomp.js'

/** Everything the supervisor applies to one app besides its root, argv, environment and credentials. */
export interface AppIsolation {
  /** Bounding, permitted, effective and inheritable set (stage1-nspawn/README.md, key `caps`). */
  readonly caps: bigint
  readonly noNewPrivs: boolean
  readonly seccomp: SeccompFilter
  readonly oomScoreAdj?: number
  readonly limits: Limits
}

/** What the translation depends on besides the isolators. */
export interface IsolationContext {
  /** The app's uid: non-root apps get no default capabilities, and no_new_privs under a seccomp filter. */
  readonly uid: number
  /** This process's bounding set: nothing outside it can be granted. */
  readonly hostBounding: bigint
  /** --insecure-options=capabilities and =seccomp. */
  readonly disableCapabilities: boolean
  readonly disableSeccomp: boolean
}

/**
 * The capability mask of an app (appc: the retain set, or the defaults minus the remove set, or the
 * defaults). A non-root app without a capability isolator gets none: the supervisor makes a non-root app's
 * capabilities ambient (so that a retain set such as CAP_NET_BIND_SERVICE works for it), and appc's default
 * set made effective would let any uid become root (CAP_SETUID). rkt's non-root apps had no effective
 * capabilities either (docs/security.md ISO-01).
 */
function appCaps(isolators: readonly AnyIsolator[], ctx: IsolationContext, warn: (m: string) => void): bigint {
  const named = ['os/linux/capabilities-retain-set', 'os/linux/capabilities-remove-set'] as const
  if (ctx.disableCapabilities) {
    for (const n of named) if (getIsolator(isolators, n)) warn(`${n} ignored: --insecure-options=capabilities`)
    return ctx.hostBounding // everything nspawn --capability=all passes on
  }
  if (ctx.uid !== 0 && !named.some((n) => getIsolator(isolators, n))) return 0n
  let names: string[]
  try {
    names = effectiveCapabilities(isolators)
  } catch (err) {
    throw new RktError((err as Error).message, {
      code: 'ECAPS',
      hint: 'give either a retain set or a remove set (--caps-retain or --caps-remove), not both',
    })
  }
  const {mask, unknown} = capMask(names)
  const isolator = named.find((n) => getIsolator(isolators, n)) ?? 'the default capability set'
  if (unknown.length > 0) warn(`${isolator}: unknown capabilities ignored: ${unknown.join(', ')}`)
  const missing = mask & ~ctx.hostBounding
  if (missing !== 0n) warn(`${isolator}: not available to this pod, dropped: ${capNames(missing).join(', ')}`)
  return mask & ctx.hostBounding
}

const UNSUPPORTED: Readonly<Record<string, string>> = {
  'resource/block-bandwidth': 'block I/O limits are not implemented',
  'resource/block-iops': 'block I/O limits are not implemented',
  'resource/network-bandwidth': 'network limits are not implemented',
  'os/linux/selinux-context': 'SELinux is not supported by this stage1',
  'os/unix/sysctl': 'sysctls are not supported by this stage1',
}

/** Isolators this engine ignores, named with the reason (isolators it applies are left to the others). */
function ignored(isolators: readonly AnyIsolator[], warn: (m: string) => void): void {
  for (const i of isolators) {
    if ('opaque' in i) warn(`isolator ${i.name} ignored: unknown to this stage1`)
    else if (UNSUPPORTED[i.name] !== undefined) warn(`${i.name} ignored: ${UNSUPPORTED[i.name]}`)
    else if (i.name === 'os/linux/apparmor-profile') {
      // appc: an executor MUST refuse to run when the profile is not loaded; this one loads none.
      throw new RktError(`AppArmor profile ${i.value.profile} cannot be applied: this stage1 has no AppArmor support`, {
        code: 'EAPPARMOR',
        hint: 'remove the os/linux/apparmor-profile isolator from the image or pod manifest',
      })
    }
  }
}

/** The isolation of one app. */
export function appIsolation(
  isolators: readonly AnyIsolator[],
  ctx: IsolationContext,
  warn: (m: string) => void,
): AppIsolation {
  ignored(isolators, warn)
  // The schema allows one seccomp isolator per app.
  const seccompIsolator =
    getIsolator(isolators, 'os/linux/seccomp-retain-set') ?? getIsolator(isolators, 'os/linux/seccomp-remove-set')
  if (ctx.disableSeccomp && seccompIsolator) warn(`${seccompIsolator.name} ignored: --insecure-options=seccomp`)
  const seccomp = seccompFilter(seccompIsolator, ctx.disableSeccomp)
  // rkt: any no-new-privileges isolator that is true sets it, and a non-root app under a seccomp filter
  // always runs with it (seccomp.go forceNoNewPrivileges).
  const nnpIsolators = isolators.filter((i) => isIsolator(i, 'os/linux/no-new-privileges'))
  const asked = nnpIsolators.some((i) => i.value === true)
  const forced = !asked && ctx.uid !== 0 && seccomp.mode !== 'none'
  if (forced && nnpIsolators.length > 0) {
    warn('os/linux/no-new-privileges: false overridden: a non-root app under a seccomp filter runs with it')
  }
  const oom = getIsolator(isolators, 'os/linux/oom-score-adj')
  return {
    caps: appCaps(isolators, ctx, warn),
    noNewPrivs: asked || forced,
    seccomp,
    ...(oom === undefined ? {} : {oomScoreAdj: oom.value}),
    limits: limitsOf(isolators, warn),
  }
}

/**
 * nspawn's --capability value: `all` under --insecure-options=capabilities, else the capabilities some app
 * keeps beyond nspawn's own default set (empty: the flag is not needed).
 */
export function nspawnCapabilities(apps: readonly AppIsolation[], disableCapabilities: boolean): string {
  if (disableCapabilities) return 'all'
  const wanted = apps.reduce((m, a) => m | a.caps, 0n) & ~NSPAWN_DEFAULT_CAPS
  return capNames(wanted).join(',')
}
