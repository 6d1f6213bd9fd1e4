// Entry of the rkt CLI bundle (core/dist/cli/rkt.cjs and its snapshot).
import {RKT_COMMANDS, RKT_TOPICS} from './index.js'
import {RKT_VERSION} from '../../version.js'
import {rktGlobalFlagNames} from '../../cli/base.js'
import {startCli} from '../../cli/main.js'
import {rewriteInsecureSkipVerify} from '../../config/insecure.js'

startCli({
  bin: 'rkt',
  version: RKT_VERSION,
  commands: RKT_COMMANDS,
  topics: RKT_TOPICS,
  globalFlags: rktGlobalFlagNames,
  rewriteArgv: rewriteInsecureSkipVerify,
  // The pod commands' libraries (not OpenPGP or execa, loaded only when fetching or copying).
  preload: () =>
    Promise.all([
      import('../../pod/run.js'),
      import('../../pod/info.js'),
      import('../../pod/wait.js'),
      import('../../pod/enter.js'),
      import('../../pod/gc.js'),
      import('../../store/index.js'),
    ]),
})
