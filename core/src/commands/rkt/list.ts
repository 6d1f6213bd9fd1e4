import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {goTime, humanTime, tabTable} from '../../cli/format.js'

export default class List extends RktCommand {
  static override summary = 'List pods'
  static override examples = [
    {description: 'The pods, as a table', command: '<%= config.bin %> list'},
    {description: 'Full UUIDs and image IDs, without the header', command: '<%= config.bin %> list --full --no-legend'},
    {description: 'For scripts', command: '<%= config.bin %> list --format=json'},
  ]
  static override flags = {
    'no-legend': Flags.boolean({summary: 'suppress a legend with the list', allowNo: true}),
    full: Flags.boolean({summary: 'use long output format', allowNo: true}),
    format: Flags.string({summary: 'choose the output format', options: ['json', 'json-pretty']}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(List)
    const g = this.resolveGlobals(flags)
    const {PodStore} = await import('../../pod/pods.js')
    const {listRows, podInfo} = await import('../../pod/info.js')
    const pods = new PodStore(g.dir).list()
    if (flags.format) {
      // rkt's []v1.Pod, in the same states the table shows.
      const shown = pods.filter((p) => p.dirState !== 'embryo' && p.dirState !== 'garbage')
      this.printJson(
        shown.map((p) => podInfo(p)),
        flags.format === 'json-pretty',
      )
      return
    }
    const time = (d: Date): string => (flags.full ? goTime(d.getTime()) : humanTime(d.getTime()))
    const rows = listRows(pods, flags.full, time).map((r) =>
      flags.full
        ? [r.uuid, r.app, r.imageName, r.imageId, r.state, r.created, r.started, r.networks]
        : [r.uuid, r.app, r.imageName, r.state, r.created, r.started, r.networks],
    )
    if (!flags['no-legend']) {
      rows.unshift(
        flags.full
          ? ['UUID', 'APP', 'IMAGE NAME', 'IMAGE ID', 'STATE', 'CREATED', 'STARTED', 'NETWORKS']
          : ['UUID', 'APP', 'IMAGE NAME', 'STATE', 'CREATED', 'STARTED', 'NETWORKS'],
      )
    }
    process.stdout.write(tabTable(rows))
  }
}
