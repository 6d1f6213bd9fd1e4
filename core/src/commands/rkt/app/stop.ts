import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class AppStop extends RktCommand {
  static override summary = 'Stop an app of a mutable pod (once it has exited)'
  static override usage = 'app stop UUID --app=NAME'
  static override examples = [
    {
      description: 'Stop the app web (SIGTERM, SIGKILL after the grace period); the pod keeps running',
      command: '<%= config.bin %> app stop 5f6a8b3c --app=web',
    },
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true})}
  static override flags = {app: Flags.string({summary: 'name of the app', required: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(AppStop)
    const {stopApp} = await import('../../../pod/app.js')
    await stopApp(this.resolveGlobals(flags), args.uuid, flags.app)
  }
}
