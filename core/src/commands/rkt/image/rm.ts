import {Args} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {formatError, RktError} from '../../../errors.js'

export default class ImageRm extends RktCommand {
  static override summary = 'Remove one or more images with the given IDs or image names from the local store'
  static override examples = [
    {description: 'Remove stored images', command: '<%= config.bin %> image rm sha512-6a1f3c2b example.com/hello:1.0'},
  ]
  static override strict = false
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(ImageRm)
    const g = this.resolveGlobals(flags)
    const {checkRemovable, dependentsIndex, dependentsOf, ImageStore, TreeStore} =
      await import('../../../store/index.js')
    const store = ImageStore.open(g.dir)
    const trees = new TreeStore(store)
    const keys = new Map<string, string>()
    let failed = 0
    for (const ref of argv as string[]) {
      try {
        const rec = store.resolve(ref)
        keys.set(rec.key, rec.name)
      } catch (err) {
        failed++
        process.stderr.write(`rkt: ${formatError(err, g.debug)}\n`)
      }
    }
    let done = 0
    const index = dependentsIndex(store, trees)
    const removing = new Set(keys.keys())
    for (const [key, name] of keys) {
      try {
        checkRemovable(dependentsOf(store, trees, key, removing, index))
        store.remove(key)
        this.log(`successfully removed aci for image: "${key}"`)
        done++
      } catch (err) {
        failed++
        process.stderr.write(`rkt: error removing aci for image "${key}" ("${name}"): ${formatError(err, g.debug)}\n`)
      }
    }
    if (done > 0) process.stderr.write(`rkt: ${done} image(s) successfully removed\n`)
    if (failed > 0) throw new RktError(`${failed} image(s) cannot be removed`)
  }
}
