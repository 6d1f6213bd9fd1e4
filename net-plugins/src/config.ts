// Which networks a pod joins (as rkt chose them): the `--net` value the stage1 receives, the network
// configurations of `<local-config>/net.d` (`*.conf` single plugins and `*.conflist` chains, in filename
// order) and rkt's two built-in networks, `default` and `default-restricted` (net.d files of this package,
// shipped in the stage1 image).
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {RktError, UsageError} from '@rkt/core/stage1'

/** The highest CNI spec version Debian's containernetworking-plugins (1.1.1) speak. */
export const CNI_VERSION = '1.0.0'

/** A plugin's configuration as the plugin reads it on stdin (only the fields we look at are typed). */
export interface PluginConf {
  readonly type: string
  readonly [key: string]: unknown
}

/** A network: its name and its chain of plugins (a `.conf` file is a chain of one). */
export interface NetConfList {
  readonly name: string
  readonly cniVersion: string
  readonly plugins: readonly PluginConf[]
  /** The file it came from. */
  readonly file: string
}

/** A network the pod joins: which one, its CNI_ARGS and its interface in the pod. */
export interface ActiveNet {
  readonly net: NetConfList
  /** CNI_ARGS (`K=V;K2=V2`), empty when none. */
  readonly args: string
  readonly ifName: string
}

/** The names of rkt's two built-in networks; a user's net.d entry of either name replaces the built-in. */
export const DEFAULT_NET = 'default'
export const DEFAULT_RESTRICTED_NET = 'default-restricted'

/**
 * Where a stage1 image carries the built-in networks' net.d files, relative to its rootfs (rkt kept its
 * 99-default*.conf under the stage1's etc/rkt/net.d too). The files are this package's net.d/; image builds copy
 * them in (builtinNetFiles), and a pod reads them from its own stage1 rootfs.
 */
export const BUILTIN_NET_DIR = 'etc/rkt/net.d'

/** This package's net.d/ (from its dist/): the built-in networks as real CNI configuration files. */
export function packageNetDir(): string {
  return fileURLToPath(new URL('../net.d', import.meta.url))
}

/** The files an image build puts in a stage1 rootfs for the built-in networks: path in the rootfs → text. */
export function builtinNetFiles(from = packageNetDir()): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(from).map((f) => [path.join(BUILTIN_NET_DIR, f), fs.readFileSync(path.join(from, f), 'utf8')]),
  )
}

/** One item of the --net value: a network name and its CNI_ARGS. */
export interface NetRequest {
  readonly name: string
  readonly args: string
}

/** How the pod is networked. */
export type NetMode =
  | {readonly kind: 'host'}
  | {readonly kind: 'none'}
  /** `all`, or the named networks in the order given (`default` for an empty value or bare --net). */
  | {readonly kind: 'contained'; readonly all: boolean; readonly nets: readonly NetRequest[]}

const NET_HINT = 'e.g. --net=default, --net=host, --net=none, --net=all or --net=mynet1:IP=10.1.2.3,mynet2'

/**
 * True for the plain `default` network stage0 hands the stage1 when `rkt run` got no --net: an engine
 * without networks of its own (fly, bwrap) gives such a pod the host's network, as it does for --net=host.
 */
export function isPlainDefault(mode: NetMode): boolean {
  return (
    mode.kind === 'contained' &&
    !mode.all &&
    mode.nets.length === 1 &&
    mode.nets[0]!.name === 'default' &&
    mode.nets[0]!.args === ''
  )
}

/** Reads the --net value stage0 hands the stage1 (its formatNetList form). */
export function parseNetList(value: string): NetMode {
  const items = value === '' ? ['default'] : value.split(',')
  const nets: NetRequest[] = []
  for (const item of items) {
    const colon = item.indexOf(':')
    const name = colon < 0 ? item : item.slice(0, colon)
    const args = colon < 0 ? '' : item.slice(colon + 1)
    if (name === '') throw new UsageError(`--net=${value}: a network name is empty`, {hint: NET_HINT})
    if (nets.some((n) => n.name === name)) {
      throw new UsageError(`--net=${value}: network "${name}" is given more than once`, {hint: NET_HINT})
    }
    nets.push({name, args})
  }
  const special = nets.find((n) => n.name === 'host' || n.name === 'none' || n.name === 'all')
  if (special !== undefined) {
    if (nets.length > 1) {
      throw new UsageError(`--net=${value}: "${special.name}" cannot be combined with other networks`, {
        hint: NET_HINT,
      })
    }
    if (special.args !== '' && special.name !== 'none') {
      throw new UsageError(`--net=${value}: "${special.name}" takes no arguments`, {hint: NET_HINT})
    }
    if (special.name === 'host') return {kind: 'host'}
    if (special.name === 'none') return {kind: 'none'}
    return {kind: 'contained', all: true, nets: []}
  }
  return {kind: 'contained', all: false, nets}
}

