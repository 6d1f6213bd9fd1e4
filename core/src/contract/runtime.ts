// runtime-config: the run entrypoint's parameters, saved for the entrypoints that come later (enter, gc,
// app/*), with rkt's JSON field names (stage1/common/types/pod.go RuntimePod).
import fs from 'node:fs'

import type {HostsMode, IpcMode, ResolvMode, RunArgs} from './entrypoints.js'

import {writeFileAtomic} from '../sys/atomic.js'

/** rkt's RuntimePod. */
export interface RuntimeConfig {
  readonly MetadataServiceURL: string
  readonly PrivateUsers: string
  readonly MDSToken: string
  readonly Hostname: string
  readonly Debug: boolean
  readonly Mutable: boolean
  readonly ResolvConfMode: ResolvMode
  readonly EtcHostsMode: HostsMode
  /** The --net value as given. */
  readonly NetList: string
  readonly Interactive: boolean
  readonly InsecureOptions: {
    readonly DisablePaths: boolean
    readonly DisableCapabilities: boolean
    readonly DisableSeccomp: boolean
  }
  readonly IPCMode: IpcMode | ''
}

/** The runtime config of a run. */
export function runtimeConfigOf(a: RunArgs, hostname: string): RuntimeConfig {
  return {
    MetadataServiceURL: '',
    PrivateUsers: a.privateUsers ?? '',
    MDSToken: a.mdsToken ?? '',
    Hostname: hostname,
    Debug: a.debug,
    Mutable: a.mutable,
    ResolvConfMode: a.dnsConfMode.resolv,
    EtcHostsMode: a.dnsConfMode.hosts,
    NetList: a.net,
    Interactive: a.interactive,
    InsecureOptions: {
      DisablePaths: a.disablePaths,
      DisableCapabilities: a.disableCapabilities,
      DisableSeccomp: a.disableSeccomp,
    },
    IPCMode: a.ipc ?? '',
  }
}

/** The run entrypoint's parameters back from its runtime config (for the entrypoints that come later: app/add). */
export function runArgsOf(uuid: string, c: RuntimeConfig, localConfig: string): RunArgs {
  return {
    uuid,
    debug: c.Debug,
    net: c.NetList,
    interactive: c.Interactive,
    privateUsers: c.PrivateUsers || undefined,
    mdsToken: c.MDSToken || undefined,
    localConfig,
    hostname: c.Hostname,
    disableCapabilities: c.InsecureOptions.DisableCapabilities,
    disablePaths: c.InsecureOptions.DisablePaths,
    disableSeccomp: c.InsecureOptions.DisableSeccomp,
    dnsConfMode: {resolv: c.ResolvConfMode, hosts: c.EtcHostsMode},
    mutable: c.Mutable,
    ipc: c.IPCMode || undefined,
  }
}

/** Saves the runtime config into the pod directory. */
export function saveRuntimeConfig(file: string, c: RuntimeConfig): void {
  writeFileAtomic(file, `${JSON.stringify(c)}\n`)
}

/** Reads the runtime config saved by the run entrypoint. */
export function loadRuntimeConfig(file: string): RuntimeConfig {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RuntimeConfig
}
