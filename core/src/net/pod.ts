// A pod's contained networks, end to end: the namespace, one CNI ADD per network (eth0, eth1, …, with
// forwarded ports on one of them), the results in `net-info.json` for list/status, and the teardown gc runs.
// Everything gc needs is written to the pod's `net-state.json` before each ADD, so a run that fails or is
// SIGKILLed halfway is still undone completely.
import fs from 'node:fs'
import path from 'node:path'

import type {NetInfo} from '../pod/info.js'
import type {ResolvConf} from '../contract/resolv-conf.js'
import type {App, ExposedPort} from '../schema/index.js'
import type {ActiveNet, NetConfList, PluginConf} from './config.js'
import type {HostSocket, SocketHolder} from './sockets.js'

import {RktError} from '../errors.js'
import {PodStore} from '../pod/pods.js'
import {PodPaths} from '../contract/paths.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {cniAdd, cniDel} from './cni.js'
import {CNI_VERSION, findPlugin, loadNetConfs, parseNetList, pluginSearchPath, selectNetworks} from './config.js'
import {createNetns, isNetnsMounted, removeNetns} from './netns.js'
import {resultDns, resultIp} from './result.js'
import {canonicalIp, hostSockets, socketHolders} from './sockets.js'

const LOOPBACK_NET: NetConfList = {
  name: 'lo',
  cniVersion: CNI_VERSION,
  file: '<built-in>',
  plugins: [{type: 'loopback'}],
}

/** A forwarded port, as the portmap plugin's `portMappings` capability takes it. */
export interface PortMapping {
  readonly hostPort: number
  readonly containerPort: number
  readonly protocol: string
  /** Absent: every host address. */
  readonly hostIP?: string
}

/**
 * The pod manifest's forwarded ports as portmap mappings: each names an app port (stage0 checked that exactly
 * one app has it) unless it carries its own podPort.
 */
export function portMappings(ports: readonly ExposedPort[], apps: readonly App[]): PortMapping[] {
  return ports.map((ep) => {
    const pod = ep.podPort ?? apps.flatMap((a) => a.ports).find((p) => p.name === ep.name)
    if (pod === undefined) {
      throw new RktError(`port "${ep.name}" is not a port of any app in the pod`, {
        code: 'EPORT',
        hint: 'forward only ports the images declare (their app.ports)',
      })
    }
    return {
      hostPort: ep.hostPort,
      containerPort: pod.port,
      protocol: pod.protocol ?? 'tcp',
      ...(ep.hostIP === undefined ? {} : {hostIP: ep.hostIP}),
    }
  })
}

/** One network in net-state.json. */
interface NetState {
  readonly net: NetConfList
  readonly args: string
  readonly ifName: string
  readonly runtimeConfig: Record<string, unknown>
  /** Absent until its ADD succeeded. */
  result?: unknown
}

interface PodNetState {
  readonly version: 1
  readonly containerId: string
  readonly searchPath: string[]
  readonly nets: NetState[]
}

/** What the pod's start needs from its networks. */
export interface PodNetworks {
  /** The namespace file nspawn joins. */
  readonly netns: string
  /** The first result carrying DNS settings (rkt: it makes the pod's resolv.conf unless --dns says otherwise). */
  readonly dns?: ResolvConf
  /** The host's address as the pod sees it: the gateway of the network that reaches out (AC_METADATA_URL). */
  readonly hostIp?: string
}

/**
 * The network forwarded ports go to: the first with IP masquerading (reachable from outside through the
 * host), else the last (rkt's rule).
 */
export function forwardingNet(nets: readonly ActiveNet[]): number {
  const i = nets.findIndex((n) => n.net.plugins.some((p) => p['ipMasq'] === true))
  return i >= 0 ? i : nets.length - 1
}