/** Reads one configuration file into a chain. */
export function parseNetConfFile(file: string, text: string): NetConfList {
  const bad = (problem: string): RktError =>
    new RktError(`network configuration ${file}: ${problem}`, {
      code: 'ENETCONF',
      hint: 'fix or remove the file (a CNI network configuration: name, cniVersion, type or plugins)',
    })
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object')
  const o = raw as Record<string, unknown>
  if (typeof o['name'] !== 'string' || o['name'] === '') throw bad('"name" is missing')
  const cniVersion = typeof o['cniVersion'] === 'string' ? o['cniVersion'] : '0.1.0'
  const isPlugin = (p: unknown): p is PluginConf =>
    typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>)['type'] === 'string'
  let plugins: PluginConf[]
  if (file.endsWith('.conflist')) {
    const list = o['plugins']
    if (!Array.isArray(list) || list.length === 0) throw bad('"plugins" must be a non-empty list')
    if (!list.every(isPlugin)) throw bad('every plugin needs a "type"')
    plugins = list
  } else {
    if (!isPlugin(o)) throw bad('"type" is missing')
    // The single plugin keeps its own fields; name and cniVersion are given to every plugin anyway.
    const {name: _name, cniVersion: _v, ...plugin} = o
    plugins = [plugin]
  }
  return {name: o['name'], cniVersion, plugins, file}
}

/** The configured networks: net.d files in filename order (later duplicates of a name are ignored). */
export function loadNetConfs(netDir: string): NetConfList[] {
  let names: string[]
  try {
    names = fs.readdirSync(netDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: NetConfList[] = []
  for (const name of names.filter((n) => n.endsWith('.conf') || n.endsWith('.conflist')).sort()) {
    const file = path.join(netDir, name)
    const net = parseNetConfFile(file, fs.readFileSync(file, 'utf8'))
    if (!out.some((n) => n.name === net.name)) out.push(net)
  }
  return out
}

/**
 * The networks a contained pod joins, in net.d filename order (the built-ins last, as rkt's 99-*.conf), each
 * with its interface eth0, eth1, …. `default-restricted` is added when `default` is not among them (rkt: the
 * host stays reachable, e.g. for the metadata service); a user network of a built-in's name replaces it.
 */
export function selectNetworks(
  mode: Extract<NetMode, {kind: 'contained'}>,
  configured: readonly NetConfList[],
  builtins: readonly NetConfList[],
): ActiveNet[] {
  const known = [...configured, ...builtins.filter((b) => !configured.some((n) => n.name === b.name))]
  const wanted = new Map<string, string>()
  if (mode.all) for (const n of configured) wanted.set(n.name, '')
  for (const r of mode.nets) {
    if (!known.some((n) => n.name === r.name)) {
      const names = configured.map((n) => n.name)
      throw new RktError(`network "${r.name}" is not configured`, {
        code: 'ENONET',
        hint:
          names.length === 0
            ? 'add a CNI configuration naming it to <local-config>/net.d (default /etc/rkt/net.d)'
            : `configured networks: ${names.join(', ')}, and the built-in ${builtins.map((b) => b.name).join(' and ')}`,
      })
    }
    wanted.set(r.name, r.args)
  }
  if (!wanted.has(DEFAULT_NET)) wanted.set(DEFAULT_RESTRICTED_NET, wanted.get(DEFAULT_RESTRICTED_NET) ?? '')
  const missing = [...wanted.keys()].find((name) => !known.some((n) => n.name === name))
  if (missing !== undefined) {
    throw new RktError(`the built-in network "${missing}" is missing from the stage1 image`, {
      code: 'ENONET',
      hint: `an image build copies net-plugins' net.d files into ${BUILTIN_NET_DIR}; or configure "${missing}" in <local-config>/net.d`,
    })
  }
  return known
    .filter((n) => wanted.has(n.name))
    .map((net, i) => ({net, args: wanted.get(net.name) ?? '', ifName: `eth${i}`}))
}

/**
 * Where plugins are looked up, in order (also CNI_PATH for plugins that call others, as ptp calls
 * host-local): the net.d directory, the system plugin directory, Debian's.
 */
export function pluginSearchPath(netDir: string): string[] {
  return [netDir, '/usr/lib/cni', '/opt/cni/bin']
}

/** The executable of a plugin type on the search path, or an error naming the package. */
export function findPlugin(type: string, searchPath: readonly string[]): string {
  if (!/^[A-Za-z0-9._-]+$/.test(type)) {
    throw new RktError(`plugin type "${type}" is not a plugin name`, {code: 'ENOPLUGIN'})
  }
  for (const dir of searchPath) {
    const file = path.join(dir, type)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {
      // next
    }
  }
  throw new RktError(`CNI plugin "${type}" not found in ${searchPath.join(', ')}`, {
    code: 'ENOPLUGIN',
    hint: 'install the reference plugins (Debian: apt-get install containernetworking-plugins) or put it in net.d',
  })
}
