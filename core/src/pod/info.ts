// What `rkt list` and `rkt status` report (rkt's api/v1/json.go and lib/{pod,app}.go): field names and
// shapes are rkt's, a contract scripts and orchestrators (Nomad polls `status --format=json`) depend on.
import fs from 'node:fs'
import path from 'node:path'

import type {PodManifest} from '../schema/index.js'
import type {NetInfo} from '../contract/entrypoints.js'
import type {Pod, PodState} from './pods.js'

import {parseImageManifest, parsePodManifest} from '../schema/index.js'
import {podPid, readAppStatus} from '../contract/status.js'
import {podNameOf} from './names.js'

/** rkt's v1.Mount. */
export interface MountInfo {
  name: string
  container_path: string
  host_path: string
  read_only: boolean
}

/** rkt's v1.App: times in nanoseconds since the epoch. */
export interface AppInfo {
  name: string
  state: 'unknown' | 'created' | 'running' | 'exited'
  created_at?: bigint
  started_at?: bigint
  finished_at?: bigint
  exit_code?: number
  image_id?: string
  mounts?: MountInfo[]
  user_annotations?: Record<string, string>
  user_labels?: Record<string, string>
  /** Ours, not rkt's: present (true) when the app's cgroup recorded an OOM kill (stage1-nspawn). */
  oom_killed?: boolean
}

/** rkt's v1.Pod: `name` is the UUID; pod times in seconds since the epoch. */
export interface PodInfo {
  name: string
  state: PodState
  networks?: NetInfo[]
  app_names?: string[]
  apps?: AppInfo[]
  created_at?: number
  started_at?: number
  user_annotations?: Record<string, string>
  user_labels?: Record<string, string>
  /** The pod's --name (an addition to rkt's fields: rkt's `name` is the UUID). */
  pod_name?: string
}

const ns = (d: Date): bigint => BigInt(d.getTime()) * 1_000_000n

function mtimeOf(file: string): Date | undefined {
  try {
    return fs.statSync(file).mtime
  } catch {
    return undefined
  }
}

/**
 * Where a file the stage1 wrote into its rootfs (rkt/status/<app>, -created, -started) can be read now: in
 * the stage1 rootfs while its overlay is mounted, else (after a reboot, or an unmount) in the overlay's
 * upper directory, where every write through the overlay landed; rkt reads the statuses from there too.
 */
function stage1File(pod: Pod, file: string): string {
  const p = pod.paths
  if (fs.existsSync(file) || !fs.existsSync(p.overlayPrepared)) return file
  try {
    const tree = fs.readFileSync(p.stage1TreeStoreId, 'utf8').trim()
    return path.join(p.overlay(tree, 'upper'), path.relative(p.stage1Rootfs, file))
  } catch {
    return file
  }
}

/**
 * An app's exit status (see stage1File), or undefined while it has none. An app of an exited pod that started
 * but has none, under a supervisor whose apps die with it, was killed with the pod before anything could
 * record it (systemd-nspawn SIGKILLs the container when ^] is typed three times; a SIGKILLed `rkt run`): 137
 * (docs/stage1.md). Elsewhere (fly) such an app may well still run: no status is made up.
 */
function appStatusOf(pod: Pod, app: string, state: PodState): number | undefined {
  const code = readAppStatus(pod.paths, app)
  if (code !== undefined) return code
  try {
    const n = Number(fs.readFileSync(stage1File(pod, pod.paths.appStatus(app)), 'utf8').trim())
    return Number.isInteger(n) ? n : undefined
  } catch {
    const killed = [pod.paths.appStarted(app), pod.paths.appsDieWithSupervisor].every((f) =>
      fs.existsSync(stage1File(pod, f)),
    )
    return killed && appStateOf(state) === 'exited' ? 137 : undefined // 128 + SIGKILL
  }
}

/** True when the stage1 recorded that the app's cgroup OOM-killed a process (see stage1File). */
function oomKilled(pod: Pod, app: string): boolean {
  return fs.existsSync(stage1File(pod, pod.paths.appOom(app)))
}

