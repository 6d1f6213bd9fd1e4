import {Args} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'

export default class Stage1New extends RktCommand {
  static override summary = 'Write a new stage1 engine package, started from the bwrap engine'
  static override description =
    'By default the package is a new workspace stage1-NAME/ of the repository rkt was built in; given DIR, it goes there. ' +
    'Its npm run build makes stage1-NAME.aci; its npm test runs the conformance suite (rkt stage1 test) on it.'
  static override examples = [
    {
      description: 'Start a new engine package (stage1-mine/ in the repository rkt was built in)',
      command: '<%= config.bin %> stage1 new mine',
    },
    {description: 'In another directory', command: '<%= config.bin %> stage1 new mine ~/src/stage1-mine'},
  ]
  static override args = {
    name: Args.string({description: 'the engine’s name (lower-case letters, digits, dashes)', required: true}),
    dir: Args.string({description: 'where to write the package (must not exist)'}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Stage1New)
    const {newStage1Package} = await import('../../../scaffold/stage1-package.js')
    const made = newStage1Package(args.name, args.dir)
    this.log(`wrote ${made.dir}${made.workspace ? ' (a new workspace: npm install, then npm run build)' : ''}`)
    this.log(`build it: cd ${made.dir} && npm run build   (makes stage1-${args.name}.aci)`)
  }
}
