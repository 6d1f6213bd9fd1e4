import {Args, Flags} from '@oclif/core'

import {ActoolCommand} from '../../cli/base.js'
import {formatError, RktError} from '../../errors.js'
import type {ValidationType} from '../../image/validate.js'

export default class Validate extends ActoolCommand {
  static override summary = 'Validate that one or more images or manifests meet the spec'
  static override description =
    'Without --strict, whatever the reference (Go) implementation accepts passes, with a warning where it breaks the spec text; --strict makes those warnings errors. Valid files are reported with --debug.'
  static override examples = [
    {description: 'Validate ACIs', command: '<%= config.bin %> validate hello.aci'},
    {description: 'A layout directory, strictly', command: '<%= config.bin %> validate --strict ./hello-layout'},
    {
      description: 'An image manifest',
      command: '<%= config.bin %> validate --type=manifest ./hello-layout/manifest',
    },
  ]
  static override strict = false
  static override args = {
    file: Args.string({description: 'an .aci file, an image layout directory, or a manifest', required: true}),
  }
  static override flags = {
    type: Flags.string({
      summary: 'type of file to validate; detected when unset',
      options: ['appimage', 'layout', 'manifest'],
    }),
    strict: Flags.boolean({
      summary: 'report spec violations the reference implementation tolerates as errors',
      allowNo: true,
    }),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Validate)
    const {validateFile} = await import('../../image/validate.js')
    let failed = 0
    for (const file of argv as string[]) {
      try {
        const r = await validateFile(file, {type: flags.type as ValidationType | undefined, strict: flags.strict})
        for (const w of r.warnings) process.stderr.write(`${file}: warning: ${w.message}\n`)
        if (flags.debug) process.stderr.write(`${file}: ${r.description}\n`)
      } catch (err) {
        failed++
        process.stderr.write(`${file}: ${formatError(err, flags.debug)}\n`)
      }
    }
    if (failed > 0) throw new RktError(`${failed} of ${argv.length} file(s) failed validation`)
  }
}
