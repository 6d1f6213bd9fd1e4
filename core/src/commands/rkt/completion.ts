import {Args} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {COMPLETION_SHELLS} from '../../cli/completion.js'

export default class Completion extends RktCommand {
  static override summary = 'Print a shell completion script (bash or zsh)'
  static override description =
    "The script completes rkt's commands, their flags and the fixed values of flags and arguments, generated from the commands' own declarations; arguments that name files complete as file names."
  static override examples = [
    {description: 'Complete rkt in the current bash', command: 'source <(<%= config.bin %> completion bash)'},
    {
      description: 'Install it for every bash (Debian bash-completion)',
      command: '<%= config.bin %> completion bash > /etc/bash_completion.d/rkt',
    },
    {
      description: 'In zsh, after compinit (for example in ~/.zshrc)',
      command: 'source <(<%= config.bin %> completion zsh)',
    },
  ]
  static override args = {
    shell: Args.string({description: 'the shell', required: true, options: [...COMPLETION_SHELLS]}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Completion)
    const {completionScript} = await import('../../cli/completion.js')
    // The command table is loaded here, not imported at the top: it imports this command.
    const {RKT_COMMANDS} = await import('./index.js')
    process.stdout.write(completionScript(args.shell as 'bash' | 'zsh', this.config.bin, RKT_COMMANDS))
  }
}
