// rkt's DNS and /etc/hosts flags (rkt/run.go parseDNSFlags) and the two files stage0 writes into the stage1
// rootfs when it owns them (stage0/run.go writeResolvConf/writeEtcHosts, common/resolv_conf.go).
//
// --dns=host / --dns=none pick a stage1 mode; IPs, --dns-search, --dns-opt and --dns-domain make stage0 write
// etc/rkt-resolv.conf. --hosts-entry=host picks the host's /etc/hosts; IP=name entries make stage0 write
// etc/rkt-hosts. Everything that ends up in a file is checked so that one flag value cannot add lines.
import {isIP} from 'node:net'

import type {HostsMode, ResolvMode} from '../contract/entrypoints.js'
import type {ResolvConf} from '../contract/resolv-conf.js'

import {isResolvConfEmpty, makeResolvConf} from '../contract/resolv-conf.js'
import {UsageError} from '../errors.js'

/** Where stage0 writes the files, relative to the stage1 rootfs. */
export const RKT_RESOLV_CONF_PATH = 'etc/rkt-resolv.conf'
export const RKT_HOSTS_PATH = 'etc/rkt-hosts'
/** The stage1's own hosts template, read by stage0 as the head of etc/rkt-hosts. */
export const HOSTS_FALLBACK_PATH = 'etc/hosts-fallback'

/** What stage0 uses when the stage1 has no etc/hosts-fallback (rkt's "fallback-fallback"). */
export const DEFAULT_HOSTS_FALLBACK = '#created by rkt stage0\n127.0.0.1 localhost localhost.localdomain\n'

/** The raw DNS flag values, each repeated flag in command-line order. */
export interface DnsFlagValues {
  readonly dns: readonly string[]
  readonly dnsSearch: readonly string[]
  readonly dnsOpt: readonly string[]
  /** --dns-domain (a plain string flag: the last one wins; empty means unset). */
  readonly dnsDomain?: string | undefined
  readonly hostsEntries: readonly string[]
}

/** One line of etc/rkt-hosts: an IP and its names, in the order given. */
export interface HostsEntry {
  readonly ip: string
  readonly hostnames: readonly string[]
}

/** The outcome of parseDnsFlags: the stage1's --dns-conf-mode and what stage0 writes. */
export interface DnsConfig {
  readonly mode: {readonly resolv: ResolvMode; readonly hosts: HostsMode}
  readonly resolv: ResolvConf
  /** IPs in first-seen order; rkt keeps them in a Go map, so its order is random. */
  readonly hostsEntries: readonly HostsEntry[]
}

/** The configuration when no DNS flag is given: both modes `default`, nothing for stage0 to write. */
export const DEFAULT_DNS_CONFIG: DnsConfig = Object.freeze({
  mode: Object.freeze({resolv: 'default', hosts: 'default'} as const),
  resolv: Object.freeze({nameservers: [], search: [], options: []}),
  hostsEntries: [],
})

/** True for an IP literal Go's net.ParseIP accepts (no zone suffix, no brackets). */
export function isIpLiteral(s: string): boolean {
  return !s.includes('%') && isIP(s) !== 0
}

// resolv.conf and hosts are line- and word-oriented: a value may not carry white space or control characters.
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const UNSAFE_WORD = /[\s\u0000-\u001f\u007f]/

function checkWord(flag: string, value: string, what: string): void {
  if (value === '') {
    throw new UsageError(`--${flag}: empty ${what}`, {hint: `give a ${what}, e.g. --${flag}=${EXAMPLES[flag] ?? ''}`})
  }
  if (UNSAFE_WORD.test(value)) {
    throw new UsageError(
      `--${flag}: ${JSON.stringify(value)} is not a valid ${what} (white space or control characters)`,
      {
        hint: `pass one ${what} per --${flag} flag`,
      },
    )
  }
}

const EXAMPLES: Readonly<Record<string, string>> = {
  dns: '8.8.8.8',
  'dns-search': 'example.com',
  'dns-opt': 'rotate',
  'dns-domain': 'example.com',
  'hosts-entry': '198.51.100.7=db.local',
}

/**
 * rkt's parseDNSFlags: decodes the magic values, checks every IP, and works out the stage1 modes.
 * - `--dns=host` / `--dns=none` → resolv=host / none, and must be the only --dns flag;
 * - IPs (comma lists allowed), `--dns-search`, `--dns-opt`, `--dns-domain` → resolv=stage0 (an error with
 *   host or none);
 * - `--hosts-entry=host` → hosts=host; `IP=name[,IP=name]` → hosts=stage0 (an error together with `host`).
 * Throws UsageError.
 */
