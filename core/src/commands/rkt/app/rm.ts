import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class AppRm extends RktCommand {
  static override summary = 'Remove an app that is not running from a mutable pod'
  static override usage = 'app rm UUID --app=NAME'
  static override examples = [
    {description: 'Remove the stopped app web from the pod', command: '<%= config.bin %> app rm 5f6a8b3c --app=web'},
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true})}
  static override flags = {app: Flags.string({summary: 'name of the app', required: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(AppRm)
    const {removeApp} = await import('../../../pod/app.js')
    await removeApp(this.resolveGlobals(flags), args.uuid, flags.app)
  }
}
