import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {goTime} from '../../../cli/format.js'

export default class AppStatus extends RktCommand {
  static override summary = 'Check the status of an app of a pod'
  static override usage = 'app status UUID --app=NAME [--format=json|json-pretty]'
  static override examples = [
    {
      description: 'The state, exit code and times of the app web, as JSON',
      command: '<%= config.bin %> app status 5f6a8b3c --app=web --format=json',
    },
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true})}
  static override flags = {
    app: Flags.string({summary: 'name of the app', required: true}),
    format: Flags.string({summary: 'choose the output format', options: ['json', 'json-pretty']}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(AppStatus)
    const {appStatus, appStatusLines} = await import('../../../pod/app.js')
    const app = appStatus(this.resolveGlobals(flags), args.uuid, flags.app)
    if (flags.format) this.printJson(app, flags.format === 'json-pretty')
    else process.stdout.write(`${appStatusLines(app, (ns) => goTime(Number(ns / 1_000_000n))).join('\n')}\n`)
  }
}
