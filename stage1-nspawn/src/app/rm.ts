// nspawn's app/rm entrypoint: the supervisor forgets the app (it refuses a running one), then what app/add made on
// the host goes (../mutable.ts). stage0 then unmounts the app's rootfs and takes it out of the pod manifest.
import {entrypoint} from '@rkt/core/stage1'

import {appRequest, ask, forgetApp} from '../mutable.js'

export const main = entrypoint('app/rm', import.meta.url, (argv) => {
  const {pod, app} = appRequest(argv)
  ask(pod.paths, 'rm', app)
  forgetApp(pod, app)
  return 0
})
