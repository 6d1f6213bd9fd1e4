// The bwrap stage1's image (core/src/stage1-build/image.ts builds it): its entrypoints and app-exec
// (native/app-exec.c, built static into dist/).
import {SUPPORT_VOCABULARY} from '@rkt/core/stage1-build'

export default {
  name: 'bwrap',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop'],
  helpers: [['dist/app-exec', 'app-exec']],
  // Required set, plus real mount points for volumes (bound on the host) and several apps per pod. Not claimed:
  // limits (no cgroupfs in the sandbox), etc-files, metadata-service, interactive, private-network.
  supports: [...SUPPORT_VOCABULARY.required, 'volumes-mountpoint', 'multi-app', 'sibling-exit'],
}
