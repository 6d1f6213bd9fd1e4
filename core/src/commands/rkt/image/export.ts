import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class ImageExport extends RktCommand {
  static override summary = 'Export a stored image to an ACI file'
  static override examples = [
    {
      description: 'Copy a stored image to an ACI file',
      command: '<%= config.bin %> image export sha512-6a1f3c2b hello.aci',
    },
  ]
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
    output: Args.string({description: 'output ACI file', required: true}),
  }
  static override flags = {overwrite: Flags.boolean({summary: 'overwrite output ACI', allowNo: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ImageExport)
    const {exportImage, ImageStore} = await import('../../../store/index.js')
    const store = ImageStore.open(this.resolveGlobals(flags).dir)
    exportImage(store, store.resolve(args.image).key, args.output, flags.overwrite)
  }
}
