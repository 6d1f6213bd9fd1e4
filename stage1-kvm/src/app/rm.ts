// kvm's app/rm entrypoint (`rkt app rm`): the guest's supervisor forgets the app (not running), and the guest and host drop its root, volumes, cgroup, disk and configuration, asked through the guest's agent
// (add.ts controlApp; stage1-kvm/README.md "Mutable pods").
import {entrypoint, parseAppArgv, PodPaths} from '@rkt/core/stage1'

import {controlApp} from '../add.js'

export const main = entrypoint('app/rm', import.meta.url, async (argv) => {
  await controlApp(new PodPaths(process.cwd()), 'rm', parseAppArgv(argv).app)
  return 0
})
