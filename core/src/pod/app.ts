// `rkt app add|start|stop|rm|list|status|exec` (rkt's rkt/app_*.go): the apps of a mutable pod, one started with
// `rkt app sandbox` (run.ts). stage0 keeps the pod's records (its manifest, appsinfo/, the app's rootfs); the
// stage1's app/* entrypoints do the rest in the running pod (docs/stage1.md "Mutable pods"). add and rm change
// the pod manifest under the pod's apps lock, atomically, so readers see the apps before or after, never between.
import fs from 'node:fs'
import path from 'node:path'

import type {Globals} from '../config/globals.js'
import type {PodManifest} from '../schema/index.js'
import type {AppAddArgs} from './spec.js'
import type {RunIo} from './run.js'

import {RktError} from '../errors.js'
import {APP_ENTRYPOINT_ENV, appArgv, type Entrypoint} from '../contract/entrypoints.js'
import {podPid} from '../contract/status.js'
import {serializePodManifest} from '../schema/index.js'
import {ImageStore} from '../store/image-store.js'
import {TreeStore} from '../store/tree-store.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'
import {unmountTree} from '../sys/mounts.js'
import {enterPod} from './enter.js'
import {type AppInfo, podInfo, podManifestOf} from './info.js'
import {buildPodManifest, MUTABLE_ANNOTATION} from './manifest.js'
import {linkMtab} from './mtab.js'
import {type Pod, PodStore} from './pods.js'
import {addAppRootfs, lookupAppImages, requireRoot, resolvedImage} from './run.js'
import {podStage1, runEntrypoint} from './stage1-image.js'

const isMutable = (m: PodManifest | undefined): boolean =>
  m?.annotations.some((a) => a.name === MUTABLE_ANNOTATION && a.value === 'true') === true

/** The running mutable pod `uuid` names, and its manifest. */
function mutablePod(globals: Globals, uuid: string): {pod: Pod; manifest: PodManifest} {
  const pod = new PodStore(globals.dir).find(uuid)
  const manifest = podManifestOf(pod)
  if (!isMutable(manifest)) {
    throw new RktError(`pod ${pod.uuid} is not a mutable pod: its apps were fixed when it started`, {
      code: 'ENOTMUTABLE',
      hint: 'apps can be added to, started in, stopped in and removed from pods made with: rkt app sandbox',
    })
  }
  const state = pod.state()
  if (state !== 'running') {
    throw new RktError(`pod ${pod.uuid} is not running (it is ${state})`, {
      code: 'ENOTRUNNING',
      hint: 'see the pods with: rkt list',
    })
  }
  return {pod, manifest: manifest!}
}

function mustHaveApp(pod: Pod, manifest: PodManifest, app: string): void {
  if (manifest.apps.some((a) => a.name === app)) return
  const names = manifest.apps.map((a) => a.name)
  throw new RktError(`pod ${pod.uuid} has no app named ${app}`, {
    code: 'ENOAPP',
    hint: names.length === 0 ? 'the pod has no app yet: rkt app add UUID IMAGE' : `apps: ${names.join(', ')}`,
  })
}

/** Runs one of the pod's stage1 app/* entrypoints with rkt's argv and environment; its failure is an error. */
async function appEntrypoint(pod: Pod, globals: Globals, name: Entrypoint, app: string): Promise<void> {
  const stage1 = podStage1(pod)
  const entry = stage1.entrypoint(name)
  if (entry === undefined) {
    throw new RktError(`the stage1 of pod ${pod.uuid} has no ${name} entrypoint`, {code: 'EUNSUPPORTED'})
  }
  const enter = stage1.entrypoint('enter')
  const pid = podPid(pod.paths)
  if (enter !== undefined) process.env[APP_ENTRYPOINT_ENV.enterCmd] = enter
  if (pid !== undefined) process.env[APP_ENTRYPOINT_ENV.enterPid] = String(pid)
  // oclif leaves a boolean flag that was not given undefined.
  const argv = appArgv({debug: globals.debug === true, app, ...(name === 'app/add' ? {uuid: pod.uuid} : {})})
  const status = await runEntrypoint(entry, argv, pod.path)
  if (status !== 0) throw new RktError(`${name} of app ${app} failed (exit status ${status})`, {code: 'EAPP'})
}

