import {RktCommand} from '../../cli/base.js'
import {versionLines} from '../../version.js'

export default class Version extends RktCommand {
  static override summary = 'Print the version and exit'

  async run(): Promise<void> {
    await this.parse(Version)
    this.log(versionLines().join('\n'))
  }
}
