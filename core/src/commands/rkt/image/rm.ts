import {Args} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {formatError, RktError} from '../../../errors.js'
import {shortId} from '../../../store/ids.js'

export default class ImageRm extends RktCommand {
  static override summary = 'Remove one or more images with the given IDs or image names from the local store'
  static override strict = false
  static override args = {
    image: Args.string({description: 'image ID (or unique prefix) or name[:version]', required: true}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(ImageRm)
    const g = this.resolveGlobals(flags)
    const {dependentsOf, ImageStore, TreeStore} = await import('../../../store/index.js')
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
    for (const [key, name] of keys) {
      try {
        const users = dependentsOf(store, trees, key, new Set(keys.keys()))
        if (users.length > 0) {
          throw new RktError(`it is a dependency of ${users.map((u) => `${u.name} (${shortId(u.id)})`).join(', ')}`, {
            hint: 'remove the images built on it first (or with it, in the same rkt image rm); rkt image gc removes unused ones',
          })
        }
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
