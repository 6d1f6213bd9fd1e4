// /etc/resolv.conf and /etc/hosts for engines whose apps use the host's network (fly, bwrap): the host's file
// or the one stage0 wrote, per the --dns and --hosts-entry modes, bound read-only into the app's root and never
// copied, so nothing is written through the image's symlinks into a volume (bindGeneratedFile).
import fs from 'node:fs'

import type {RunArgs} from '../contract/entrypoints.js'
import type {PodPaths} from '../contract/paths.js'
import type {Warn} from './entry.js'

import {bindGeneratedFile} from './volumes.js'

/**
 * Binds the files the DNS modes give the app into its root `rootfs`; `warn` names one the image's symlinks
 * put in a volume. Returns the targets that had no file to bind (modes `default` and `none`, or a source that
 * does not exist), for the engine to fill or leave as the image has them.
 */
export function bindDnsFiles(paths: PodPaths, rootfs: string, modes: RunArgs['dnsConfMode'], warn: Warn): string[] {
  const source = (mode: string, host: string, stage0: string): string | undefined =>
    mode === 'host' ? host : mode === 'stage0' ? stage0 : undefined
  const files: [string, string | undefined][] = [
    ['/etc/resolv.conf', source(modes.resolv, '/etc/resolv.conf', paths.resolvConf)],
    ['/etc/hosts', source(modes.hosts, '/etc/hosts', paths.hosts)],
  ]
  const unbound: string[] = []
  for (const [target, from] of files) {
    if (from === undefined || !fs.existsSync(from)) unbound.push(target)
    else if (!bindGeneratedFile(rootfs, from, target))
      warn(`no ${target}: the image's symlinks put it in a volume, where rkt writes nothing`)
  }
  return unbound
}
