import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {normalizeBooleans} from '../../cli/main.js'
import {UsageError} from '../../errors.js'

export default class Enter extends RktCommand {
  static override summary = 'Enter the namespaces of an app within a rkt pod'
  static override description =
    'Runs CMD (default /bin/bash) in the context of the app. Flags go before the UUID; everything after it is the command.'
  static override examples = [
    {description: "A shell in the pod's only app", command: '<%= config.bin %> enter 5f6a8b3c'},
    {
      description: 'A command in one app of the pod (its flags go to the command)',
      command: '<%= config.bin %> enter --app=web 5f6a8b3c ls -l /',
    },
  ]
  static override usage = 'enter [--app=APPNAME] UUID [--] [CMD [ARGS…]]'
  static override flags = {
    app: Flags.string({summary: 'name of the app to enter within the specified pod'}),
  }
  static override strict = false
  static override rawArgv = true
  /** `rkt enter UUID CMD -h` runs CMD with -h (cli/main.ts wantsHelp). */
  static flagsEndAtArgument = true

  /**
   * rkt's flags stop at the UUID (cobra's SetInterspersed(false)): the command's own flags are never ours. The
   * words before the UUID, the UUID, and the command after it (rkt app exec reads its line the same way).
   */
  static split(argv: readonly string[]): {prefix: string[]; uuid: string | undefined; command: string[]} {
    const withValue = new Set(['app', 'dir', 'local-config', 'system-config', 'user-config', 'insecure-options'])
    let i = 0
    while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
      const a = argv[i]!
      i += !a.includes('=') && withValue.has(a.replace(/^--?/, '')) ? 2 : 1
    }
    const [uuid, ...rest] = argv[i] === '--' ? argv.slice(i + 1) : argv.slice(i)
    // `rkt enter UUID -- CMD`, as users write to keep CMD's flags apart: the `--` only separates.
    return {prefix: argv.slice(0, i), uuid, command: rest[0] === '--' ? rest.slice(1) : rest}
  }

  async run(): Promise<void> {
    const {prefix, uuid, command} = Enter.split(this.argv)
    const {flags} = await this.parse(Enter, normalizeBooleans(prefix, Enter))
    if (uuid === undefined)
      throw new UsageError('missing the pod UUID', {hint: 'rkt enter [--app=NAME] UUID [CMD [ARGS…]]'})
    const g = this.resolveGlobals(flags)
    const {requireRoot} = await import('../../pod/run.js')
    requireRoot('enter')
    const {enterPod} = await import('../../pod/enter.js')
    process.exitCode = await enterPod(g, uuid, flags.app, command)
  }
}
