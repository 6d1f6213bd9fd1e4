// nspawn's app/stop entrypoint: asks the pod's supervisor (../mutable.ts).
import {entrypoint} from '@rkt/core/stage1'

import {appRequest, ask} from '../mutable.js'

export const main = entrypoint('app/stop', import.meta.url, (argv) => {
  const {pod, app} = appRequest(argv)
  ask(pod.paths, 'stop', app)
  return 0
})
