import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class ImageCatManifest extends RktCommand {
  static override summary = 'Inspect and print the image manifest'
  static override examples = [
    {
      description: 'The manifest of a stored image, by name or ID',
      command: '<%= config.bin %> image cat-manifest --pretty-print example.com/hello:1.0',
    },
  ]
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
  }
  static override flags = {
    'pretty-print': Flags.boolean({summary: 'apply indent to format the output', default: true, allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ImageCatManifest)
    const {parseImageManifest, serializeImageManifest} = await import('../../../schema/index.js')
    const {ImageStore} = await import('../../../store/image-store.js')
    const store = ImageStore.open(this.resolveGlobals(flags).dir)
    const rec = store.resolve(args.image)
    const {manifest} = parseImageManifest(store.manifestBytes(rec.key))
    // rkt prints json.MarshalIndent(manifest, "", "\t"); actool indents with 4 spaces.
    this.log(serializeImageManifest(manifest, {pretty: flags['pretty-print'], indent: '\t'}))
  }
}
