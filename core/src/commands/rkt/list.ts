import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import type {ListRow} from '../../pod/info.js'

import {goTime, humanTime, tabTable} from '../../cli/format.js'
import {parseOptionList} from '../../store/list.js'

/** `rkt list` columns: --fields word → the row's field and the legend (rkt's order). */
const POD_LIST_COLUMNS = {
  uuid: {key: 'uuid', header: 'UUID'},
  name: {key: 'name', header: 'NAME'},
  app: {key: 'app', header: 'APP'},
  imagename: {key: 'imageName', header: 'IMAGE NAME'},
  imageid: {key: 'imageId', header: 'IMAGE ID'},
  state: {key: 'state', header: 'STATE'},
  created: {key: 'created', header: 'CREATED'},
  started: {key: 'started', header: 'STARTED'},
  networks: {key: 'networks', header: 'NETWORKS'},
} as const satisfies Record<string, {key: keyof ListRow; header: string}>
const POD_LIST_FIELDS = Object.keys(POD_LIST_COLUMNS) as (keyof typeof POD_LIST_COLUMNS)[]

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
    fields: Flags.string({
      summary: `comma-separated columns to show instead of rkt's (${POD_LIST_FIELDS.join(', ')}); name is the pod's --name`,
    }),
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
    // rkt's columns unless --fields chooses (the pod's name is a column only then: rkt's layout stays as it was).
    const fields =
      flags.fields === undefined
        ? POD_LIST_FIELDS.filter((f) => f !== 'name' && (flags.full || f !== 'imageid'))
        : parseOptionList('fields', flags.fields, POD_LIST_FIELDS)
    const time = (d: Date): string => (flags.full ? goTime(d.getTime()) : humanTime(d.getTime()))
    const rows = listRows(pods, flags.full, time).map((r) => fields.map((f) => r[POD_LIST_COLUMNS[f].key]))
    if (!flags['no-legend']) rows.unshift(fields.map((f) => POD_LIST_COLUMNS[f].header))
    process.stdout.write(tabTable(rows))
  }
}
