// Entry of the actool CLI bundle (core/dist/cli/actool.cjs and its snapshot).
import {ACTOOL_COMMANDS} from './index.js'
import {APPC_VERSION} from '../../version.js'
import {startCli} from '../../cli/main.js'

startCli({
  bin: 'actool',
  version: APPC_VERSION,
  commands: ACTOOL_COMMANDS,
  topics: {},
  globalFlags: {withValue: [], boolean: ['debug']},
})
