import {Args, Flags} from '@oclif/core'

import {ActoolCommand} from '../../cli/base.js'

export default class CatManifest extends ActoolCommand {
  static override summary = 'Print the manifest from an ACI'
  static override examples = [
    {description: 'Print the manifest stored in an ACI', command: '<%= config.bin %> cat-manifest hello.aci'},
  ]
  static override args = {aci: Args.string({description: 'ACI file', required: true})}
  static override flags = {'pretty-print': Flags.boolean({summary: 'print with better style', allowNo: true})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(CatManifest)
    const {readAciManifest} = await import('../../image/validate.js')
    const {serializeImageManifest} = await import('../../schema/index.js')
    const {manifest} = await readAciManifest(args.aci)
    this.log(serializeImageManifest(manifest, {pretty: flags['pretty-print']}))
  }
}
