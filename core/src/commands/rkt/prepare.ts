import {RktCommand} from '../../cli/base.js'
import {runHelpFlags} from '../../cli/run-help.js'

export default class Prepare extends RktCommand {
  static override summary = 'Prepare to run image(s) in a pod'
  static override description = `Makes a pod and prints its UUID, for rkt run-prepared. Takes the arguments of rkt run.`
  static override examples = [
    {
      description: 'Prepare a pod and keep its UUID',
      command: '<%= config.bin %> prepare --insecure-options=image hello.aci > hello.uuid',
    },
    {
      description: 'With a volume mounted into the app',
      command:
        '<%= config.bin %> prepare --volume=data,kind=host,source=/srv/data app.aci --mount=volume=data,target=/data',
    },
  ]
  static override usage = 'prepare [FLAGS] IMAGE [APP FLAGS] [-- ARG… ---] [IMAGE …]'
  static override flags = runHelpFlags('prepare')
  static override strict = false
  static override rawArgv = true

  async run(): Promise<void> {
    const {parseRunArgs} = await import('../../cli/run-args/parse.js')
    const args = parseRunArgs(this.argv, 'prepare')
    for (const w of args.warnings) this.warning(w)
    const {prepare} = await import('../../pod/run.js')
    const io = this.runIo(args.globals.debug)
    const uuid = await prepare(args, args.pod.quiet ? {...io, info: () => {}} : io)
    process.stdout.write(`${uuid}\n`)
  }
}