/** The pod manifest, if the pod has one yet. */
export function podManifestOf(pod: Pod): PodManifest | undefined {
  let text: Buffer
  try {
    text = fs.readFileSync(pod.paths.manifest)
  } catch {
    return undefined
  }
  return parsePodManifest(text).manifest
}

/** Networks recorded for the pod (net-info.json), empty until networking exists. */
export function podNetworks(pod: Pod): NetInfo[] {
  try {
    return JSON.parse(fs.readFileSync(pod.paths.netInfo, 'utf8')) as NetInfo[]
  } catch {
    return []
  }
}

function appStateOf(state: PodState): AppInfo['state'] {
  switch (state) {
    case 'prepared':
      return 'created'
    case 'running':
      return 'running'
    case 'deleting':
    case 'exited deleting':
    case 'exited':
    case 'exited garbage':
    case 'garbage':
      return 'exited'
    default:
      return 'unknown'
  }
}

const nonEmpty = <T extends object>(o: T): T | undefined => (Object.keys(o).length > 0 ? o : undefined)

/** A pod as rkt's JSON reports it (`list --format=json` entries, `status --format=json`). */
export function podInfo(pod: Pod, state: PodState = pod.state()): PodInfo {
  const info: PodInfo = {name: pod.uuid, state}
  const nets = podNetworks(pod)
  if (nets.length > 0) info.networks = nets
  const created = pod.creationTime()
  const started = pod.startTime()
  const manifest = podManifestOf(pod)
  if (manifest) {
    info.app_names = manifest.apps.map((a) => a.name)
    const volumes = new Map(manifest.volumes.map((v) => [v.name, v]))
    info.apps = manifest.apps.map((ra) => {
      // Keys in rkt's v1.App order: consumers diff this output.
      const code = appStatusOf(pod, ra.name, state)
      // The stage1's per-app markers when it wrote them (rkt/status/<app>-created, -started, <app>), else the pod's.
      const createdMark = mtimeOf(stage1File(pod, pod.paths.appCreated(ra.name)))
      const startedMark = mtimeOf(stage1File(pod, pod.paths.appStarted(ra.name)))
      // Created and not started: an app added to a mutable pod (or one the supervisor has yet to start).
      const waiting = code === undefined && state === 'running' && createdMark && !startedMark
      const app: AppInfo = {
        name: ra.name,
        state: waiting ? 'created' : code === undefined ? appStateOf(state) : 'exited',
      }
      const appCreated = createdMark ?? created
      const appStarted = startedMark ?? (createdMark ? undefined : started)
      const appFinished = code === undefined ? undefined : mtimeOf(stage1File(pod, pod.paths.appStatus(ra.name)))
      if (appCreated) app.created_at = ns(appCreated)
      if (appStarted) app.started_at = ns(appStarted)
      if (appFinished) app.finished_at = ns(appFinished)
      if (code !== undefined) app.exit_code = code
      app.image_id = ra.image.id ?? ''
      if (ra.mounts.length > 0) {
        app.mounts = ra.mounts.map((m) => {
          const v = m.appVolume ?? (m.volume === undefined ? undefined : volumes.get(m.volume))
          return {
            name: m.volume ?? '',
            container_path: m.path ?? '',
            host_path: v?.kind === 'host' ? v.source : '',
            read_only: v?.readOnly ?? false,
          }
        })
      }
      const ua = nonEmpty({...(ra.app?.userAnnotations ?? {})})
      const ul = nonEmpty({...(ra.app?.userLabels ?? {})})
      if (ua) app.user_annotations = ua
      if (ul) app.user_labels = ul
      if (oomKilled(pod, ra.name)) app.oom_killed = true // last: an addition to rkt's fields
      return app
    })
  }
  if (created) info.created_at = Math.floor(created.getTime() / 1000)
  if (started) info.started_at = Math.floor(started.getTime() / 1000)
  if (manifest) {
    const pua = nonEmpty({...manifest.userAnnotations})
    const pul = nonEmpty({...manifest.userLabels})
    if (pua) info.user_annotations = pua
    if (pul) info.user_labels = pul
  }
  const podName = podNameOf(pod)
  if (podName !== undefined) info.pod_name = podName
  return info
}

