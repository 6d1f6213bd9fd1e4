import {Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {parseDuration} from '../../../cli/duration.js'

export default class ImageGc extends RktCommand {
  static override summary = 'Garbage collect local store'
  static override description =
    'Removes rendered trees that no pod uses, then images not used for longer than the grace period.'
  static override examples = [
    {
      description: 'Remove images no pod used for the default grace period (24h)',
      command: '<%= config.bin %> image gc',
    },
    {description: 'Now', command: '<%= config.bin %> image gc --grace-period=0s'},
  ]
  static override flags = {
    'grace-period': Flags.string({
      summary: 'duration to wait since an image was last used before removing it',
      default: '24h0m0s',
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ImageGc)
    const {gcImages, ImageStore, TreeStore} = await import('../../../store/index.js')
    const {podReferences} = await import('../../../pod/gc.js')
    const g = this.resolveGlobals(flags)
    const store = ImageStore.open(g.dir)
    gcImages(store, new TreeStore(store), {
      gracePeriodMs: parseDuration('grace-period', flags['grace-period']),
      references: () => podReferences(g.dir, store),
      log: (line) => process.stderr.write(`rkt: ${line}\n`),
    })
  }
}
