import {RktCommand} from '../../../cli/base.js'
import {runHelpFlags} from '../../../cli/run-help.js'

export default class AppAdd extends RktCommand {
  static override summary = 'Add an app to a mutable pod'
  static override description = `Adds IMAGE's app to the pod made by rkt app sandbox, created but not started (rkt app start starts it). APP flags are rkt run's; "--" starts the app's arguments.`
  static override usage = 'app add UUID IMAGE [APP FLAGS] [-- ARG… ---]'
  static override examples = ['<%= config.bin %> app add $(cat /run/pod.uuid) example.com/web --name=web']
  static override flags = runHelpFlags('app-add')
  static override strict = false
  static override rawArgv = true

  async run(): Promise<void> {
    const {parseAppAddArgs} = await import('../../../cli/run-args/parse.js')
    const args = parseAppAddArgs(this.argv)
    for (const w of args.warnings) this.warning(w)
    const {resolveGlobals} = await import('../../../config/globals.js')
    const {addApp} = await import('../../../pod/app.js')
    await addApp(args, resolveGlobals(args.globals), this.runIo(args.globals.debug))
  }
}
