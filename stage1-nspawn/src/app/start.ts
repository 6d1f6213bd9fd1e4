// nspawn's app/start entrypoint: asks the pod's supervisor (../mutable.ts).
import {entrypoint} from '@rkt/core/stage1'

import {appRequest, ask} from '../mutable.js'

export const main = entrypoint('app/start', import.meta.url, (argv) => {
  const {pod, app} = appRequest(argv)
  ask(pod.paths, 'start', app)
  return 0
})
