import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {tabTable} from '../../../cli/format.js'

export default class AppList extends RktCommand {
  static override summary = 'List the apps of a pod'
  static override description = 'Lists the name and state of each app; rkt app status shows more.'
  static override usage = 'app list UUID [--no-legend]'
  static override examples = [
    {description: 'The apps of a pod and their states', command: '<%= config.bin %> app list 5f6a8b3c'},
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true})}
  static override flags = {
    'no-legend': Flags.boolean({summary: 'suppress a legend with the list', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(AppList)
    const {listApps} = await import('../../../pod/app.js')
    const rows = listApps(this.resolveGlobals(flags), args.uuid).map((a) => [a.name, a.state])
    if (!flags['no-legend']) rows.unshift(['NAME', 'STATE'])
    process.stdout.write(tabTable(rows))
  }
}
