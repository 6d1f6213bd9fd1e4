// Which accelerator QEMU gets: KVM where it works, TCG (software emulation) otherwise. /dev/kvm is not
// proof: on hosts that are themselves PVM guests the module behind it is kvm_pvm, under which a standard
// guest kernel hangs in early boot (measured on such hosts), so its presence selects TCG with a one-line
// notice. RKT_KVM_ACCEL=kvm|tcg overrides the choice both ways; a forced KVM that hangs is caught by the
// boot bound (kvm-exec --boot-timeout).
import fs from 'node:fs'

import {RktError} from '@rkt/core/stage1'

export type Accel = 'kvm' | 'tcg'

/** Environment variables the kvm stage1 reads (stage1-kvm/README.md). */
export const KVM_ENV = {
  accel: 'RKT_KVM_ACCEL',
  bootTimeout: 'RKT_KVM_BOOT_TIMEOUT',
  extraKernelParams: 'RKT_HYPERVISOR_EXTRA_KERNEL_PARAMS',
} as const

export interface AccelChoice {
  readonly accel: Accel
  /** Said once on stderr when the choice is not the obvious one. */
  readonly notice?: string
  /** Why a guest under this accelerator might never start: the boot-timeout error's hint. */
  readonly hint: string
}

/** What the choice looks at; tests give fakes. */
export interface AccelHost {
  /** Whether /dev/kvm can be opened read-write. */
  readonly kvmUsable: boolean
  /** Whether the kvm_pvm module is loaded (/sys/module/kvm_pvm). */
  readonly pvm: boolean
}

export function probeAccelHost(sys = '/sys', dev = '/dev'): AccelHost {
  let kvmUsable = false
  try {
    fs.closeSync(fs.openSync(`${dev}/kvm`, 'r+'))
    kvmUsable = true
  } catch {
    // absent, or no permission: TCG
  }
  return {kvmUsable, pvm: fs.existsSync(`${sys}/module/kvm_pvm`)}
}

const FORCE_TCG = `set ${KVM_ENV.accel}=tcg to use software emulation`

export function chooseAccel(requested: string | undefined, host: AccelHost): AccelChoice {
  const want = (requested ?? '').trim().toLowerCase() || 'auto'
  if (want === 'tcg') return {accel: 'tcg', hint: `software emulation (TCG, ${KVM_ENV.accel}=tcg) is slow on this host`}
  if (want === 'kvm') {
    if (!host.kvmUsable) {
      throw new RktError(`${KVM_ENV.accel}=kvm, but /dev/kvm cannot be opened on this host`, {
        code: 'EKVM',
        hint: `load the kvm module (kvm_intel or kvm_amd) and run as root, or ${FORCE_TCG}`,
      })
    }
    return {
      accel: 'kvm',
      hint: host.pvm
        ? `KVM was forced (${KVM_ENV.accel}=kvm), but this host's /dev/kvm is provided by kvm_pvm, under which standard guest kernels hang: ${FORCE_TCG}`
        : `the guest hung under KVM (${KVM_ENV.accel}=kvm): ${FORCE_TCG}`,
    }
  }
  if (want !== 'auto') {
    throw new RktError(`${KVM_ENV.accel}="${requested}" is not one of auto, kvm, tcg`, {
      code: 'EUSAGE',
      hint: `unset ${KVM_ENV.accel}, or set it to kvm or tcg`,
    })
  }
  if (host.kvmUsable && !host.pvm)
    return {accel: 'kvm', hint: `the guest hung under KVM: ${FORCE_TCG}, or raise ${KVM_ENV.bootTimeout}`}
  return {
    accel: 'tcg',
    notice: host.pvm
      ? `stage1-kvm: /dev/kvm is provided by kvm_pvm, under which standard guest kernels hang: using software emulation (TCG); ${KVM_ENV.accel}=kvm forces KVM`
      : 'stage1-kvm: /dev/kvm is not usable: using software emulation (TCG)',
    hint: `software emulation (TCG) is slow on this host: raise ${KVM_ENV.bootTimeout} (seconds) if it is just slow`,
  }
}

/** Seconds QEMU has to bring the guest's init up before it is killed: generous for TCG, short for KVM. */
export function bootTimeoutMs(accel: Accel, value: string | undefined): number {
  if (value === undefined || value.trim() === '') return accel === 'tcg' ? 60_000 : 15_000
  const s = Number(value)
  if (!Number.isFinite(s) || s <= 0) {
    throw new RktError(`${KVM_ENV.bootTimeout}="${value}" is not a positive number of seconds`, {
      code: 'EUSAGE',
      hint: `set ${KVM_ENV.bootTimeout} to e.g. 30, or unset it`,
    })
  }
  return Math.round(s * 1000)
}

/**
 * The host's TSC frequency in kHz from /proc/cpuinfo ("cpu MHz"): under TCG, Debian-configured kernels
 * calibrate the TSC against an emulated timer and hang about one boot in three to eight without
 * `tsc_early_khz` (measured on Debian 12 hosts). Undefined when cpuinfo has no such line.
 */
export function tscKhz(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo)
  if (!m) return undefined
  const khz = Math.round(Number(m[1]) * 1000)
  return khz > 0 ? khz : undefined
}
