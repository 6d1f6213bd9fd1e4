// The pod's CNI networks, carried into the VM (stage1-kvm/README.md "Networking"). The CNI plugins set
// up the pod's namespace exactly as for nspawn: eth0, eth1… with their addresses and routes. Here each
// ethN gets a tap (tapN) in the same namespace, joined to it by two tc mirred redirects (every frame in
// on ethN goes out on tapN and back), and the guest's NIC on tapN takes ethN's MAC, addresses and routes:
// to the host and the other pods, the VM is the interface the plugin made. No bridge, no address
// translation, any plugin's result.
import {execa} from 'execa'

import {RktError} from '@rkt/core/stage1'

import type {VmNic} from './qemu.js'

/** One pod interface as `ip -j addr` and `ip -j route` show it inside the pod's namespace. */
export interface PodInterface {
  readonly name: string
  readonly mac: string
  readonly mtu: number
  /** IPv4 and IPv6 CIDRs (global scope: the guest makes its own link-local address, from the same MAC). */
  readonly addrs: readonly string[]
  readonly routes: readonly Route[]
  /**
   * IPv6 routes the guest's kernel makes by itself and the namespace has not (an address's prefix route,
   * which ptp replaces by one via the gateway): the guest deletes them.
   */
  readonly dropRoutes6: readonly string[]
}

export interface Route {
  readonly family: 4 | 6
  readonly dst: string
  readonly gateway?: string
  readonly scope?: string
  readonly src?: string
  readonly metric?: number
}

interface IpAddrJson {
  ifname: string
  address?: string
  mtu?: number
  link_type?: string
  addr_info?: {family: string; local: string; prefixlen: number; scope?: string}[]
}
interface IpRouteJson {
  dst: string
  type?: string
  gateway?: string
  dev?: string
  scope?: string
  prefsrc?: string
  protocol?: string
  metric?: number
}

/** The metric of the routes an IPv6 address gives its link (the kernel's IP6_RT_PRIO_ADDRCONF). */
const ADDRCONF_METRIC = 256

/** An IPv6 address as its 8 groups. */
function groups6(addr: string): number[] {
  const [head = '', tail] = addr.split('::')
  const part = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const h = part(head)
  const t = part(tail)
  return tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t]
}

/** The network of an IPv6 CIDR, written out in full (`ip` reads any form), e.g. fd00:0:0:0:0:0:0:0/64. */
export function prefix6(cidr: string): string {
  const [addr = '', len = '128'] = cidr.split('/')
  const bits = Number(len)
  const masked = groups6(addr).map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - 16 * i))
    return g & (keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff)
  })
  return `${masked.map((g) => g.toString(16)).join(':')}/${bits}`
}

/** Whether two IPv6 prefixes (`::/0`, `default`, any spelling) are the same. */
const samePrefix6 = (a: string, b: string): boolean => {
  const norm = (p: string): string => prefix6(p === 'default' ? '::/0' : p.includes('/') ? p : `${p}/128`)
  return norm(a) === norm(b)
}

/**
 * Parses `ip -j addr show` and `ip -j -4 route show table main` / `ip -j -6 route show table main` of the pod's
 * namespace. IPv4 routes are taken whole: the guest flushes the ones its kernel adds and makes these, since
 * plugins such as ptp replace the connected route. IPv6 routes cannot be flushed that way (the link's
 * multicast route goes with them, and neighbour discovery with it), so the guest keeps its kernel's own
 * (`proto kernel`: the link-local and prefix routes, which its addresses give it as they gave the
 * namespace), deletes the prefix routes the namespace lacks, and adds the rest.
 */
export function parseInterfaces(addrJson: string, routes4Json: string, routes6Json = '[]'): PodInterface[] {
  const links = JSON.parse(addrJson) as IpAddrJson[]
  const routes4 = JSON.parse(routes4Json) as IpRouteJson[]
  // Only unicast routes: the multicast and local ones are the kernel's, made by the guest's as well.
  const routes6 = (JSON.parse(routes6Json) as IpRouteJson[]).filter((r) => (r.type ?? 'unicast') === 'unicast')
  const global = (l: IpAddrJson, family: string): string[] =>
    (l.addr_info ?? [])
      .filter((a) => a.family === family && (a.scope ?? 'global') === 'global')
      .map((a) => `${a.local}/${a.prefixlen}`)
  const route = (family: 4 | 6, r: IpRouteJson): Route => ({
    family,
    dst: r.dst,
    ...(r.gateway !== undefined ? {gateway: r.gateway} : {}),
    ...(r.scope !== undefined ? {scope: r.scope} : {}),
    ...(r.prefsrc !== undefined ? {src: r.prefsrc} : {}),
    ...(family === 6 && r.metric !== undefined ? {metric: r.metric} : {}),
  })
  return links
    .filter((l) => l.link_type === 'ether' && l.address !== undefined && /^eth\d+$/.test(l.ifname))
    .map((l) => {
      const mine6 = routes6.filter((r) => r.dev === l.ifname)
      const kernel6 = mine6.filter((r) => r.protocol === 'kernel' && r.gateway === undefined)
      const addrs6 = global(l, 'inet6')
      return {
        name: l.ifname,
        mac: l.address!,
        mtu: l.mtu ?? 1500,
        addrs: [...global(l, 'inet'), ...addrs6],
        routes: [
          ...routes4.filter((r) => r.dev === l.ifname).map((r) => route(4, r)),
          ...mine6.filter((r) => !kernel6.includes(r)).map((r) => route(6, r)),
        ],
        dropRoutes6: [...new Set(addrs6.filter((a) => !a.endsWith('/128')).map(prefix6))].filter(
          (p) => !kernel6.some((r) => (r.metric ?? ADDRCONF_METRIC) === ADDRCONF_METRIC && samePrefix6(r.dst, p)),
        ),
      }
    })
    .sort((a, b) => Number(a.name.slice(3)) - Number(b.name.slice(3)))
}

