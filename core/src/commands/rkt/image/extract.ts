import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class ImageExtract extends RktCommand {
  static override summary = 'Extract a stored image to a directory'
  static override examples = [
    {
      description: "An image's manifest and rootfs in a directory",
      command: '<%= config.bin %> image extract example.com/hello:1.0 ./hello',
    },
    {
      description: 'Only the rootfs, replacing the directory',
      command: '<%= config.bin %> image extract --rootfs-only --overwrite sha512-6a1f3c2b ./rootfs',
    },
  ]
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
    output: Args.string({description: 'output directory', required: true}),
  }
  static override flags = {
    'rootfs-only': Flags.boolean({summary: 'extract rootfs only', allowNo: true}),
    overwrite: Flags.boolean({summary: 'overwrite output directory', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ImageExtract)
    const {extractImage, ImageStore} = await import('../../../store/index.js')
    const store = ImageStore.open(this.resolveGlobals(flags).dir)
    extractImage(store, store.resolve(args.image).key, args.output, {
      rootfsOnly: flags['rootfs-only'],
      overwrite: flags.overwrite,
    })
  }
}
