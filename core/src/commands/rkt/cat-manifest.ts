import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {RktError} from '../../errors.js'

export default class CatManifest extends RktCommand {
  static override summary = 'Inspect and print the pod manifest'
  static override examples = [
    {
      description: 'Print the pod manifest of a pod (a unique UUID prefix is enough)',
      command: '<%= config.bin %> cat-manifest 5f6a8b3c',
    },
    {
      description: 'Indented, the pod named by a UUID file',
      command: '<%= config.bin %> cat-manifest --pretty-print --uuid-file=/run/web.uuid',
    },
  ]
  static override usage = 'cat-manifest UUID | --uuid-file=FILE'
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)'})}
  static override flags = {
    'pretty-print': Flags.boolean({summary: 'apply indent to format the output', default: true, allowNo: true}),
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(CatManifest)
    const g = this.resolveGlobals(flags)
    const uuid = await this.podArg(args.uuid, flags['uuid-file'])
    const {PodStore} = await import('../../pod/pods.js')
    const {podManifestOf} = await import('../../pod/info.js')
    const {serializePodManifest} = await import('../../schema/index.js')
    const pod = new PodStore(g.dir).find(uuid)
    const manifest = podManifestOf(pod)
    if (!manifest) throw new RktError(`pod ${pod.uuid} has no pod manifest yet (it is ${pod.state()})`)
    this.log(serializePodManifest(manifest, {pretty: flags['pretty-print'], indent: '\t'}))
  }
}
