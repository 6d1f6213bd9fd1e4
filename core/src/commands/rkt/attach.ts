import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'

export default class Attach extends RktCommand {
  static override summary = 'Attach to an app running within a rkt pod'
  static override description =
    "Joins your stdin, stdout and stderr to the app's, for an app run with rkt's stream mode (--annotation=coreos.com/rkt/stage2/stdin=stream, and …/stdout, …/stderr). Ends when the app's output ends."
  static override usage = 'attach [--app=NAME] [--mode=MODE] UUID'
  static override examples = ['<%= config.bin %> attach --app=shell UUID', '<%= config.bin %> attach --mode=list UUID']
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)'})}
  static override flags = {
    app: Flags.string({summary: 'name of the app to attach to within the specified pod'}),
    mode: Flags.string({
      summary: 'list, auto, or the endpoints: stdin,stdout,stderr (tty, tty-in, tty-out)',
      default: 'auto',
    }),
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Attach)
    const g = this.resolveGlobals(flags)
    const uuid = await this.podArg(args.uuid, flags['uuid-file'])
    const {requireRoot} = await import('../../pod/run.js')
    requireRoot('attach')
    const {attachPod} = await import('../../pod/attach.js')
    process.exitCode = await attachPod(g, uuid, flags.app, flags.mode)
  }
}
