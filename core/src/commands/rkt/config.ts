import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {configLayers} from '../../config/globals.js'
import {loadStage0Config, renderStage0Config} from '../../config/stage0.js'

export default class ConfigCmd extends RktCommand {
  static override summary = 'Print configuration for each stage in JSON format'
  static override description = 'Secrets (passwords, tokens, keys) are shown as "***".'
  static override examples = [
    {
      description: 'Print the configuration rkt assembled from the config directories',
      command: '<%= config.bin %> config --pretty-print',
    },
    {
      description: 'With another local configuration directory',
      command: '<%= config.bin %> --local-config=/srv/rkt-conf config',
    },
  ]
  static override flags = {
    'pretty-print': Flags.boolean({summary: 'apply indent to format the output', default: true, allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ConfigCmd)
    const g = this.resolveGlobals(flags)
    this.printJson(renderStage0Config(loadStage0Config(configLayers(g))), flags['pretty-print'])
  }
}
