// The nspawn stage1's image (core/src/stage1-build/image.ts builds it).
import {SUPPORT_VOCABULARY} from '@rkt/core/stage1-build'
import {builtinNetFiles} from '@rkt/net-plugins'
import {SUPERVISOR_FILES, SUPERVISOR_HELPERS} from '@rkt/stage1-supervisor/image-parts'

export default {
  name: 'nspawn',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop', 'attach', 'app/add', 'app/start', 'app/stop', 'app/rm'],
  // The pod's PID 1 and the enter helper.
  helpers: SUPERVISOR_HELPERS,
  // systemd-nspawn refuses a directory without /usr and /etc/os-release.
  files: {
    ...SUPERVISOR_FILES,
    // The built-in default and default-restricted networks (net.d files read from the pod's stage1 rootfs).
    ...builtinNetFiles(),
    'usr/.keep': '',
    'etc/os-release': 'NAME="rkt stage1-nspawn"\nID=rkt-stage1\nPRETTY_NAME="rkt stage1-nspawn"\n',
  },
  // The default stage1 (defaults.json).
  default: true,
  supports: [...SUPPORT_VOCABULARY.required, ...SUPPORT_VOCABULARY.optional],
}
