import {RktCommand} from '../../../cli/base.js'
import {runHelpFlags} from '../../../cli/run-help.js'

export default class AppSandbox extends RktCommand {
  static override summary = 'Create an empty pod application sandbox'
  static override description = `Starts a mutable pod with no app, in the foreground like rkt run; add apps with rkt app add. --port takes NAME:PROTO:PODPORT:HOSTIP:HOSTPORT; --annotation, --user-annotation and --user-label are the pod's.`
  static override usage = 'app sandbox [--uuid-file-save=FILE] [--net=…] [--port=…] [--dns=…] [--hostname=…] [FLAGS]'
  static override examples = ['<%= config.bin %> app sandbox --uuid-file-save=/run/pod.uuid &']
  static override flags = runHelpFlags('app-sandbox')
  static override strict = false
  static override rawArgv = true

  async run(): Promise<void> {
    const {parseSandboxArgs} = await import('../../../cli/run-args/parse.js')
    const args = parseSandboxArgs(this.argv)
    for (const w of args.warnings) this.warning(w)
    const {sandbox} = await import('../../../pod/run.js')
    process.exitCode = await sandbox(args, this.runIo(args.globals.debug))
  }
}
