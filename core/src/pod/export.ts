// `rkt export [--app=NAME] UUID OUT.aci`: an exited pod's app, as it was left (the image plus what the app
// changed), written as a new image with the app's image manifest. A stage1 with an export entrypoint gives
// the rootfs itself (docs/stage1.md "export"); otherwise it is read through a mount of its
// own (a fresh overlay, or a non-recursive bind of the app's root), so that the /proc, /dev, /sys and
// volumes the stage1 mounted inside it are never archived.
import fs from 'node:fs'
import path from 'node:path'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {exportArgv} from '../contract/entrypoints.js'
import {RktError, UsageError, wrap} from '../errors.js'
import {parseImageManifest} from '../schema/index.js'
import {ImageStore} from '../store/image-store.js'
import {TreeStore} from '../store/tree-store.js'
import {mountOverlay, readMountinfo, removeTree} from '../sys/mounts.js'
import {MNT_DETACH, MS, mount, umount2} from '../sys/native.js'
import {podManifestOf} from './info.js'
import {type Pod, PodStore} from './pods.js'
import {podStage1, runEntrypoint, stage1Info} from './stage1-image.js'

export interface ExportOptions {
  readonly app?: string | undefined
  readonly overwrite: boolean
}

/** Exports an app of an exited pod; returns the new image's ID. */
export async function exportPod(globals: Globals, uuid: string, outFile: string, opts: ExportOptions): Promise<string> {
  if (path.extname(outFile) !== '.aci') throw new UsageError(`extension must be .aci (given ${outFile})`)
  const pod = new PodStore(globals.dir).find(uuid)
  const state = pod.state()
  if (state !== 'exited' && state !== 'exited garbage') {
    throw new RktError(`pod ${pod.uuid} is ${state}: only exited pods can be exported`, {
      code: 'ENOTEXITED',
      hint: state === 'running' ? `stop it first: rkt stop ${pod.uuid}` : undefined,
    })
  }
  const apps = podManifestOf(pod)?.apps.map((a) => a.name) ?? []
  const app = opts.app ?? (apps.length === 1 ? apps[0] : undefined)
  if (app === undefined)
    throw new UsageError(`pod ${pod.uuid} has several apps: say which`, {
      hint: `--app=NAME, one of: ${apps.join(', ')}`,
    })
  if (!apps.includes(app))
    throw new RktError(`app ${app} is not present in pod ${pod.uuid}`, {hint: `apps: ${apps.join(', ')}`})
  if (!opts.overwrite && fs.existsSync(outFile)) {
    throw new RktError(`${outFile} already exists`, {code: 'EEXIST', hint: 'use --overwrite to replace it'})
  }

  const p = pod.paths
  const store = ImageStore.open(globals.dir)
  const work = fs.mkdtempSync(path.join(store.layout.tmpDir, `export-${pod.uuid}-`))
  const rootfs = path.join(work, 'rootfs')
  fs.mkdirSync(rootfs)
  let mounted = false
  try {
    const exporter = stage1Exporter(pod)
    if (exporter !== undefined) {
      // The engine keeps the app's files where only it can read them (kvm: a disk the guest wrote).
      const status = await runEntrypoint(exporter, exportArgv({app, to: rootfs}), pod.path)
      if (status !== 0) throw new RktError(`the stage1's export entrypoint failed (exit status ${status})`)
    } else {
      mountAppRoot(pod, store, app, rootfs)
      mounted = true
    }
    fs.copyFileSync(p.appInfoManifest(app), path.join(work, 'manifest'))
    const result = await buildAci({
      layoutDir: work,
      outFile,
      manifest: fs.readFileSync(p.appInfoManifest(app)),
      compression: 'gzip',
      overwrite: opts.overwrite,
    })
    return result.imageId
  } catch (err) {
    throw wrap(`cannot export app ${app} of pod ${pod.uuid}`, err)
  } finally {
    if (mounted) umount2(rootfs, MNT_DETACH)
    // Never a recursive rm here: were the unmount to fail, it would reach into the pod's files.
    removeTree(work)
  }
}

/** The path of the pod's stage1 export entrypoint, when its image names one (docs/stage1.md "export"). */
function stage1Exporter(pod: Pod): string | undefined {
  if (!fs.existsSync(pod.paths.stage1Manifest)) return undefined
  const manifest = parseImageManifest(fs.readFileSync(pod.paths.stage1Manifest)).manifest
  return stage1Info(manifest).entrypoints.export === undefined ? undefined : podStage1(pod).entrypoint('export')
}

/**
 * Mounts the app's rootfs as it was left on `rootfs`: an overlay of its tree and upper directory, or a
 * non-recursive bind of the app's root.
 */
function mountAppRoot(pod: Pod, store: ImageStore, app: string, rootfs: string): void {
  const p = pod.paths
  const appRoot = path.resolve(p.appRootfs(app))
  const appRootMounted = readMountinfo().some((m) => m.mountPoint === appRoot)
  if (fs.existsSync(p.overlayPrepared) && !appRootMounted) {
    const tree = fs.readFileSync(p.appTreeStoreId(app), 'utf8').trim()
    const trees = new TreeStore(store)
    if (!trees.isRendered(tree)) {
      throw new RktError(`the image tree of app ${app} is no longer in the store`, {
        hint: 'it was removed by rkt image gc',
      })
    }
    mountOverlay(trees.rootfs(tree), p.overlay(tree, 'upper', app), p.overlay(tree, 'work', app), rootfs)
  } else {
    // Without MS_REC the bind carries the app's root alone, none of the mounts stacked inside it.
    mount(appRoot, rootfs, null, MS.BIND)
  }
}
