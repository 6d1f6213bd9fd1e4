// The kvm stage1's image (core/src/stage1-build/image.ts builds it).
import {builtinNetFiles} from '@rkt/net-plugins'
import {SUPPORT_VOCABULARY} from '@rkt/core/stage1-build'
import {SUPERVISOR_FILES, SUPERVISOR_HELPERS} from '@rkt/stage1-supervisor/image-parts'

export default {
  name: 'kvm',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop', 'export', 'app/add', 'app/start', 'app/stop', 'app/rm'],
  // The guest's root is this rootfs (9p): the kernel, its init and busybox, and the supervisor and enter
  // helper, which run the apps in the guest exactly as in an nspawn pod.
  helpers: [
    ['dist/kvm-exec', 'kvm-exec'],
    ['dist/vmlinux', 'kvm/vmlinux'],
    ['dist/kvm-init', 'kvm/init'],
    ['/bin/busybox', 'kvm/busybox'],
    ...SUPERVISOR_HELPERS,
  ],
  dirs: ['proc', 'sys', 'dev', 'tmp', 'kvm'],
  // The built-in default and default-restricted networks (net.d files read from the pod's stage1 rootfs).
  files: {...SUPERVISOR_FILES, ...builtinNetFiles()},
  // Socket activation is refused (the unit's sockets cannot cross into the VM): the one behaviour not claimed.
  supports: [...SUPPORT_VOCABULARY.required, ...SUPPORT_VOCABULARY.optional.filter((b) => b !== 'socket-activation')],
}
