// The files of /etc an app gets from the pod (docs/stage1.md "The pod directory"; rkt's stage1 init.go and
// prepare-app.c): its /etc/hostname shows the pod's hostname, /etc/hosts comes from the host, from stage0's rkt-hosts
// or, when the image has none, from the stage1's hosts-fallback (each with the pod's hostname on its 127.0.0.1 line),
// and /etc/resolv.conf from the host or stage0. All are bound read-only, after the volumes (a volume on /etc/hosts wins
// over the fallback, as in rkt).
import fs from 'node:fs'
import path from 'node:path'

import type {HostsMode, PodPaths, ResolvConf, ResolvMode} from '@rkt/core/stage1'

import {bindGeneratedFile, checkMountTarget, makeResolvConf} from '@rkt/core/stage1'

/** rkt's fallback /etc/hosts (stage1/net/rootfs/etc/hosts-fallback), for a stage1 image that lacks one. */
export const HOSTS_FALLBACK = `# This is the default rkt /etc/hosts
127.0.0.1 localhost localhost.domain localhost4 localhost4.localdomain4

::1 ip6-localhost ip6-loopback localhost6 localhost6.localdomain6
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
`

/** rkt's AddHostsEntry: the name joins the first line of that IP, or a new line is added for it. */
export function addHostsEntry(text: string, ip: string, hostname: string): string {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const i = lines.findIndex((l) => l.trim().split(/\s+/)[0] === ip)
  if (i >= 0) lines[i] = `${lines[i]} ${hostname}`
  else lines.push(`${ip}\t${hostname}`)
  return `${lines.join('\n')}\n`
}

/** The pod's /etc files, made once per pod: what each app gets bound. */
export interface PodEtc {
  /** The file holding the pod's hostname. */
  readonly hostnameFile: string
  /** The file bound on /etc/hosts, and whether it replaces the image's own (host and stage0 modes do). */
  readonly hosts: {readonly file: string; readonly replace: boolean}
  readonly resolvConf?: string
}

/** Writes the pod's hostname and hosts files into the stage1 rootfs, per the DNS modes. */
export function preparePodEtc(
  paths: PodPaths,
  hostname: string,
  modes: {resolv: ResolvMode; hosts: HostsMode},
  cniDns?: ResolvConf,
): PodEtc {
  fs.writeFileSync(paths.hostname, hostname, {mode: 0o644})
  const {hosts} = podEtcOf(paths, modes)
  if (modes.hosts !== 'host') {
    // stage0 wrote rkt-hosts (with the fallback as its head) for IP=name entries; else the fallback itself.
    const text = fs.existsSync(hosts.file) ? fs.readFileSync(hosts.file, 'utf8') : HOSTS_FALLBACK
    fs.writeFileSync(hosts.file, addHostsEntry(text, '127.0.0.1', hostname), {mode: 0o644})
  }
  // rkt's precedence: --dns flags (host, none, or stage0's file) over the networks' DNS, which beats a volume on
  // /etc/resolv.conf and the image's own file.
  if (modes.resolv === 'default' && cniDns !== undefined) {
    fs.writeFileSync(paths.resolvConf, makeResolvConf(cniDns), {mode: 0o644})
  }
  return podEtcOf(paths, modes)
}

/**
 * The pod's /etc files once preparePodEtc has written them: what an app added to a running pod gets too. A
 * default-mode resolv.conf is there only when the networks gave DNS settings.
 */
export function podEtcOf(paths: PodPaths, modes: {resolv: ResolvMode; hosts: HostsMode}): PodEtc {
  const hosts =
    modes.hosts === 'host'
      ? {file: '/etc/hosts', replace: true}
      : {file: modes.hosts === 'stage0' ? paths.hosts : paths.hostsFallback, replace: modes.hosts === 'stage0'}
  const resolv =
    modes.resolv === 'host'
      ? '/etc/resolv.conf'
      : (modes.resolv === 'stage0' || modes.resolv === 'default') && fs.existsSync(paths.resolvConf)
        ? paths.resolvConf
        : undefined
  return {hostnameFile: paths.hostname, hosts, ...(resolv === undefined ? {} : {resolvConf: resolv})}
}

/** One of the pod's /etc files as an app gets it: bound read-only at `target`. */
export interface EtcFile {
  /** Host path of the file. */
  readonly source: string
  /** As written: /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  readonly target: '/etc/hostname' | '/etc/hosts' | '/etc/resolv.conf'
  /** Only when the image (or a volume) has no such file: the fallback /etc/hosts leaves the image's own. */
  readonly ifMissing: boolean
}

/** The pod's /etc files an app gets, in the order they are bound. */
export function appEtcFiles(etc: PodEtc): EtcFile[] {
  return [
    {source: etc.hostnameFile, target: '/etc/hostname', ifMissing: false},
    {source: etc.hosts.file, target: '/etc/hosts', ifMissing: !etc.hosts.replace},
    ...(etc.resolvConf === undefined
      ? []
      : [{source: etc.resolvConf, target: '/etc/resolv.conf' as const, ifMissing: false}]),
  ]
}

/** Binds one /etc file into the app's root on the host; `warn` names one the app goes without (bindGeneratedFile). */
export function bindEtcFile(rootfs: string, f: EtcFile, warn: (m: string) => void): void {
  if (f.ifMissing && fs.existsSync(path.join(rootfs, checkMountTarget(rootfs, f.target)))) return
  if (!bindGeneratedFile(rootfs, f.source, f.target)) warn(noEtcFile(f))
}

/** What an app going without one of the files is told (see bindGeneratedFile). */
export const noEtcFile = (f: EtcFile): string =>
  `no ${f.target}: the image's symlinks put it in a volume, where rkt writes nothing`
