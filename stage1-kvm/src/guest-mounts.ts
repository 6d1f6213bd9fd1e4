// The apps' roots and mounts in the guest (stage1-kvm/README.md "Disks" and "Volumes"): start.sh mounts each
// app's disk (found by its serial, the app's index) on /opt/stage2/<app>/rootfs, then performs the app's mount
// plan (stage1-supervisor/src/mount-plan.ts) there. A host volume is a 9p share of its own (a bind of its
// source under <pod>/kvm/shares, so only what the volume shows is shared, read-only on the host too when every
// use is), an empty volume a tmpfs of the guest shared by the apps that mount it, the /etc files come from
// the stage1 rootfs. Each is a mount point in the app, as under nspawn.
import fs from 'node:fs'
import path from 'node:path'

import {bindMount, KUBERNETES_LOG_MOUNT, remountReadOnly, RktError, type AppMount} from '@rkt/core/stage1'
import type {PreparedApp} from '@rkt/stage1-supervisor/apps'
import {noEtcFile} from '@rkt/stage1-supervisor/etc'
import type {MountStep} from '@rkt/stage1-supervisor/mount-plan'

import {sh} from './net.js'
import type {KvmPaths} from './paths.js'

/** Where the guest mounts volumes before binding them into apps (a tmpfs over the stage1 rootfs's /kvm/vols). */
const GUEST_VOLS = '/kvm/vols'
/** 9p options of the shares: as the root's (qemu.ts kernelCmdline). */
export const SHARE_OPTS = 'trans=virtio,version=9p2000.L,cache=mmap,msize=524288'

/** A host directory shared with the guest under `tag`. */
export interface Share {
  readonly tag: string
  readonly path: string
  readonly readOnly: boolean
}

export interface GuestMounts {
  /** start.sh lines, run before the supervisor. */
  readonly lines: string[]
  readonly shares: Share[]
}

/** The guest's busybox sh function that prints the device of the disk with serial $1. */
const DISK_FN =
  'disk() { for b in /sys/block/vd*; do [ "$(cat $b/serial)" = "$1" ] && echo /dev/${b##*/} && return; done; ' +
  'echo "kvm: no disk with serial $1" >&2; return 1; }'

/**
 * Sets up on the host what the plans need (binds under kvm.sharesDir, copies of /etc files from outside the
 * stage1 rootfs) and returns the guest's lines and the shares for QEMU.
 */
export function guestMounts(kvm: KvmPaths, apps: readonly PreparedApp[], warn: (m: string) => void): GuestMounts {
  const stage1 = kvm.pod.stage1Rootfs
  fs.mkdirSync(path.join(stage1, GUEST_VOLS), {recursive: true})
  const lines = [DISK_FN, `mount -t tmpfs -o mode=0700 tmpfs ${GUEST_VOLS}`]
  // nodev: an image's device nodes would open the guest's devices (another app's disk); the supervisor gives
  // each app a /dev of its own.
  apps.forEach((a, i) => lines.push(`mount -t ext4 -o nodev "$(disk ${i})" ${sh(inGuest(kvm, a.app.rootfs))}`))
  return planLines(kvm, apps, warn, GUEST_VOLS, lines)
}

/**
 * The mount plan of an app added to the running pod (its root is mounted by then: add.ts), for its set-up
 * script: its volumes under a directory of its own in /kvm/vols (an empty volume is a fresh tmpfs, not shared
 * with the pod's first apps). A host volume cannot be: microvm takes no new 9p share once running.
 */
export function addedAppMounts(kvm: KvmPaths, app: PreparedApp, warn: (m: string) => void): string[] {
  const host = app.mounts.find((s) => s.kind === 'volume' && s.mount.kind === 'host')
  if (host?.kind === 'volume')
    throw new RktError(
      `app ${app.app.name} mounts host volume ${host.mount.volume}: an app added to a running kvm pod cannot, ` +
        "QEMU's microvm takes no new share once it runs",
      {code: 'EUNSUPPORTED', hint: 'give the volume to an app the pod starts with, or use the nspawn stage1'},
    )
  const vols = addedVolsDir(app.app.name)
  return planLines(kvm, [app], warn, vols, [`mkdir -p ${vols}`, `mount -t tmpfs -o mode=0700 tmpfs ${vols}`]).lines
}

/** Where an added app's volumes are in the guest: one tmpfs, so that one detach takes them all (`app rm`). */
export const addedVolsDir = (app: string): string => `${GUEST_VOLS}/added-${app}`

const inGuest = (kvm: KvmPaths, host: string): string => `/${path.relative(kvm.pod.stage1Rootfs, host)}`

