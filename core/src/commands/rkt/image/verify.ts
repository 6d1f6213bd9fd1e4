import {Args} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {RktError} from '../../../errors.js'

export default class ImageVerify extends RktCommand {
  static override summary = 'Verify one or more rendered images in the local store'
  static override description =
    'Re-hashes each image file against its ID and, when the image is rendered, its tree against the hash recorded at render time.'
  static override examples = [
    {description: 'Check stored images against their IDs', command: '<%= config.bin %> image verify sha512-6a1f3c2b'},
  ]
  static override strict = false
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(ImageVerify)
    const {ImageStore, inspectBlob, shortId, TreeStore} = await import('../../../store/index.js')
    const store = ImageStore.open(this.resolveGlobals(flags).dir)
    const trees = new TreeStore(store)
    const bad: string[] = []
    for (const ref of argv as string[]) {
      const rec = store.resolve(ref)
      const lock = store.lockImage(rec.key, false)
      let id: string
      try {
        id = inspectBlob(store.blobPath(rec.key)).id
      } finally {
        lock.release()
      }
      if (id !== rec.id) {
        bad.push(
          `image ${ref}: the stored image file does not match its ID ${shortId(rec.id)} (it hashes to ${shortId(id)})`,
        )
        continue
      }
      const tree = trees.verify(rec.key)
      if (tree === undefined) this.log(`image "${ref}" not rendered; no verification needed`)
      else if (!tree.ok)
        bad.push(
          `image ${ref}: rendered tree ${tree.treeId} was modified (hash ${tree.actual}, expected ${tree.expected})`,
        )
      else this.log(`successfully verified checksum for image: "${ref}" ("${rec.key}")`)
    }
    if (bad.length > 0) {
      throw new RktError(bad.join('\n'), {
        code: 'EVERIFY',
        hint: 'remove the damaged image (rkt image rm) or tree (rkt image gc) and fetch or render it again',
      })
    }
  }
}
