// Test support for the SDK's tests: a pod directory laid out as stage0 leaves it for the run entrypoint (the
// pod manifest, each app's image manifest and rootfs), loaded the way an engine loads it.
import fs from 'node:fs'

import {PodPaths} from '../contract/paths.js'
import {loadPod, type LoadedPod} from './pod.js'

/** An app of a test pod: its name and what its app section has beyond a root `/bin/true`. */
export interface TestApp {
  readonly name: string
  readonly app?: Readonly<Record<string, unknown>>
}

/** Writes a pod of these apps into the empty directory `root` and loads it. */
export function makeTestPod(
  root: string,
  uuid: string,
  apps: readonly TestApp[],
  isolators: unknown[] = [],
): LoadedPod {
  const paths = new PodPaths(root)
  const id = `sha512-${'0123456789abcdef'.repeat(8)}`
  const manifest = {
    acKind: 'PodManifest',
    acVersion: '0.8.11',
    apps: apps.map((a) => ({
      name: a.name,
      image: {name: `example.com/${a.name}`, id},
      app: {exec: ['/bin/true'], user: '0', group: '0', ...a.app},
    })),
    volumes: [],
    isolators,
  }
  fs.writeFileSync(paths.manifest, JSON.stringify(manifest))
  for (const a of apps) {
    fs.mkdirSync(paths.appInfo(a.name), {recursive: true})
    const image = {acKind: 'ImageManifest', acVersion: '0.8.11', name: `example.com/${a.name}`}
    fs.writeFileSync(paths.appInfoManifest(a.name), JSON.stringify(image))
    fs.mkdirSync(paths.appRootfs(a.name), {recursive: true})
  }
  return loadPod(root, uuid)
}