/** `lines` followed by the apps' mount plans, their volumes set up under `volsDir`. */
function planLines(
  kvm: KvmPaths,
  apps: readonly PreparedApp[],
  warn: (m: string) => void,
  volsDir: string,
  lines: string[],
): GuestMounts {
  const shares: Share[] = []
  // Volumes by name: each set up once in the guest, bound into every app that mounts it.
  const vols = new Map<string, string>()
  const volume = (step: MountStep & {kind: 'volume'}): string => {
    const m = step.mount
    const known = vols.get(m.volume)
    if (known !== undefined) return known
    const dir = `${volsDir}/${vols.size}`
    lines.push(`mkdir ${dir}`)
    if (m.kind === 'empty') {
      const e = m.empty ?? {mode: 0o755, uid: 0, gid: 0}
      lines.push(`mount -t tmpfs -o mode=${e.mode.toString(8)},uid=${e.uid},gid=${e.gid} tmpfs ${dir}`)
    } else {
      const share = kvm.share(shares.length)
      const readOnly = apps.every((a) =>
        a.mounts.every((s) => s.kind !== 'volume' || s.mount.volume !== m.volume || s.mount.readOnly),
      )
      fs.mkdirSync(share, {recursive: true, mode: 0o700})
      // A file volume: the file bound into the share's directory, under its own name.
      const at = step.dir ? share : path.join(share, path.basename(m.source))
      if (!step.dir) fs.closeSync(fs.openSync(at, 'a', 0o600))
      bindMount(m.source, at, m.recursive)
      if (readOnly) remountReadOnly(at, m.recursive)
      const tag = `vol${shares.length}`
      shares.push({tag, path: share, readOnly})
      lines.push(`mount -t 9p -o ${SHARE_OPTS}${readOnly ? ',ro' : ''} ${tag} ${dir}`)
    }
    const source = step.dir ? dir : `${dir}/${path.basename(m.source)}`
    vols.set(m.volume, source)
    return source
  }

  for (const a of apps) {
    const root = inGuest(kvm, a.app.rootfs)
    for (const step of a.mounts) {
      const t = sh(`${root}${step.target}`)
      const create = (dir: boolean): string =>
        dir ? `mkdir -p ${t}` : `[ -e ${t} ] || { mkdir -p "$(dirname ${t})" && : > ${t}; }`
      const bind = (source: string, readOnly: boolean): string =>
        `mount --bind ${sh(source)} ${t}${readOnly ? ` && mount -o remount,bind,ro ${t}` : ''}`
      if (step.kind === 'tmp') {
        lines.push(create(true), `mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs ${t}`)
      } else if (step.kind === 'volume') {
        const fresh = !vols.has(step.mount.volume)
        const source = volume(step)
        // Docker's semantics: an implicit volume starts as a copy of what the image has there.
        if (fresh && step.mount.prefill) lines.push(`if [ -d ${t} ]; then cp -a ${t}/. ${sh(source)}/; fi`)
        lines.push(create(step.dir), bind(source, step.mount.readOnly))
      } else {
        const source = etcSource(kvm, step.file.source, step.file.target)
        const present = `[ -e ${t} ]`
        // In a volume nothing is created: only a file the volume has (the host's) is covered, and the fallback
        // /etc/hosts only goes where the image has none.
        if (step.inVolume) {
          if (step.file.ifMissing) continue
          if (inHostVolume(step.inVolume, step.target)) lines.push(bind(inGuest(kvm, source), true))
          else warn(`app ${a.app.name}: ${noEtcFile(step.file)}`)
        } else if (step.file.ifMissing)
          lines.push(`if ! ${present}; then ${create(false)}; ${bind(inGuest(kvm, source), true)}; fi`)
        else lines.push(create(false), bind(inGuest(kvm, source), true))
      }
    }
  }
  return {lines, shares}
}

/** True when `target` is an existing file of the host volume holding it (the plan's innermost volume). */
function inHostVolume(holder: {mount: AppMount; target: string}, target: string): boolean {
  return (
    holder.mount.kind === 'host' && fs.existsSync(path.join(holder.mount.source, path.relative(holder.target, target)))
  )
}

/** An /etc file as the guest can read it: in the stage1 rootfs, or a copy there of a host file (--dns=host). */
function etcSource(kvm: KvmPaths, source: string, target: string): string {
  if (!path.relative(kvm.pod.stage1Rootfs, source).startsWith('..')) return source
  const copy = kvm.etcCopy(path.basename(target))
  fs.mkdirSync(path.dirname(copy), {recursive: true})
  fs.copyFileSync(source, copy)
  return copy
}

/**
 * The pod's kubernetes-log-dir (docs/stage1.md "Logs and attach"), a 9p share of its own mounted where the apps'
 * loggers write (`/rkt/kubernetes/log`), before the supervisor starts.
 */
export function shareKubernetesLogs(kvm: KvmPaths, dir: string, mounts: GuestMounts): void {
  const share = kvm.share(mounts.shares.length)
  fs.mkdirSync(share, {recursive: true, mode: 0o700})
  bindMount(dir, share, false)
  const tag = `vol${mounts.shares.length}`
  mounts.shares.push({tag, path: share, readOnly: false})
  fs.mkdirSync(path.join(kvm.pod.stage1Rootfs, KUBERNETES_LOG_MOUNT), {recursive: true})
  mounts.lines.push(`mount -t 9p -o ${SHARE_OPTS} ${tag} /${KUBERNETES_LOG_MOUNT}`)
}
