// A pod's contained networks, end to end: the namespace, one CNI ADD per network (eth0, eth1, …, with
// forwarded ports on one of them), the results in `net-info.json` for list/status, and the teardown gc runs.
// Everything gc needs is written to the pod's `net-state.json` before each ADD, so a run that fails or is
// SIGKILLed halfway is still undone completely.
import fs from 'node:fs'
import path from 'node:path'

import type {NetInfo, PodPaths, PortMapping, ResolvConf} from '@rkt/core/stage1'
import type {ActiveNet, NetConfList, PluginConf} from './config.js'
import type {HostSocket, SocketHolder} from './sockets.js'

import {ENV, RktError, writeFileAtomic} from '@rkt/core/stage1'

import {cniAdd, cniDel} from './cni.js'
import {
  BUILTIN_NET_DIR,
  CNI_VERSION,
  findPlugin,
  loadNetConfs,
  parseNetList,
  pluginSearchPath,
  selectNetworks,
} from './config.js'
import {createNetns, isNetnsMounted, removeNetns} from './netns.js'
import {resultDns, resultIp} from './result.js'
import {canonicalIp, hostSockets, socketHolders} from './sockets.js'

const LOOPBACK_NET: NetConfList = {
  name: 'lo',
  cniVersion: CNI_VERSION,
  file: '<loopback>',
  plugins: [{type: 'loopback'}],
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

/** Where host-local keeps the leases: stage0 says (ENV.networksDir), one directory for all the pods of a data dir. */
function networksDir(): string {
  const dir = process.env[ENV.networksDir]
  if (dir === undefined || !path.isAbsolute(dir)) {
    throw new RktError(`${ENV.networksDir} is not set to an absolute path: contained networks need it from stage0`, {
      code: 'ECONTRACT',
      hint: 'the stage1 must be started by rkt run, which names the data directory’s networks/ there',
    })
  }
  return dir
}

export interface SetupOptions {
  readonly uuid: string
  /** The --net value the stage1 was given. */
  readonly netList: string
  readonly localConfig: string
  readonly ports: readonly PortMapping[]
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
 * Sets up a contained pod's networks; undefined for --net=host and --net=none (no CNI). On failure whatever
 * was set up is torn down again before the error is thrown.
 */
export async function setupPodNetworks(paths: PodPaths, o: SetupOptions): Promise<PodNetworks | undefined> {
  const mode = parseNetList(o.netList)
  if (mode.kind !== 'contained') return undefined
  const netDir = path.join(o.localConfig, 'net.d')
  const active = selectNetworks(
    mode,
    loadNetConfs(netDir),
    loadNetConfs(path.join(paths.stage1Rootfs, BUILTIN_NET_DIR)),
  )
  const ipamDir = networksDir()
  const fwd = o.ports.length > 0 ? forwardingNet(active) : -1
  const state: PodNetState = {
    version: 1,
    containerId: o.uuid,
    searchPath: pluginSearchPath(netDir),
    nets: active.map((a, i) => ({
      net: withIpamDir(i === fwd ? withPortmap(a.net) : a.net, ipamDir),
      args: a.args,
      ifName: a.ifName,
      runtimeConfig: i === fwd ? {portMappings: o.ports} : {},
    })),
  }
  // Another pod's forward of these ports stage0 refused (or freed, when that pod had exited) already.
  if (fwd >= 0) refuseHostListeners(o.ports)
  fs.mkdirSync(ipamDir, {recursive: true, mode: 0o700})
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
