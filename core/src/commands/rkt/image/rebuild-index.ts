import {RktCommand} from '../../../cli/base.js'
import {ImageStore, rebuildIndex} from '../../../store/index.js'

export default class ImageRebuildIndex extends RktCommand {
  static override summary = 'Rebuild the image index from the images in the store'
  static override description =
    'Use when the index is damaged: every stored image is re-hashed and re-read. No image file is ever deleted; the old index is kept beside the new one.'

  static override examples = [
    {description: 'Rebuild the image index from the stored files', command: '<%= config.bin %> image rebuild-index'},
  ]
  async run(): Promise<void> {
    const {flags} = await this.parse(ImageRebuildIndex)
    const r = rebuildIndex(ImageStore.open(this.resolveGlobals(flags).dir))
    for (const p of r.problems) this.warning(p)
    if (r.previous) process.stderr.write(`rkt: previous index kept as ${r.previous}\n`)
    this.log(`indexed ${r.images} image(s)`)
  }
}
