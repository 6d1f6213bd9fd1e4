import {RktCommand} from '../../cli/base.js'
import {runHelpFlags} from '../../cli/run-help.js'

export default class RunPrepared extends RktCommand {
  static override summary = 'Run a prepared application pod in rkt'
  static override description = `Runs a pod made by rkt prepare; of several callers, exactly one runs it.`
  static override examples = [
    {description: 'Run a prepared pod', command: '<%= config.bin %> run-prepared 5f6a8b3c'},
    {description: 'On the host network', command: '<%= config.bin %> run-prepared --net=host 5f6a8b3c'},
  ]
  static override usage = 'run-prepared [FLAGS] UUID'
  static override flags = runHelpFlags('run-prepared')
  static override strict = false
  static override rawArgv = true

  async run(): Promise<void> {
    const {parseRunArgs} = await import('../../cli/run-args/parse.js')
    const args = parseRunArgs(this.argv, 'run-prepared')
    for (const w of args.warnings) this.warning(w)
    const {runPrepared} = await import('../../pod/run.js')
    process.exitCode = await runPrepared(args, this.runIo(args.globals.debug))
  }
}
