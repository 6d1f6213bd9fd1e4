// What a stage1 entrypoint knows of its pod: the pod manifest stage0 wrote, each app's image manifest and
// rootfs, and (after the run entrypoint) the runtime config. stage1 reads everything from the pod directory:
// it never reaches into stage0's store.
import fs from 'node:fs'

import type {App, ImageManifest, PodManifest, RuntimeApp} from '../schema/index.js'
import type {RuntimeConfig} from '../contract/runtime.js'

import {RktError, wrap} from '../errors.js'
import {parseImageManifest, parsePodManifest} from '../schema/index.js'
import {PodPaths} from '../contract/paths.js'
import {loadRuntimeConfig} from '../contract/runtime.js'

/** One app of a pod, as its stage1 sees it. */
export interface PodApp {
  readonly name: string
  /** The app to run: the pod manifest's app section (stage0 always writes it in full). */
  readonly app: App
  readonly runtime: RuntimeApp
  readonly image: ImageManifest
  readonly rootfs: string
  /** The engine's cache directory for this app's image (PodPaths.appEngineCache); absent in older pods. */
  readonly engineCache: string | undefined
}

/** A pod directory loaded by a stage1 entrypoint. */
export interface LoadedPod {
  readonly uuid: string
  readonly paths: PodPaths
  readonly manifest: PodManifest
  readonly apps: readonly PodApp[]
  /** Present once the run entrypoint saved it. */
  readonly runtime: RuntimeConfig | undefined
}

/** Loads the pod whose directory is `root` (the entrypoints' working directory). */
export function loadPod(root: string, uuid: string): LoadedPod {
  const paths = new PodPaths(root)
  let manifest: PodManifest
  try {
    manifest = parsePodManifest(fs.readFileSync(paths.manifest)).manifest
  } catch (err) {
    throw wrap(`cannot read the pod manifest ${paths.manifest}`, err)
  }
  const apps = manifest.apps.map((ra): PodApp => {
    let image: ImageManifest
    try {
      // stage0's record, not the copy beside the app's rootfs: entrypoints run on the host, and the host never
      // trusts what the pod can write (the stage1 rootfs is the pod's).
      image = parseImageManifest(fs.readFileSync(paths.appInfoManifest(ra.name))).manifest
    } catch (err) {
      throw wrap(`cannot read the image manifest of app ${ra.name}`, err)
    }
    const app = ra.app ?? image.app
    if (!app) {
      throw new RktError(`app ${ra.name} has nothing to run: its image ${image.name} has no app section`, {
        hint: 'give the command with --exec',
      })
    }
    let engineCache: string | undefined
    try {
      engineCache = fs.readFileSync(paths.appEngineCache(ra.name), 'utf8').trim() || undefined
    } catch {
      engineCache = undefined
    }
    return {name: ra.name, app, runtime: ra, image, rootfs: paths.appRootfs(ra.name), engineCache}
  })
  let runtime: RuntimeConfig | undefined
  try {
    runtime = loadRuntimeConfig(paths.runtimeConfig)
  } catch {
    runtime = undefined
  }
  return {uuid, paths, manifest, apps, runtime}
}

/** The pod's app of that name (`rkt enter --app`), or an error listing the apps it has. */
export function podApp(pod: LoadedPod, name: string): PodApp {
  const app = pod.apps.find((a) => a.name === name)
  if (!app)
    throw new RktError(`the pod has no app named ${name}`, {hint: `apps: ${pod.apps.map((a) => a.name).join(', ')}`})
  return app
}