/**
 * Chains the portmap plugin after the forwarding network. It installs DNAT for traffic arriving from outside
 * and for the host's own (including 127.0.0.1: `snat` masquerades it and turns on route_localnet for the
 * pod's host-side interface), and removes its chains on DEL.
 */
export function withPortmap(net: NetConfList): NetConfList {
  const [major = 0, minor = 0] = net.cniVersion.split('.').map(Number)
  if (major === 0 && minor < 3) {
    throw new RktError(`--port needs network "${net.name}" at cniVersion 0.3.0 or later (it has ${net.cniVersion})`, {
      code: 'EPORT',
      hint: `raise "cniVersion" in ${net.file}: forwarding chains the portmap plugin after it`,
    })
  }
  const portmap: PluginConf = {type: 'portmap', capabilities: {portMappings: true}, snat: true}
  return {...net, plugins: [...net.plugins, portmap]}
}

/**
 * CNI_ARGS as plugins get them: every plugin of a chain parses the same variable and, by default, refuses keys
 * it does not know (bridge refuses IP=, which only its IPAM reads); IgnoreUnknown=1 is the convention that
 * lets each take its own.
 */
export function cniArgs(args: string): string {
  return args === '' ? '' : `IgnoreUnknown=1;${args}`
}

/** host-local keeps its leases under the data dir unless the configuration says where. */
function withIpamDir(net: NetConfList, dir: string): NetConfList {
  const plugins = net.plugins.map((p) => {
    const ipam = p['ipam'] as Record<string, unknown> | undefined
    if (ipam?.['type'] !== 'host-local' || ipam['dataDir'] !== undefined) return p
    return {...p, ipam: {...ipam, dataDir: dir}}
  })
  return {...net, plugins}
}

function saveState(paths: PodPaths, s: PodNetState): void {
  writeFileAtomic(paths.netState, `${JSON.stringify(s)}\n`)
}

function netInfoOf(n: NetState, searchPath: readonly string[]): NetInfo {
  const ip = resultIp(n.result)
  let pluginPath = ''
  try {
    pluginPath = findPlugin(n.net.plugins[0]?.type ?? '', searchPath)
  } catch {
    // shown empty
  }
  return {
    netName: n.net.name,
    netConf: n.net.file,
    pluginPath,
    ifName: n.ifName,
    ip: ip?.ip ?? '',
    args: n.args,
    mask: ip?.mask ?? '',
  }
}

export interface SetupOptions {
  readonly uuid: string
  /** The --net value the stage1 was given. */
  readonly netList: string
  readonly localConfig: string
  readonly ports: readonly PortMapping[]
}

/** Two mappings claim the same host port: same protocol and port, and an address in common. */
function collides(a: PortMapping, b: PortMapping): boolean {
  return (
    a.hostPort === b.hostPort &&
    a.protocol === b.protocol &&
    (a.hostIP === undefined || b.hostIP === undefined || a.hostIP === b.hostIP)
  )
}

const ANY_ADDRESS = ['0.0.0.0', '::']

/**
 * Whether the forward takes traffic meant for a host socket: same protocol and port, and an address in common.
 * A forward without HOSTIP takes every address, the host's own 127.0.0.1 included (portmap's snat); a socket on
 * the wildcard address is meant every address's traffic.
 */
export function shadows(p: PortMapping, s: HostSocket): boolean {
  if (s.protocol !== p.protocol || s.port !== p.hostPort) return false
  const ip = p.hostIP === undefined ? '0.0.0.0' : canonicalIp(p.hostIP)
  return ANY_ADDRESS.includes(ip) || ANY_ADDRESS.includes(s.address) || ip === s.address
}

const holdersText = (hs: readonly SocketHolder[]): string =>
  hs.length === 0 ? 'a socket no process holds' : hs.map((h) => `${h.comm} (pid ${h.pid})`).join(', ')

/**
 * Refuses a host port a host service listens on (TCP) or is bound to (UDP): portmap's DNAT comes before the
 * host's own sockets and would silently take that service's traffic. Read from the namespace rkt runs in,
 * before anything of the pod's networks exists.
 */
