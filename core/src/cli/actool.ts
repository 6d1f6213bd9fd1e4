// Entry of the actool CLI bundle (core/dist/cli/actool.cjs and its snapshot).
import {ACTOOL_COMMANDS} from '../commands/actool/index.js'
import {APPC_VERSION} from '../version.js'
import {startCli} from './main.js'

startCli({
  bin: 'actool',
  version: APPC_VERSION,
  commands: ACTOOL_COMMANDS,
  topics: {},
  globalFlags: {withValue: [], boolean: ['debug']},
})
