// kvm's app/start entrypoint (`rkt app start`): the guest's supervisor starts the added app (its pre-start handler, then the app), asked through the guest's agent
// (add.ts controlApp; stage1-kvm/README.md "Mutable pods").
import {entrypoint, parseAppArgv, PodPaths} from '@rkt/core/stage1'

import {controlApp} from '../add.js'

export const main = entrypoint('app/start', import.meta.url, async (argv) => {
  await controlApp(new PodPaths(process.cwd()), 'start', parseAppArgv(argv).app)
  return 0
})
