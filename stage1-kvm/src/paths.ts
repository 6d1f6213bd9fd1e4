// The kvm stage1's own files, on top of the pod directory's (PodPaths owns those): what the VM needs on
// the host, and what the guest finds in its root (the pod's stage1 rootfs).
import path from 'node:path'

import type {PodPaths} from '@rkt/core/stage1'

/**
 * The guest kernel, shipped in the stage1 image beside the entrypoints (`image` is the directory the running
 * entrypoint was loaded from: the image's tree in the store, never the pod's writable copy).
 */
export function guestKernel(image: string): string {
  return path.join(image, 'kvm', 'vmlinux')
}

export type DiskFormat = 'qcow2' | 'raw'

export class KvmPaths {
  constructor(readonly pod: PodPaths) {}

  /** `<pod>/kvm`: the VM's files on the host. */
  get dir(): string {
    return path.join(this.pod.root, 'kvm')
  }
  /** The guest's serial console: the kernel's messages, shown when the guest fails. */
  get consoleLog(): string {
    return path.join(this.dir, 'console.log')
  }
  /** The agent's socket (QEMU listens): `rkt enter` connects here. Relative to the pod directory. */
  static readonly agentSocket = path.join('kvm', 'agent.sock')
  /** The pod's app disks (README "Disks"). */
  get disksDir(): string {
    return path.join(this.dir, 'disks')
  }
  /**
   * App `app`'s disk: a qcow2 overlay on the image's base disk, or with --no-overlay (or no engine cache) a raw
   * ext4 of its own; the extension says which.
   */
  appDisk(app: string, format: DiskFormat): string {
    return path.join(this.disksDir, `${app}.${format}`)
  }
  /** `<pod>/kvm/shares`: one directory per host volume, a bind of its source, each shared with the guest. */
  get sharesDir(): string {
    return path.join(this.dir, 'shares')
  }
  share(n: number): string {
    return path.join(this.sharesDir, `v${n}`)
  }
  /** Export's raw copy of an app's qcow2 disk, deleted when the export ends. */
  exportScratch(app: string): string {
    return path.join(this.dir, `export-${app}.raw`)
  }
  /** An app added to the running pod: its raw ext4 disk, in the guest's root (the 9p share) at `/kvm/added/<app>.img`. */
  addedDisk(app: string): string {
    return path.join(this.pod.stage1Rootfs, KvmPaths.addedDiskInGuest(app))
  }
  /** addedDisk's path relative to the guest's root, as the agent's mount request names it. */
  static addedDiskInGuest(app: string): string {
    return path.join('kvm', 'added', `${app}.img`)
  }
  /** An added app's set-up script (its cgroup, its mounts), beside its disk: guest.ts addedAppScript. */
  addedScript(app: string): string {
    return path.join(this.pod.stage1Rootfs, KvmPaths.addedScriptInGuest(app))
  }
  static addedScriptInGuest(app: string): string {
    return path.join('kvm', 'added', `${app}.sh`)
  }
  /** Written by run: a copy in the guest's root of an /etc file from the host (`--dns=host`: /etc/resolv.conf). */
  etcCopy(name: string): string {
    return path.join(this.pod.stage1Rootfs, 'kvm', 'etc', name)
  }
  /** Written by run: the guest's start script (guest path /kvm/start.sh). */
  get startScript(): string {
    return path.join(this.pod.stage1Rootfs, 'kvm', 'start.sh')
  }
}
