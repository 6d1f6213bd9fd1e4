// Capability sets as the supervisor takes them: one mask (bit N = capability N, linux/capability.h), from an
// app's os/linux/capabilities-{retain,remove}-set isolators or appc's default set (0xa80425fb), narrowed to
// what this host can grant at all. nspawn gives its container a set of its own (0xfcecafff on systemd 252,
// measured on Debian 12): a capability an app keeps beyond it must be asked of nspawn by name.
import fs from 'node:fs'

/** Linux capability numbers (linux/capability.h), by name. */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
}

/** What systemd-nspawn 252 leaves its container without --capability (measured on Debian 12). */
export const NSPAWN_DEFAULT_CAPS = 0xfcecafffn

/** A mask from capability names (`CAP_NET_ADMIN`, also `net_admin`); names this table lacks are returned apart. */
export function capMask(names: readonly string[]): {mask: bigint; unknown: string[]} {
  let mask = 0n
  const unknown: string[] = []
  for (const name of names) {
    const upper = name.toUpperCase()
    const bit = CAPABILITIES[upper.startsWith('CAP_') ? upper : `CAP_${upper}`]
    if (bit === undefined) unknown.push(name)
    else mask |= 1n << BigInt(bit)
  }
  return {mask, unknown}
}

/** The names of the capabilities in a mask, in number order. */
export function capNames(mask: bigint): string[] {
  return Object.entries(CAPABILITIES)
    .filter(([, bit]) => (mask >> BigInt(bit)) & 1n)
    .map(([name]) => name)
}

/** The capability bounding set of this process (CapBnd in /proc/self/status): the most any pod can get. */
export function hostBoundingSet(status = fs.readFileSync('/proc/self/status', 'utf8')): bigint {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1]
  return hex === undefined ? 0n : BigInt(`0x${hex}`)
}
