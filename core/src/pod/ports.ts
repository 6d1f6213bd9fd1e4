// A host port is forwarded to one pod at a time. Before a pod's stage1 runs, stage0 compares the host ports
// its manifest forwards with those of the other pods of the data directory that still hold networks: a
// running pod's forward is a conflict (refused); an exited pod keeps its networks, port forwards included,
// until gc (as in rkt), and its DNAT rule would come first and swallow the new pod's traffic, so that pod's
// own stage1 gc entrypoint runs now (it tears the networks down), under the pod's lock, with a notice.
import fs from 'node:fs'

import type {Globals} from '../config/globals.js'
import type {PodManifest} from '../schema/index.js'
import type {Pod} from './pods.js'

import {RktError} from '../errors.js'
import {collides, portMappings, type PortMapping} from '../contract/ports.js'
import {stage1Gc} from './gc.js'
import {podManifestOf} from './info.js'

const mappingsOf = (m: PodManifest): PortMapping[] =>
  portMappings(
    m.ports,
    m.apps.map((a) => a.app),
  )

/** The other pods' forwards of these ports: refused while their pod runs, released once it has exited. */
export async function releaseHostPorts(pod: Pod, globals: Globals, log: (line: string) => void): Promise<void> {
  const manifest = podManifestOf(pod)
  const ours = manifest === undefined ? [] : mappingsOf(manifest)
  if (ours.length === 0) return
  for (const other of pod.store.list()) {
    if (other.uuid === pod.uuid || !['run', 'exited-garbage'].includes(other.dirState)) continue
    if (!fs.existsSync(other.paths.netState)) continue // no networks left (collected, or never had any)
    let theirs: PortMapping[] = []
    try {
      const m = podManifestOf(other)
      if (m !== undefined) theirs = mappingsOf(m)
    } catch {
      continue // gone meanwhile, or a manifest that forwards nothing
    }
    const clash = ours.find((p) => theirs.some((q) => collides(p, q)))
    if (clash === undefined) continue
    let locked: boolean
    try {
      locked = other.tryLock() !== undefined
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // collected meanwhile
      throw err
    }
    if (!locked) {
      throw new RktError(
        `host port ${clash.hostPort}/${clash.protocol} is forwarded to pod ${other.uuid}, which is running`,
        {
          code: 'EPORTINUSE',
          hint: `forward another host port (--port=NAME:PORT), or stop that pod first: rkt stop ${other.uuid}`,
        },
      )
    }
    try {
      log(
        `releasing host port ${clash.hostPort}/${clash.protocol} from exited pod ${other.uuid} (its networks go now rather than at gc)`,
      )
      await stage1Gc(other, globals, log)
    } finally {
      other.unlock()
    }
  }
}
