import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class AppStart extends RktCommand {
  static override summary = 'Start an app of a mutable pod'
  static override usage = 'app start UUID --app=NAME'
  static override examples = [
    {
      description: 'Start the app web, added with rkt app add (or start it again once it has exited)',
      command: '<%= config.bin %> app start 5f6a8b3c --app=web',
    },
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true})}
  static override flags = {app: Flags.string({summary: 'name of the app', required: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(AppStart)
    const {startApp} = await import('../../../pod/app.js')
    await startApp(this.resolveGlobals(flags), args.uuid, flags.app)
  }
}