/** Holds the pod's apps lock (rkt's pod.lck) while fn changes its apps. */
async function withAppsLock<T>(pod: Pod, fn: () => Promise<T>): Promise<T> {
  const lock = FileLock.onFile(pod.paths.appsLock, {exclusive: true, wait: true})
  try {
    return await fn()
  } finally {
    lock.release()
  }
}

function writeManifest(pod: Pod, manifest: PodManifest): void {
  writeFileAtomic(pod.paths.manifest, serializePodManifest(manifest), 0o640)
}

/** The app's records in the pod (appsinfo/, its rootfs and mounts, its directory), gone. */
function dropAppFiles(pod: Pod, app: string): void {
  const p = pod.paths
  unmountTree(p.app(app))
  fs.rmSync(p.app(app), {recursive: true, force: true})
  fs.rmSync(p.appInfo(app), {recursive: true, force: true})
}

/**
 * `rkt app add UUID IMAGE [APP FLAGS]`: the image's app, named by --name or after the image, joins the pod
 * (created, not started): its tree rendered, its rootfs mounted, the pod manifest rewritten, and the stage1's
 * app/add told. Returns the app's name. Whatever fails, the pod is left as it was.
 */
export async function addApp(args: AppAddArgs, globals: Globals, io: RunIo): Promise<string> {
  requireRoot('app add')
  const {pod} = mutablePod(globals, args.uuid)
  const store = ImageStore.open(globals.dir)
  const [record] = await lookupAppImages(globals, store, {pod: {pullPolicy: 'new'}, apps: [args.app]}, io)
  const image = resolvedImage(store, record!)
  const noPodFlags = {setEnvFiles: [], inheritEnv: false, setEnv: [], mounts: [], volumes: [], ports: []}
  const built = buildPodManifest({pod: noPodFlags, apps: [args.app]}, [image], {warn: io.warn}).manifest
  const app = built.apps[0]!
  return withAppsLock(pod, async () => {
    const manifest = podManifestOf(pod)!
    if (manifest.apps.some((a) => a.name === app.name)) {
      throw new RktError(`pod ${pod.uuid} already has an app named ${app.name}`, {
        code: 'EAPPEXISTS',
        hint: `name this one with --name after the image: rkt app add ${pod.uuid} ${args.app.image} --name=${app.name}-2`,
      })
    }
    const p = pod.paths
    const trees = new TreeStore(store)
    const tree = trees.renderHeld(record!.key)
    try {
      fs.mkdirSync(p.appInfo(app.name), {recursive: true})
      fs.writeFileSync(p.appInfoManifest(app.name), store.manifestBytes(record!.key))
      fs.writeFileSync(p.appTreeStoreId(app.name), tree.treeId)
      const cache = store.layout.engineCache(record!.key)
      fs.mkdirSync(cache, {recursive: true, mode: 0o700})
      fs.writeFileSync(p.appEngineCache(app.name), path.resolve(cache))
      await addAppRootfs(pod, trees, app.name)
      linkMtab(p.appRootfs(app.name))
      const known = new Set(manifest.volumes.map((v) => v.name))
      writeManifest(pod, {
        ...manifest,
        apps: [...manifest.apps, app],
        volumes: [...manifest.volumes, ...built.volumes.filter((v) => !known.has(v.name))],
      })
      try {
        await appEntrypoint(pod, globals, 'app/add', app.name)
      } catch (err) {
        writeManifest(pod, manifest)
        throw err
      }
    } catch (err) {
      dropAppFiles(pod, app.name)
      throw err
    } finally {
      tree.lock.release()
    }
    store.touch([record!.key])
    return app.name
  })
}

