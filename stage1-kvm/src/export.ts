// kvm's export entrypoint (docs/stage1.md "export"): the app's root is an ext4 disk the guest wrote (a qcow2
// overlay of the image's base disk, or a raw disk with --no-overlay), which the host must never mount. The
// qcow2 is flattened to a raw file with qemu-img, and the file system is copied out in user space (debugfs.ts).
import fs from 'node:fs'
import path from 'node:path'

import {entrypoint, loadPod, parseExportArgv, podApp, RktError} from '@rkt/core/stage1'

import {dumpExt4} from './debugfs.js'
import {findAppDisk} from './disk.js'
import {convert} from './qemu-img.js'
import {KvmPaths} from './paths.js'

/** Copies the file system of an app's disk (qcow2 or raw ext4) into the empty directory `to`. */
export function exportDisk(disk: string, to: string, scratch: string): void {
  if (disk.endsWith('.raw')) {
    report(dumpExt4(disk, to).skipped)
    return
  }
  try {
    convert(disk, 'qcow2', scratch, 'raw')
    report(dumpExt4(scratch, to).skipped)
  } finally {
    fs.rmSync(scratch, {force: true})
  }
}

function report(skipped: readonly string[]): void {
  if (skipped.length > 0)
    process.stderr.write(`export: warning: sockets are not exported: ${skipped.slice(0, 5).join(', ')}\n`)
}

export const main = entrypoint('export', import.meta.url, (argv) => {
  const args = parseExportArgv(argv)
  const root = process.cwd()
  const pod = loadPod(root, path.basename(root))
  const app = podApp(pod, args.app)
  const kvm = new KvmPaths(pod.paths)
  const disk = findAppDisk(kvm, app.name)
  if (disk === undefined) {
    throw new RktError(`app ${app.name} of pod ${pod.uuid} has no disk in ${kvm.disksDir}`, {
      hint: 'was it made by a kvm stage1 from before app roots were disks? Its files are in its overlay on the host',
    })
  }
  exportDisk(disk.file, args.to, kvm.exportScratch(app.name))
  return 0
})
