// kvm's app/stop entrypoint (`rkt app stop`): the guest's supervisor stops the app (SIGTERM, SIGKILL after the grace period) and returns once its status is written, asked through the guest's agent
// (add.ts controlApp; stage1-kvm/README.md "Mutable pods").
import {entrypoint, parseAppArgv, PodPaths} from '@rkt/core/stage1'

import {controlApp} from '../add.js'

export const main = entrypoint('app/stop', import.meta.url, async (argv) => {
  await controlApp(new PodPaths(process.cwd()), 'stop', parseAppArgv(argv).app)
  return 0
})
