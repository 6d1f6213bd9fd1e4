// The fly stage1's image (core/src/stage1-build/image.ts builds it).
import {SUPPORT_VOCABULARY} from '@rkt/core/stage1-build'

export default {
  name: 'fly',
  interfaceVersion: 5,
  entrypoints: ['run', 'enter', 'gc', 'stop', 'attach'],
  helpers: [
    ['dist/fly-exec', 'fly-exec'],
    ['dist/iomux', 'iomux'],
  ],
  // One app, the host's network and UTS namespace: no multi-app, etc-files, sibling-exit or private-network.
  supports: [...SUPPORT_VOCABULARY.required, 'volumes-mountpoint', 'limits', 'metadata-service', 'interactive', 'logs'],
}
