import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../../cli/base.js'
import {RktError} from '../../../errors.js'

export default class Stage1Test extends RktCommand {
  static override summary = 'Run the conformance suite on a stage1 image'
  static override description = `Runs real pods with the stage1 image, in a data directory and configuration of their own, and checks
every behaviour of the stage0/stage1 contract the image claims in its rkt-ts/stage1/supports/v1 annotation
(docs/conformance.md). Exits 0 when everything claimed passes, 1 when a claimed or required
behaviour fails.`
  static override examples = [
    {
      description: "Run the conformance suite against an engine's image",
      command: '<%= config.bin %> stage1 test stage1-mine.aci',
    },
    {description: 'As JSON', command: '<%= config.bin %> stage1 test --format=json stage1-mine.aci'},
  ]
  static override usage = 'stage1 test IMAGE.aci [--format=json]'
  static override args = {image: Args.string({description: 'the stage1 image (.aci)', required: true})}
  static override flags = {
    format: Flags.string({summary: 'choose the output format', options: ['json', 'json-pretty']}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Stage1Test)
    const {ConformanceInputError, formatTable, runSuite} = await import('@rkt/stage1-conformance')
    const {cliCommand} = await import('../../../sys/dist.js')
    const log = flags.format === undefined ? (l: string) => process.stderr.write(`rkt: ${l}\n`) : undefined
    const report = await runSuite({
      image: args.image,
      rkt: cliCommand('rkt'),
      actool: cliCommand('actool'),
      ...(log ? {log} : {}),
    }).catch((err: unknown) => {
      if (err instanceof ConformanceInputError) throw new RktError(err.message, {hint: err.hint})
      throw err
    })
    if (flags.format) this.printJson(report, flags.format === 'json-pretty')
    else process.stdout.write(`${formatTable(report)}\n`)
    process.exitCode = report.ok ? 0 : 1
  }
}
