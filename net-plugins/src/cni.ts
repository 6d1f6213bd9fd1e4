// CNI plugin invocation (CNI spec ≤ 1.0.0, what Debian's reference plugins speak): a network's chain is run
// plugin by plugin for ADD, each getting the previous result, and in reverse for DEL. Errors carry the
// plugin's own message and details.
import {execa} from 'execa'

import type {NetConfList, PluginConf} from './config.js'

import {RktError} from '@rkt/core/stage1'

import {findPlugin} from './config.js'

/** What a plugin call depends on besides the configuration. */
export interface CniCall {
  readonly command: 'ADD' | 'DEL'
  readonly containerId: string
  /** The network namespace's path; empty on a DEL whose namespace is gone (plugins then release what they can). */
  readonly netns: string
  readonly ifName: string
  readonly args: string
  readonly searchPath: readonly string[]
}

/** The environment of a plugin, per the CNI spec (nothing else of ours leaks in). */
export function cniEnv(c: CniCall): Record<string, string> {
  return {
    CNI_COMMAND: c.command,
    CNI_CONTAINERID: c.containerId,
    CNI_NETNS: c.netns,
    CNI_IFNAME: c.ifName,
    CNI_ARGS: c.args,
    CNI_PATH: c.searchPath.join(':'),
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  }
}

/** A plugin's error as the spec has it on stdout: `{code, msg, details}`. */
export function pluginErrorText(stdout: string): string | undefined {
  try {
    const e = JSON.parse(stdout) as {msg?: unknown; details?: unknown}
    if (typeof e.msg !== 'string') return undefined
    return typeof e.details === 'string' && e.details !== '' ? `${e.msg}: ${e.details}` : e.msg
  } catch {
    return undefined
  }
}

/** One plugin's stdin: the list's name and version, the runtime config it has capabilities for, prevResult. */
export function pluginStdin(
  net: NetConfList,
  plugin: PluginConf,
  runtimeConfig: Readonly<Record<string, unknown>>,
  prevResult: unknown,
): Record<string, unknown> {
  const caps = (plugin['capabilities'] ?? {}) as Record<string, unknown>
  const rc = Object.fromEntries(Object.entries(runtimeConfig).filter(([k]) => caps[k] === true))
  return {
    ...plugin,
    name: net.name,
    cniVersion: net.cniVersion,
    ...(Object.keys(rc).length > 0 ? {runtimeConfig: rc} : {}),
    ...(prevResult === undefined ? {} : {prevResult}),
  }
}

/** Runs one plugin; its parsed stdout (ADD), or undefined (DEL). */
async function runPlugin(net: NetConfList, plugin: PluginConf, stdin: unknown, c: CniCall): Promise<unknown> {
  const exe = findPlugin(plugin.type, c.searchPath)
  const r = await execa(exe, [], {
    input: JSON.stringify(stdin),
    env: cniEnv(c),
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  })
  if (r.exitCode !== 0 || r.failed) {
    const why = pluginErrorText(String(r.stdout)) ?? (String(r.stderr).trim() || r.shortMessage)
    throw new RktError(`network "${net.name}": plugin ${plugin.type} failed on ${c.command}: ${why}`, {
      code: 'ECNI',
      hint:
        c.command === 'ADD'
          ? `check the network's configuration (${net.file}) and its arguments`
          : 'the pod’s network may be partly left; `rkt gc` tries again',
    })
  }
  if (c.command === 'DEL' || String(r.stdout).trim() === '') return undefined
  try {
    return JSON.parse(String(r.stdout)) as unknown
  } catch {
    throw new RktError(`network "${net.name}": plugin ${plugin.type} printed a result that is not JSON`, {
      code: 'ECNI',
    })
  }
}

/** Chains pass the previous result on from spec 0.3.0 (the first with chains). */
function chains(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return major > 0 || minor >= 3
}

/** ADD: the chain in order; the last plugin's result is the network's. */
export async function cniAdd(
  net: NetConfList,
  runtimeConfig: Readonly<Record<string, unknown>>,
  c: Omit<CniCall, 'command'>,
): Promise<unknown> {
  let result: unknown
  for (const plugin of net.plugins) {
    const prev = chains(net.cniVersion) ? result : undefined
    const out = await runPlugin(net, plugin, pluginStdin(net, plugin, runtimeConfig, prev), {...c, command: 'ADD'})
    if (out !== undefined) result = out
  }
  return result
}

/**
 * DEL: the chain in reverse, each plugin with the ADD result. Every plugin is tried even when one fails, so
 * one broken plugin does not leave the others' state behind; the first failure is thrown at the end.
 */
export async function cniDel(
  net: NetConfList,
  runtimeConfig: Readonly<Record<string, unknown>>,
  result: unknown,
  c: Omit<CniCall, 'command'>,
): Promise<void> {
  let first: Error | undefined
  for (const plugin of [...net.plugins].reverse()) {
    const prev = chains(net.cniVersion) ? result : undefined
    try {
      await runPlugin(net, plugin, pluginStdin(net, plugin, runtimeConfig, prev), {...c, command: 'DEL'})
    } catch (err) {
      first ??= err instanceof Error ? err : new Error(String(err))
    }
  }
  if (first !== undefined) throw first
}
