import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'

export default class Export extends RktCommand {
  static override summary = 'Export an app from an exited pod to an ACI file'
  static override description = 'UUID should be the uuid of an exited pod.'
  static override examples = [
    {
      description: 'Export the app of an exited pod as a new ACI',
      command: '<%= config.bin %> export 5f6a8b3c web-snapshot.aci',
    },
    {
      description: 'One app of several, replacing an existing file',
      command: '<%= config.bin %> export --app=web --overwrite 5f6a8b3c web.aci',
    },
  ]
  static override args = {
    uuid: Args.string({description: 'pod UUID (or a unique prefix)', required: true}),
    output: Args.string({description: 'the image file to write (.aci)', required: true}),
  }
  static override flags = {
    app: Flags.string({summary: 'name of the app to export within the specified pod'}),
    overwrite: Flags.boolean({summary: 'overwrite output ACI', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Export)
    const g = this.resolveGlobals(flags)
    const {requireRoot} = await import('../../pod/run.js')
    requireRoot('export')
    const {exportPod} = await import('../../pod/export.js')
    await exportPod(g, args.uuid, args.output, {
      app: flags.app,
      overwrite: flags.overwrite,
    })
  }
}
