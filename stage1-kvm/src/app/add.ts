// kvm's app/add entrypoint (`rkt app add`): the app's disk, set-up and configuration, then the guest's supervisor
// is told of it (add.ts; stage1-kvm/README.md "Mutable pods").
import path from 'node:path'

import {entrypoint, loadPod, parseAppArgv} from '@rkt/core/stage1'

import {addApp} from '../add.js'

export const main = entrypoint('app/add', import.meta.url, async (argv, warn) => {
  const args = parseAppArgv(argv)
  const root = process.cwd()
  await addApp(loadPod(root, args.uuid ?? path.basename(root)), args.app, warn)
  return 0
})