function refuseHostListeners(ports: readonly PortMapping[]): void {
  const tables = new Map<string, HostSocket[]>()
  for (const p of ports) {
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') continue
    const sockets = tables.get(p.protocol) ?? hostSockets(p.protocol)
    tables.set(p.protocol, sockets)
    const s = sockets.find((x) => shadows(p, x))
    if (s === undefined) continue
    const holders = socketHolders(s.inode)
    const address = s.address.includes(':') ? `[${s.address}]` : s.address
    throw new RktError(
      `host port ${p.hostPort}/${p.protocol} is in use on the host: ${holdersText(holders)} ${holders.length > 1 ? 'listen' : 'listens'} on ${address}:${s.port}`,
      {code: 'EPORTINUSE', hint: 'forward another host port: --port=NAME:OTHERPORT, or stop that service'},
    )
  }
}

/**
 * Frees the host ports this pod forwards. A pod that exited by itself keeps its networks, port forwards included,
 * until gc (as in rkt) or rkt stop, and its DNAT rule would come first and swallow the new pod's traffic: the networks of such a
 * pod are torn down now, under its lock, with a notice. A running pod's forward is a conflict: refused.
 */
async function releaseHostPorts(paths: PodPaths, uuid: string, ports: readonly PortMapping[]): Promise<void> {
  const store = new PodStore(path.resolve(paths.root, '..', '..', '..'))
  for (const pod of store.list()) {
    if (pod.uuid === uuid || !['run', 'exited-garbage'].includes(pod.dirState)) continue
    let other: PodNetState
    try {
      other = JSON.parse(fs.readFileSync(pod.paths.netState, 'utf8')) as PodNetState
    } catch {
      continue // no networks left (collected, or never had any)
    }
    const theirs = other.nets.flatMap((n) => (n.runtimeConfig['portMappings'] as PortMapping[] | undefined) ?? [])
    const clash = ports.find((p) => theirs.some((q) => collides(p, q)))
    if (clash === undefined) continue
    const lock = FileLock.tryOnDir(pod.path, true)
    if (lock === undefined) {
      throw new RktError(
        `host port ${clash.hostPort}/${clash.protocol} is forwarded to pod ${pod.uuid}, which is running`,
        {
          code: 'EPORTINUSE',
          hint: `forward another host port (--port=NAME:PORT), or stop that pod first: rkt stop ${pod.uuid}`,
        },
      )
    }
    try {
      process.stderr.write(
        `rkt: releasing host port ${clash.hostPort}/${clash.protocol} from exited pod ${pod.uuid} (its networks go now rather than at gc)\n`,
      )
      await teardownPodNetworks(pod.paths)
    } finally {
      lock.release()
    }
  }
}

/**
 * Sets up a contained pod's networks; undefined for --net=host and --net=none (no CNI). On failure whatever
 * was set up is torn down again before the error is thrown.
 */