export function parseDnsFlags(f: DnsFlagValues): DnsConfig {
  let resolvMode: ResolvMode = 'default'
  let hostsMode: HostsMode = 'default'
  const nameservers: string[] = []
  for (const d of f.dns) {
    if (d === 'host' || d === 'none') {
      if (f.dns.length > 1) {
        throw new UsageError(`no other --dns options allowed when --dns=${d} is passed`, {
          hint: `use --dns=${d} alone, or list name servers without it`,
        })
      }
      resolvMode = d
      break
    }
    for (const ip of d.split(',')) {
      if (!isIpLiteral(ip)) {
        throw new UsageError(`invalid IP passed to --dns: ${JSON.stringify(ip)}`, {
          hint: 'give name server IP addresses (--dns=8.8.8.8,2001:4860:4860::8888), or "host" or "none"',
        })
      }
      nameservers.push(ip)
    }
  }
  for (const s of f.dnsSearch) checkWord('dns-search', s, 'search domain')
  for (const o of f.dnsOpt) checkWord('dns-opt', o, 'resolver option')
  const domain = f.dnsDomain ?? ''
  if (domain !== '') checkWord('dns-domain', domain, 'domain')
  const resolv: ResolvConf = {
    nameservers,
    search: [...f.dnsSearch],
    options: [...f.dnsOpt],
    ...(domain === '' ? {} : {domain}),
  }
  if (!isResolvConfEmpty(resolv)) {
    if (resolvMode === 'default') resolvMode = 'stage0'
    if (resolvMode !== 'stage0') {
      throw new UsageError(`cannot use --dns-opt, --dns-search or --dns-domain with --dns=${resolvMode}`, {
        hint: `--dns=${resolvMode} leaves resolv.conf to the ${resolvMode === 'host' ? 'host' : 'image'}; drop one of them`,
      })
    }
  }

  const entries = new Map<string, string[]>()
  for (const flag of f.hostsEntries) {
    if (flag === 'host') {
      hostsMode = 'host'
      continue
    }
    for (const entry of flag.split(',')) {
      const eq = entry.indexOf('=')
      if (eq < 0) {
        throw new UsageError(`did not understand --hosts-entry ${JSON.stringify(entry)}`, {
          hint: 'write IP=hostname, e.g. --hosts-entry=198.51.100.7=db.local, or --hosts-entry=host',
        })
      }
      const ip = entry.slice(0, eq)
      const hostname = entry.slice(eq + 1)
      if (!isIpLiteral(ip)) {
        throw new UsageError(`invalid IP passed to --hosts-entry: ${JSON.stringify(ip)}`, {
          hint: 'write IP=hostname, e.g. --hosts-entry=198.51.100.7=db.local',
        })
      }
      checkWord('hosts-entry', hostname, 'host name')
      const names = entries.get(ip)
      if (names === undefined) entries.set(ip, [hostname])
      else names.push(hostname)
    }
  }
  if (entries.size > 0) {
    if (hostsMode === 'host') {
      throw new UsageError('cannot pass --hosts-entry=host with other hosts entries', {
        hint: "--hosts-entry=host uses the host's /etc/hosts as is; drop it or the IP=name entries",
      })
    }
    hostsMode = 'stage0'
  }
  return {
    mode: {resolv: resolvMode, hosts: hostsMode},
    resolv,
    hostsEntries: [...entries].map(([ip, hostnames]) => ({ip, hostnames})),
  }
}

/**
 * etc/rkt-hosts as stage0 writes it: the stage1's etc/hosts-fallback text (DEFAULT_HOSTS_FALLBACK when the
 * stage1 has none), a blank line, `# Added by rkt run --hosts-entry`, then `IP name…` per IP.
 */
export function makeHostsFile(entries: readonly HostsEntry[], fallback: string = DEFAULT_HOSTS_FALLBACK): string {
  let out = `${fallback}\n\n# Added by rkt run --hosts-entry\n`
  for (const e of entries) out += `${e.ip} ${e.hostnames.join(' ')}\n`
  return out
}

/**
 * The files stage0 writes into the stage1 rootfs for this configuration (paths relative to the rootfs):
 * etc/rkt-resolv.conf when resolv=stage0 and etc/rkt-hosts when hosts=stage0. `hostsFallback` is the content
 * of the stage1's etc/hosts-fallback, undefined when it has none.
 */
export function stage0DnsFiles(cfg: DnsConfig, hostsFallback?: string): {path: string; content: string}[] {
  const files: {path: string; content: string}[] = []
  if (cfg.mode.resolv === 'stage0') files.push({path: RKT_RESOLV_CONF_PATH, content: makeResolvConf(cfg.resolv)})
  if (cfg.mode.hosts === 'stage0') {
    files.push({path: RKT_HOSTS_PATH, content: makeHostsFile(cfg.hostsEntries, hostsFallback)})
  }
  return files
}
