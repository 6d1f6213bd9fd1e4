import {RktCommand} from '../../cli/base.js'
import {runHelpFlags} from '../../cli/run-help.js'

export default class Run extends RktCommand {
  static override summary = 'Run image(s) in a pod'
  static override description = `Each IMAGE is a file, an image ID or a name in the store. APP flags follow the IMAGE they apply to; "--" starts its arguments and "---" ends them. POD and global flags may go anywhere outside app arguments.`
  static override usage = 'run [FLAGS] IMAGE [APP FLAGS] [-- ARG… ---] [IMAGE …]'
  static override examples = [
    '<%= config.bin %> run --insecure-options=image hello.aci',
    '<%= config.bin %> run --stage1-image=stage1-fly.aci app.aci --exec=/bin/sh -- -c "echo hi"',
  ]
  static override flags = runHelpFlags('run')
  static override strict = false
  static override rawArgv = true

  async run(): Promise<void> {
    const {parseRunArgs} = await import('../../cli/run-args/parse.js')
    const args = parseRunArgs(this.argv, 'run')
    for (const w of args.warnings) this.warning(w)
    const {run} = await import('../../pod/run.js')
    process.exitCode = await run(args, this.runIo(args.globals.debug))
  }
}
