// What we read from a CNI result: the pod's IPv4 address on the network and the DNS settings. Spec 0.3.0 and
// later list `ips[]` (with `interface` indices into `interfaces[]`); 0.1.0/0.2.0 have a single `ip4`.
import type {ResolvConf} from '@rkt/core/stage1'

/** The pod-side IPv4 address of a result. */
export interface ResultIp {
  /** e.g. 172.16.28.5 */
  readonly ip: string
  /** Dotted, e.g. 255.255.255.0 */
  readonly mask: string
  readonly gateway?: string
}

const obj = (x: unknown): Record<string, unknown> | undefined =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined

/** A prefix length as a dotted IPv4 mask. */
export function prefixToMask(prefix: number): string {
  const bits = prefix <= 0 ? 0 : (0xffffffff << (32 - Math.min(prefix, 32))) >>> 0
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.')
}

function fromCidr(cidr: unknown, gateway: unknown): ResultIp | undefined {
  if (typeof cidr !== 'string') return undefined
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr)
  if (!m) return undefined
  return {ip: m[1]!, mask: prefixToMask(Number(m[2])), ...(typeof gateway === 'string' ? {gateway} : {})}
}

/** The first IPv4 address given to the pod (on an interface inside the sandbox, when interfaces are named). */
export function resultIp(result: unknown): ResultIp | undefined {
  const r = obj(result)
  if (r === undefined) return undefined
  const ip4 = obj(r['ip4'])
  if (ip4 !== undefined) return fromCidr(ip4['ip'], ip4['gateway'])
  const ifaces = Array.isArray(r['interfaces']) ? r['interfaces'] : []
  for (const x of Array.isArray(r['ips']) ? r['ips'] : []) {
    const ip = obj(x)
    if (ip === undefined) continue
    const idx = ip['interface']
    const iface = typeof idx === 'number' ? obj(ifaces[idx]) : undefined
    // An address on a host-side interface (no sandbox) is not the pod's.
    if (iface !== undefined && typeof iface['sandbox'] !== 'string') continue
    const found = fromCidr(ip['address'], ip['gateway'])
    if (found !== undefined) return found
  }
  return undefined
}

/** The result's DNS settings, when it has a nameserver. */
export function resultDns(result: unknown): ResolvConf | undefined {
  const dns = obj(obj(result)?.['dns'])
  if (dns === undefined) return undefined
  const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s) => typeof s === 'string') : [])
  const nameservers = strings(dns['nameservers'])
  if (nameservers.length === 0) return undefined
  const domain = dns['domain']
  return {
    nameservers,
    search: strings(dns['search']),
    options: strings(dns['options']),
    ...(typeof domain === 'string' && domain !== '' ? {domain} : {}),
  }
}
