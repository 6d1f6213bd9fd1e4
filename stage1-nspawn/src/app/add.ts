// nspawn's app/add entrypoint: prepares the app on the host and hands it to the pod's supervisor (../mutable.ts).
import {entrypoint} from '@rkt/core/stage1'

import {addApp, appRequest} from '../mutable.js'

export const main = entrypoint('app/add', import.meta.url, (argv, warn) => {
  const {pod, app} = appRequest(argv)
  addApp(pod, app, warn)
  return 0
})