/** The networks column/line: `name:ip4=IP,…`. */
export function formatNets(nets: readonly NetInfo[]): string {
  return nets.map((n) => `${n.netName}:ip4=${n.ip}`).join(', ')
}

/** `rkt status` in its key=value form (rkt/status.go printStatus). */
export function statusLines(pod: Pod, formatTime: (d: Date) => string): string[] {
  const state = pod.state()
  const lines = [`state=${state}`]
  const created = pod.creationTime()
  lines.push(`created=${created ? formatTime(created) : ''}`)
  const started = pod.startTime()
  if (started) lines.push(`started=${formatTime(started)}`)
  if (state === 'running' || state === 'exited') lines.push(`networks=${formatNets(podNetworks(pod))}`)
  if (!pod.hasStarted(state)) return lines
  const pid = podPid(pod.paths)
  if (pid !== undefined) lines.push(`pid=${pid}`)
  lines.push(`exited=${state === 'exited' || state === 'exited garbage'}`)
  if (state !== 'running') {
    const oom: string[] = []
    for (const ra of podManifestOf(pod)?.apps ?? []) {
      const code = appStatusOf(pod, ra.name, state)
      if (code !== undefined) lines.push(`app-${ra.name}=${code}`)
      if (oomKilled(pod, ra.name)) oom.push(ra.name)
    }
    // Its own key, after rkt's: `app-NAME-oom` could be read as the code of an app named NAME-oom.
    if (oom.length > 0) lines.push(`oom-killed=${oom.join(',')}`)
  }
  return lines
}

/** One row of `rkt list` per app (pod columns only on a pod's first row, as rkt prints them). */
export interface ListRow {
  uuid: string
  /** The pod's --name, or empty. */
  name: string
  app: string
  imageName: string
  imageId: string
  state: string
  created: string
  started: string
  networks: string
}

/** The image name of an app as rkt's list shows it: name[:version] from the manifest stage0 recorded. */
function appImageName(pod: Pod, app: string): string {
  try {
    const m = parseImageManifest(fs.readFileSync(pod.paths.appInfoManifest(app))).manifest
    const version = m.labels.find((l) => l.name === 'version')?.value
    return version === undefined ? m.name : `${m.name}:${version}`
  } catch {
    return '--'
  }
}

/** The rows of `rkt list` (pods in running, exited, preparing and prepared states; garbage is hidden). */
export function listRows(pods: readonly Pod[], full: boolean, formatTime: (d: Date) => string): ListRow[] {
  const rows: ListRow[] = []
  for (const pod of pods) {
    if (pod.dirState === 'embryo' || pod.dirState === 'garbage') continue
    const state = pod.state()
    const created = pod.creationTime()
    const started = pod.startTime()
    const first = {
      uuid: full ? pod.uuid : pod.uuid.slice(0, 8),
      name: podNameOf(pod) ?? '',
      state,
      created: created ? formatTime(created) : '',
      started: started ? formatTime(started) : '',
      networks: formatNets(podNetworks(pod)),
    }
    let manifest: PodManifest | undefined
    try {
      manifest = podManifestOf(pod)
    } catch {
      manifest = undefined
    }
    const apps = manifest?.apps ?? []
    if (apps.length === 0) rows.push({...first, app: '-', imageName: '-', imageId: '-'})
    apps.forEach((ra, i) => {
      const cols = i === 0 ? first : {uuid: '', name: '', state: '', created: '', started: '', networks: ''}
      const imageId = (ra.image.id ?? '').slice(0, 19)
      rows.push({...cols, app: ra.name, imageName: appImageName(pod, ra.name), imageId})
    })
  }
  return rows
}
