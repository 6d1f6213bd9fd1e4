// The kvm stage1's own files, on top of the pod directory's (PodPaths owns those): what the VM needs on
// the host, and what the guest finds in its root (the pod's stage1 rootfs).
import path from 'node:path'

import type {PodPaths} from '@rkt/core/stage1'

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
  /** Shipped in the stage1 image: the guest kernel, the guest's init and busybox. */
  get kernel(): string {
    return path.join(this.pod.stage1Rootfs, 'kvm', 'vmlinux')
  }
  /** Written by run: the guest's start script (guest path /kvm/start.sh). */
  get startScript(): string {
    return path.join(this.pod.stage1Rootfs, 'kvm', 'start.sh')
  }
}
