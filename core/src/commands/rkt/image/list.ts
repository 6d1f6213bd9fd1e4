import {Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {goTime, humanBytes, humanTime, msToNs, tabTable} from '../../../cli/format.js'
import {shortId} from '../../../store/ids.js'
import {
  IMAGE_LIST_FIELDS,
  IMAGE_LIST_HEADERS,
  IMAGE_SORT_FIELDS,
  imageListEntries,
  parseOptionList,
} from '../../../store/list.js'

export default class ImageList extends RktCommand {
  static override summary = 'List images in the local store'
  static override description = 'Optionally, allows the user to specify the fields and sort order.'
  static override examples = [
    {description: 'The stored images', command: '<%= config.bin %> image list'},
    {
      description: 'Chosen columns, largest first',
      command: '<%= config.bin %> image list --fields=id,name,size --sort=size --order=desc',
    },
    {description: 'For scripts', command: '<%= config.bin %> image list --format=json'},
  ]
  static override flags = {
    fields: Flags.string({
      summary: `comma-separated list of fields to display. Accepted values: ${IMAGE_LIST_FIELDS.join(', ')}`,
      default: IMAGE_LIST_FIELDS.join(','),
    }),
    sort: Flags.string({
      summary: `sort the output according to the provided comma-separated list of fields. Accepted values: ${IMAGE_SORT_FIELDS.join(', ')}`,
      default: 'importtime',
    }),
    order: Flags.string({summary: 'choose the sorting order: asc or desc', options: ['asc', 'desc'], default: 'asc'}),
    'no-legend': Flags.boolean({summary: 'suppress a legend with the list', allowNo: true}),
    full: Flags.boolean({summary: 'use long output format', allowNo: true}),
    format: Flags.string({summary: 'choose the output format', options: ['json', 'json-pretty']}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ImageList)
    const g = this.resolveGlobals(flags)
    const fields = parseOptionList('fields', flags.fields, IMAGE_LIST_FIELDS)
    const sort = parseOptionList('sort', flags.sort, IMAGE_SORT_FIELDS)
    const {ImageStore} = await import('../../../store/image-store.js')
    const store = ImageStore.open(g.dir)
    const entries = imageListEntries(store.list(), sort, flags.order === 'asc', (key) => store.engineCacheBytes(key))
    if (flags.format) {
      // rkt's v1.ImageListEntry: the store key as id, timestamps in nanoseconds.
      const json = entries.map((e) => ({
        id: e.id,
        name: e.name,
        import_time: msToNs(e.importTime),
        last_used_time: msToNs(e.lastUsed),
        size: e.size,
      }))
      this.printJson(json, flags.format === 'json-pretty')
      return
    }
    const cell = (e: (typeof entries)[number], f: (typeof fields)[number]): string => {
      switch (f) {
        case 'id':
          return flags.full ? e.id : shortId(e.id)
        case 'name':
          return e.name
        case 'size':
          return flags.full ? String(e.size) : humanBytes(e.size)
        case 'importtime':
          return flags.full ? goTime(e.importTime) : humanTime(e.importTime)
        case 'lastused':
          return flags.full ? goTime(e.lastUsed) : humanTime(e.lastUsed)
      }
    }
    const rows = entries.map((e) => fields.map((f) => cell(e, f)))
    if (!flags['no-legend']) rows.unshift(fields.map((f) => IMAGE_LIST_HEADERS[f]))
    process.stdout.write(tabTable(rows))
  }
}
