// Entry of the docker2aci CLI bundle (core/dist/cli/docker2aci.cjs and its snapshot): one command.
import {DOCKER2ACI_COMMANDS} from './index.js'
import {RKT_VERSION} from '../../version.js'
import {startCli} from '../../cli/main.js'

startCli({
  bin: 'docker2aci',
  version: RKT_VERSION,
  commands: DOCKER2ACI_COMMANDS,
  topics: {},
  single: true,
  globalFlags: {withValue: [], boolean: ['debug']},
})