async function inNetns(netns: string, argv: string[], input?: string): Promise<string> {
  const r = await execa('nsenter', [`--net=${netns}`, '--', ...argv], {
    reject: false,
    ...(input !== undefined ? {input} : {stdin: 'ignore'}),
  })
  if (r.exitCode !== 0) {
    throw new RktError(
      `cannot set up the VM's network (${argv.join(' ')}): ${String(r.stderr).trim() || r.shortMessage}`,
      {
        code: 'ENET',
        hint: 'the host needs iproute2 (ip, tc) and tun, ingress and mirred support in its kernel',
      },
    )
  }
  return String(r.stdout)
}

/** Reads the pod's interfaces, then gives each its tap and the two redirects. */
export async function bridgeTaps(netns: string): Promise<{interfaces: PodInterface[]; nics: VmNic[]}> {
  const [addrs, routes4, routes6] = await Promise.all([
    inNetns(netns, ['ip', '-j', 'addr', 'show']),
    inNetns(netns, ['ip', '-j', '-4', 'route', 'show', 'table', 'main']),
    inNetns(netns, ['ip', '-j', '-6', 'route', 'show', 'table', 'main']),
  ])
  const interfaces = parseInterfaces(addrs, routes4, routes6)
  if (interfaces.length === 0) return {interfaces, nics: []}
  const nics = interfaces.map((i) => ({tap: `tap${i.name.slice(3)}`, mac: i.mac}))
  const ip: string[] = []
  const tc: string[] = []
  interfaces.forEach((i, n) => {
    const tap = nics[n]!.tap
    ip.push(`tuntap add dev ${tap} mode tap`, `link set dev ${tap} mtu ${i.mtu} up`)
    for (const [from, to] of [
      [i.name, tap],
      [tap, i.name],
    ]) {
      tc.push(`qdisc add dev ${from} ingress`)
      tc.push(
        `filter add dev ${from} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${to}`,
      )
    }
  })
  await inNetns(netns, ['ip', '-batch', '-'], ip.join('\n') + '\n')
  await inNetns(netns, ['tc', '-batch', '-'], tc.join('\n') + '\n')
  return {interfaces, nics}
}

/** A word for busybox sh, quoted. */
export const sh = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * The guest's part, as busybox sh lines: find each NIC by MAC, name it as on the host (through temporary
 * names, so that eth0 and eth1 can swap; not at all when the kernel's names are right already, as with one
 * NIC), then addresses, then exactly the namespace's routes (link-scope ones first: a gateway must be
 * reachable when its route is added). Every `ip` is a fork, slow under TCG: the rest is shell builtins.
 */
export function guestNetScript(interfaces: readonly PodInterface[]): string[] {
  const lines = ['ip link set lo up']
  if (interfaces.length === 0) return lines
  const macs = interfaces.map((i, n) => `${sh(i.mac.toLowerCase())}) n${n}=\${d##*/} ;;`)
  lines.push(`for d in /sys/class/net/*; do read -r m < "$d/address" || m=; case "$m" in ${macs.join(' ')} esac; done`)
  for (const [n, i] of interfaces.entries())
    lines.push(`[ -n "\${n${n}-}" ] || { echo "no NIC with MAC ${i.mac}" >&2; exit 254; }`)
  const found = interfaces.map((_, n) => `\${n${n}}`).join(' ')
  const renames = [
    ...interfaces.map((_, n) => `ip link set dev "\${n${n}}" name rkt-nic${n}`),
    ...interfaces.map((i, n) => `ip link set dev rkt-nic${n} name ${i.name}`),
  ]
  lines.push(`if [ "${found}" != ${sh(interfaces.map((i) => i.name).join(' '))} ]; then ${renames.join('; ')}; fi`)
  interfaces.forEach((i) => {
    // Before the link is up: no duplicate address detection (the addresses are the namespace's, already
    // checked there; DAD would hold each one back for a second), and no router advertisements (the guest
    // has the namespace's addresses and routes as they were, as for IPv4).
    for (const knob of ['accept_dad', 'accept_ra']) lines.push(`echo 0 > /proc/sys/net/ipv6/conf/${i.name}/${knob}`)
    lines.push(`ip link set dev ${i.name} mtu ${i.mtu} up`)
    for (const a of i.addrs) lines.push(`ip addr add ${sh(a)} dev ${i.name}`)
    lines.push(`ip -4 route flush dev ${i.name}`)
    for (const p of i.dropRoutes6) lines.push(`ip -6 route del ${sh(p)} dev ${i.name} metric ${ADDRCONF_METRIC}`)
  })
  for (const i of interfaces) {
    const ordered = [...i.routes].sort((a, b) => Number(a.gateway !== undefined) - Number(b.gateway !== undefined))
    for (const r of ordered) {
      const words = [`ip -${r.family} route add ${sh(r.dst)}`]
      if (r.gateway !== undefined) words.push(`via ${sh(r.gateway)}`)
      words.push(`dev ${i.name}`)
      if (r.scope !== undefined && r.scope !== 'global') words.push(`scope ${sh(r.scope)}`)
      if (r.src !== undefined) words.push(`src ${sh(r.src)}`)
      if (r.metric !== undefined) words.push(`metric ${r.metric}`)
      lines.push(words.join(' '))
    }
  }
  return lines
}
