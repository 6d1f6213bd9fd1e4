// The mounts inside an app's root, as a plan: computed once on the host, with each target resolved against the
// app's rootfs as it is before any app ran, then applied by the engine where the app's root is. nspawn applies
// it on the host into the rootfs (applyMountPlan); kvm writes it into the guest's start script, where the
// app's root is a disk holding that same tree (stage1-kvm/src/guest-mounts.ts).
import {
  appMounts,
  checkMountTarget,
  mount,
  mountVolumes,
  MS,
  prepareMountTarget,
  type AppMount,
  type IdRange,
  type LoadedPod,
  type PodApp,
} from '@rkt/core/stage1'
import fs from 'node:fs'

import {appEtcFiles, bindEtcFile, type EtcFile, type PodEtc} from './etc.js'

/**
 * One step, in order. `target` is root-relative, resolved inside the app's root at planning time; an engine on
 * the host resolves again right before mounting (an earlier step may have changed the tree).
 */
export type MountStep =
  /**
   * The app's /tmp tmpfs, made before its volumes when one is below /tmp: the supervisor gives the app a tmpfs
   * on /tmp unless something is mounted there, which would hide such a volume.
   */
  | {readonly kind: 'tmp'; readonly target: string}
  /** A volume (appMounts): `dir` says whether its source is a directory (else a file). */
  | {readonly kind: 'volume'; readonly mount: AppMount; readonly target: string; readonly dir: boolean}
  /**
   * One of the pod's /etc files, bound read-only after the volumes (a volume on /etc/hosts wins over the
   * fallback). `inVolume`: the innermost volume whose target holds its target, where nothing is created for it.
   */
  | {
      readonly kind: 'etc'
      readonly file: EtcFile
      readonly target: string
      readonly inVolume: {readonly mount: AppMount; readonly target: string} | undefined
    }

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`)

/** The plan of one app of the pod: its /tmp, its volumes, its /etc files. */
export function planAppMounts(pod: LoadedPod, app: PodApp, etc: PodEtc): MountStep[] {
  const rootfs = app.rootfs
  const steps: MountStep[] = []
  const mounts = appMounts(pod, app)
  const volumes = mounts.map((m) => checkMountTarget(rootfs, m.target, `volume ${m.volume}`))
  const tmp = checkMountTarget(rootfs, '/tmp', "the app's /tmp")
  if (!volumes.includes(tmp) && volumes.some((t) => t.startsWith(`${tmp}/`))) steps.push({kind: 'tmp', target: tmp})
  mounts.forEach((m, i) => {
    // An empty volume's directory may not exist yet: it is made when first mounted.
    const dir = m.kind === 'empty' || fs.statSync(m.source).isDirectory()
    steps.push({kind: 'volume', mount: m, target: volumes[i]!, dir})
  })
  for (const file of appEtcFiles(etc)) {
    const target = checkMountTarget(rootfs, file.target)
    const holder = mounts.findLastIndex((_, i) => under(target, volumes[i]!))
    const inVolume = holder < 0 ? undefined : {mount: mounts[holder]!, target: volumes[holder]!}
    steps.push({kind: 'etc', file, target, inVolume})
  }
  return steps
}

/**
 * The plan performed on the host inside `rootfs` (nspawn): volumes' targets are made 0755 as needed, empty
 * volumes' directories made with their mode and owner (shifted into `range` with --private-users).
 */
export function applyMountPlan(
  rootfs: string,
  plan: readonly MountStep[],
  range: IdRange | undefined,
  warn: (m: string) => void,
): void {
  for (const step of plan) {
    if (step.kind === 'tmp') {
      const owner = range === undefined ? '' : `,uid=${range.first},gid=${range.first}`
      const target = prepareMountTarget(rootfs, '/tmp', true, "the app's /tmp")
      mount('tmpfs', target, 'tmpfs', MS.NOSUID | MS.NODEV, `mode=1777${owner}`)
    } else if (step.kind === 'volume') mountVolumes(rootfs, [step.mount], range)
    else bindEtcFile(rootfs, step.file, warn)
  }
}