/** `rkt app start UUID --app=NAME`: starts an app added (or exited) in a mutable pod. */
export async function startApp(globals: Globals, uuid: string, app: string): Promise<void> {
  requireRoot('app start')
  const {pod, manifest} = mutablePod(globals, uuid)
  mustHaveApp(pod, manifest, app)
  await appEntrypoint(pod, globals, 'app/start', app)
}

/** `rkt app stop UUID --app=NAME`: stops a running app of a mutable pod; returns once it has exited. */
export async function stopApp(globals: Globals, uuid: string, app: string): Promise<void> {
  requireRoot('app stop')
  const {pod, manifest} = mutablePod(globals, uuid)
  mustHaveApp(pod, manifest, app)
  await appEntrypoint(pod, globals, 'app/stop', app)
}

/** `rkt app rm UUID --app=NAME`: removes an app that is not running from a mutable pod. */
export async function removeApp(globals: Globals, uuid: string, app: string): Promise<void> {
  requireRoot('app rm')
  const {pod} = mutablePod(globals, uuid)
  await withAppsLock(pod, async () => {
    const manifest = podManifestOf(pod)!
    mustHaveApp(pod, manifest, app)
    await appEntrypoint(pod, globals, 'app/rm', app)
    writeManifest(pod, {...manifest, apps: manifest.apps.filter((a) => a.name !== app)})
    dropAppFiles(pod, app)
  })
}

/** `rkt app list UUID`: the pod's apps as rkt's v1.App (the fields `rkt status --format=json` gives each app). */
export function listApps(globals: Globals, uuid: string): AppInfo[] {
  return podInfo(new PodStore(globals.dir).find(uuid)).apps ?? []
}

/** `rkt app status UUID --app=NAME`: one app as rkt's v1.App. */
export function appStatus(globals: Globals, uuid: string, app: string): AppInfo {
  const found = listApps(globals, uuid).find((a) => a.name === app)
  if (found === undefined) {
    throw new RktError(`cannot find app ${JSON.stringify(app)} in the pod`, {
      code: 'ENOAPP',
      hint: `see its apps with: rkt app list ${uuid}`,
    })
  }
  return found
}

/** `rkt app exec UUID --app=NAME CMD…`: `rkt enter --app` under rkt's other name. */
export async function execApp(globals: Globals, uuid: string, app: string, command: readonly string[]) {
  requireRoot('app exec')
  return enterPod(globals, uuid, app, command)
}

/** `rkt app status` in its key=value form (rkt's printApp); times formatted by the caller from nanoseconds. */
export function appStatusLines(app: AppInfo, formatTime: (ns: bigint) => string): string[] {
  const lines = [`name=${app.name}`, `state=${app.state}`, `image_id=${app.image_id ?? ''}`]
  if (app.created_at !== undefined) lines.push(`created_at=${formatTime(app.created_at)}`)
  if (app.started_at !== undefined) lines.push(`started_at=${formatTime(app.started_at)}`)
  if (app.finished_at !== undefined) lines.push(`finished_at=${formatTime(app.finished_at)}`)
  if (app.exit_code !== undefined) lines.push(`exit_code=${app.exit_code}`)
  const mounts = (app.mounts ?? []).map((m) => `${m.host_path}:${m.container_path}:(read_only:${m.read_only})`)
  if (mounts.length > 0) lines.push(`mounts=${mounts.join(',')}`)
  const pairs = (r: Record<string, string> | undefined): string =>
    Object.entries(r ?? {})
      .map(([k, v]) => `${k}:${v}`)
      .join(',')
  if (app.user_annotations) lines.push(`user_annotations=${pairs(app.user_annotations)}`)
  if (app.user_labels) lines.push(`user_labels=${pairs(app.user_labels)}`)
  return lines
}