export async function setupPodNetworks(paths: PodPaths, o: SetupOptions): Promise<PodNetworks | undefined> {
  const mode = parseNetList(o.netList)
  if (mode.kind !== 'contained') return undefined
  const netDir = path.join(o.localConfig, 'net.d')
  const active = selectNetworks(mode, loadNetConfs(netDir))
  const fwd = o.ports.length > 0 ? forwardingNet(active) : -1
  const state: PodNetState = {
    version: 1,
    containerId: o.uuid,
    searchPath: pluginSearchPath(netDir),
    nets: active.map((a, i) => ({
      net: withIpamDir(i === fwd ? withPortmap(a.net) : a.net, paths.ipamDir),
      args: a.args,
      ifName: a.ifName,
      runtimeConfig: i === fwd ? {portMappings: o.ports} : {},
    })),
  }
  if (fwd >= 0) {
    refuseHostListeners(o.ports)
    await releaseHostPorts(paths, o.uuid, o.ports)
  }
  fs.mkdirSync(paths.ipamDir, {recursive: true, mode: 0o700})
  saveState(paths, state)
  try {
    await createNetns(paths.netns)
    // A fresh namespace's loopback is down, and nspawn leaves a namespace it is given alone (rkt brought it
    // up with the loopback plugin too). Nothing to undo: it goes with the namespace.
    await cniAdd(
      LOOPBACK_NET,
      {},
      {containerId: o.uuid, netns: paths.netns, ifName: 'lo', args: '', searchPath: state.searchPath},
    )
    for (const n of state.nets) {
      n.result = await cniAdd(n.net, n.runtimeConfig, {
        containerId: o.uuid,
        netns: paths.netns,
        ifName: n.ifName,
        args: cniArgs(n.args),
        searchPath: state.searchPath,
      })
      saveState(paths, state)
    }
  } catch (err) {
    // The ADD's error is the one to show; a teardown that fails too keeps net-state.json, and gc retries it.
    await teardownPodNetworks(paths).catch(() => {})
    throw err
  }
  writeFileAtomic(paths.netInfo, `${JSON.stringify(state.nets.map((n) => netInfoOf(n, state.searchPath)))}\n`)
  const dns = state.nets.map((n) => resultDns(n.result)).find((d) => d !== undefined)
  const hostIp = resultIp(state.nets[forwardingNet(active)]?.result)?.gateway
  return {netns: paths.netns, ...(dns === undefined ? {} : {dns}), ...(hostIp === undefined ? {} : {hostIp})}
}

/**
 * Undoes setupPodNetworks: DEL for every network in reverse order (also those whose ADD never finished:
 * a plugin may have left half its work), then the namespace. Idempotent: a second call finds nothing to do.
 * A failing DEL keeps net-state.json so the next gc tries again; its error is thrown after the rest is done.
 */
export async function teardownPodNetworks(paths: PodPaths): Promise<void> {
  let state: PodNetState | undefined
  try {
    state = JSON.parse(fs.readFileSync(paths.netState, 'utf8')) as PodNetState
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  let first: Error | undefined
  if (state !== undefined) {
    // The namespace stays mounted until here, whatever happened to the pod's processes: ptp looks up inside it
    // the addresses whose masquerade rules it removes. Without it (unmounted by hand) plugins still release
    // their leases.
    const netns = isNetnsMounted(paths.netns) ? paths.netns : ''
    for (const n of [...state.nets].reverse()) {
      try {
        await cniDel(n.net, n.runtimeConfig, n.result, {
          containerId: state.containerId,
          netns,
          ifName: n.ifName,
          args: cniArgs(n.args),
          searchPath: state.searchPath,
        })
      } catch (err) {
        first ??= err instanceof Error ? err : new Error(String(err))
      }
    }
  }
  removeNetns(paths.netns)
  if (first !== undefined) throw first
  fs.rmSync(paths.netState, {force: true})
}

/**
 * Tears down the networks of a pod that has exited (rkt stop: its host ports are free when stop returns), under
 * the pod's lock: it waits while gc or a new pod's releaseHostPorts holds it, and then finds their work done.
 * net-info.json stays, for list and status. Nothing to do for a pod without contained networks (no net-state.json).
 */
export async function releasePodNetworks(podDir: string): Promise<void> {
  let lock: FileLock
  try {
    lock = FileLock.onDir(podDir, {exclusive: true, wait: true})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // collected meanwhile
    throw err
  }
  try {
    // gc may have moved the pod (run/ to exited-garbage/) or deleted it while we waited: the descriptor knows where.
    const paths = new PodPaths(fs.readlinkSync(`/proc/self/fd/${lock.fd}`))
    if (fs.existsSync(paths.netState)) await teardownPodNetworks(paths)
  } finally {
    lock.release()
  }
}
