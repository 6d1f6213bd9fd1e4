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
  /** IPv4 CIDRs (global scope). */
  readonly addrs: readonly string[]
  readonly routes: readonly Route[]
}

export interface Route {
  readonly dst: string
  readonly gateway?: string
  readonly scope?: string
  readonly src?: string
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
  gateway?: string
  dev?: string
  scope?: string
  prefsrc?: string
  protocol?: string
}

/**
 * Parses `ip -j addr show` and `ip -j -4 route show` of the pod's namespace. IPv4 only: the guest kernel
 * has no IPv6 (kernel/guest.config: it costs boot time and the built-in networks are IPv4), so global IPv6
 * addresses are returned apart, for a warning. Routes are taken whole: the guest flushes the ones its kernel
 * adds and makes these, since plugins such as ptp replace the connected route.
 */
export function parseInterfaces(addrJson: string, routes4Json: string): {interfaces: PodInterface[]; ipv6: string[]} {
  const links = JSON.parse(addrJson) as IpAddrJson[]
  const routes = JSON.parse(routes4Json) as IpRouteJson[]
  const global = (l: IpAddrJson, family: string): string[] =>
    (l.addr_info ?? [])
      .filter((a) => a.family === family && (a.scope ?? 'global') === 'global')
      .map((a) => `${a.local}/${a.prefixlen}`)
  const ethers = links.filter((l) => l.link_type === 'ether' && l.address !== undefined && /^eth\d+$/.test(l.ifname))
  const interfaces = ethers
    .filter((l) => l.link_type === 'ether' && l.address !== undefined && /^eth\d+$/.test(l.ifname))
    .map((l) => ({
      name: l.ifname,
      mac: l.address!,
      mtu: l.mtu ?? 1500,
      addrs: global(l, 'inet'),
      routes: routes
        .filter((r) => r.dev === l.ifname)
        .map((r) => ({
          dst: r.dst,
          ...(r.gateway !== undefined ? {gateway: r.gateway} : {}),
          ...(r.scope !== undefined ? {scope: r.scope} : {}),
          ...(r.prefsrc !== undefined ? {src: r.prefsrc} : {}),
        })),
    }))
    .sort((a, b) => Number(a.name.slice(3)) - Number(b.name.slice(3)))
  return {interfaces, ipv6: ethers.flatMap((l) => global(l, 'inet6').map((a) => `${a} on ${l.ifname}`))}
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
export async function bridgeTaps(netns: string): Promise<{interfaces: PodInterface[]; nics: VmNic[]; ipv6: string[]}> {
  const [addrs, routes4] = await Promise.all([
    inNetns(netns, ['ip', '-j', 'addr', 'show']),
    inNetns(netns, ['ip', '-j', '-4', 'route', 'show', 'table', 'main']),
  ])
  const {interfaces, ipv6} = parseInterfaces(addrs, routes4)
  if (interfaces.length === 0) return {interfaces, nics: [], ipv6}
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
  return {interfaces, nics, ipv6}
}

/** A word for busybox sh, quoted. */
export const sh = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * The guest's part, as busybox sh lines: find each NIC by MAC, name it as on the host (through a temporary
 * name, so that eth0 and eth1 can swap), then addresses, then exactly the namespace's routes (link-scope
 * ones first: a gateway must be reachable when its route is added).
 */
export function guestNetScript(interfaces: readonly PodInterface[]): string[] {
  const lines = ['ip link set lo up']
  interfaces.forEach((i, n) => {
    lines.push(
      `d=$(grep -l -x -i ${sh(i.mac)} /sys/class/net/*/address) || { echo "no NIC with MAC ${i.mac}" >&2; exit 254; }`,
      `d=\${d%/address}; ip link set dev "\${d##*/}" name rkt-nic${n}`,
    )
  })
  interfaces.forEach((i, n) => {
    lines.push(`ip link set dev rkt-nic${n} name ${i.name}`)
    lines.push(`ip link set dev ${i.name} mtu ${i.mtu} up`)
    for (const a of i.addrs) lines.push(`ip addr add ${sh(a)} dev ${i.name}`)
    lines.push(`ip -4 route flush dev ${i.name}`)
  })
  for (const i of interfaces) {
    const ordered = [...i.routes].sort((a, b) => Number(a.gateway !== undefined) - Number(b.gateway !== undefined))
    for (const r of ordered) {
      const words = [`ip route add ${sh(r.dst)}`]
      if (r.gateway !== undefined) words.push(`via ${sh(r.gateway)}`)
      words.push(`dev ${i.name}`)
      if (r.scope !== undefined && r.scope !== 'global') words.push(`scope ${sh(r.scope)}`)
      if (r.src !== undefined) words.push(`src ${sh(r.src)}`)
      lines.push(words.join(' '))
    }
  }
  return lines
}
