import {RktCommand} from '../../cli/base.js'
import {versionLines} from '../../version.js'

export default class Version extends RktCommand {
  static override summary = 'Print the version and exit'

  static override examples = [
    {description: 'Print the versions of rkt and the appc spec', command: '<%= config.bin %> version'},
  ]
  async run(): Promise<void> {
    await this.parse(Version)
    this.log(versionLines().join('\n'))
  }
}
