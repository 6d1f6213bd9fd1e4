import {Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {normalizeBooleans} from '../../../cli/main.js'
import {UsageError} from '../../../errors.js'
import Enter from '../enter.js'

export default class AppExec extends RktCommand {
  static override summary = 'Run a command in an app of a pod (rkt enter --app)'
  static override usage = 'app exec --app=NAME UUID CMD [ARGS…]'
  static override examples = [
    {
      description: "List the files of the app web's root",
      command: '<%= config.bin %> app exec --app=web 5f6a8b3c ls -l /',
    },
  ]
  static override flags = {app: Flags.string({summary: 'name of the app', required: true})}
  static override strict = false
  static override rawArgv = true
  static flagsEndAtArgument = true

  async run(): Promise<void> {
    const {prefix, uuid, command} = Enter.split(this.argv)
    const {flags} = await this.parse(AppExec, normalizeBooleans(prefix, AppExec))
    if (uuid === undefined || command.length === 0)
      throw new UsageError('missing the pod UUID or the command', {hint: 'rkt app exec --app=NAME UUID CMD [ARGS…]'})
    const {execApp} = await import('../../../pod/app.js')
    process.exitCode = await execApp(this.resolveGlobals(flags), uuid, flags.app, command)
  }
}
