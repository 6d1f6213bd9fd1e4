// qemu-img, the one way this engine makes and reads disk images (stage1-kvm/README.md "Disks"): each call names
// the command, the file and a fix when it fails, instead of a bare exit status.
import {spawnSync} from 'node:child_process'

import {findHostTool, RktError} from '@rkt/core/stage1'

function qemuImg(args: readonly string[], file: string): string {
  const tool = findHostTool('qemu-img')
  if (tool === undefined) {
    throw new RktError('qemu-img is not installed (not found on PATH)', {
      code: 'ENOQEMUIMG',
      hint: 'install it (Debian: apt-get install qemu-utils; scripts/setup does)',
    })
  }
  const r = spawnSync(tool, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  if (r.status !== 0) {
    const said = (r.stderr || r.error?.message || `exit status ${r.status ?? r.signal}`).trim()
    throw new RktError(`qemu-img ${args[0]} failed on ${file}: ${said}`, {
      code: 'EQEMUIMG',
      hint: `run \`qemu-img ${args.join(' ')}\` by hand to see why; check that the file system holding ${file} has room and the files are readable`,
    })
  }
  return r.stdout
}

/** A qcow2 overlay at `overlay` whose backing file is the raw image `base` (never written through it). */
export function createOverlay(base: string, overlay: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', overlay], overlay)
}

/** `from`, of format `fromFormat` (never guessed: a raw disk's guest could write any header), copied to `to`. */
export function convert(from: string, fromFormat: 'raw' | 'qcow2', to: string, format: 'raw' | 'qcow2'): void {
  qemuImg(['convert', '-q', '-f', fromFormat, '-O', format, from, to], from)
}

export interface ImageInfo {
  readonly format: string
  readonly virtualSize: number
  readonly actualSize: number
  readonly backingFile?: string
}

/** What qemu-img says of an image file. */
export function info(file: string): ImageInfo {
  const j = JSON.parse(qemuImg(['info', '--output=json', file], file)) as Record<string, unknown>
  return {
    format: String(j['format']),
    virtualSize: Number(j['virtual-size']),
    actualSize: Number(j['actual-size']),
    ...(typeof j['backing-filename'] === 'string' ? {backingFile: j['backing-filename']} : {}),
  }
}
