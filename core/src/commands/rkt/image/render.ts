import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {progress} from '../../../cli/progress.js'

export default class ImageRender extends RktCommand {
  static override summary = 'Render a stored image to a directory with all its dependencies'
  static override examples = [
    {
      description: 'An image with its dependencies applied, in a directory',
      command: '<%= config.bin %> image render example.com/app:1.0 ./app',
    },
    {description: 'Only the rootfs', command: '<%= config.bin %> image render --rootfs-only sha512-6a1f3c2b ./rootfs'},
  ]
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
    output: Args.string({description: 'output directory', required: true}),
  }
  static override flags = {
    'rootfs-only': Flags.boolean({summary: 'render rootfs only', allowNo: true}),
    overwrite: Flags.boolean({summary: 'overwrite output directory', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ImageRender)
    const {ImageStore, renderImage, TreeStore} = await import('../../../store/index.js')
    const store = ImageStore.open(this.resolveGlobals(flags).dir)
    const key = store.resolve(args.image).key
    const onProgress = progress(`Rendering ${args.image}`)
    try {
      renderImage(new TreeStore(store), key, args.output, {
        rootfsOnly: flags['rootfs-only'],
        overwrite: flags.overwrite,
        onProgress,
      })
    } finally {
      onProgress.end()
    }
  }
}
