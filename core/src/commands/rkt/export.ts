import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'

export default class Export extends RktCommand {
  static override summary = 'Export an app from an exited pod to an ACI file'
  static override description = 'UUID should be the uuid of an exited pod.'
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
