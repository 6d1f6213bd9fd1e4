import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {RktError} from '../../errors.js'

export default class Rm extends RktCommand {
  static override summary = 'Remove all files and resources associated with an exited pod'
  static override description = 'Unlike gc, rm allows users to remove specific pods.'
  static override examples = [
    {description: 'Remove an exited pod', command: '<%= config.bin %> rm 5f6a8b3c'},
    {description: 'The pod a UUID file names', command: '<%= config.bin %> rm --uuid-file=/run/web.uuid'},
  ]
  static override usage = 'rm UUID… | --uuid-file=FILE'
  static override strict = false
  static override flags = {
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const g = this.resolveGlobals(flags)
    const uuids = await this.podArgs(argv as string[], flags['uuid-file'])
    const {removePod} = await import('../../pod/gc.js')
    let failed = 0
    for (const uuid of uuids) {
      try {
        const removed = await removePod(g, uuid, (line) => process.stderr.write(`rkt: ${line}\n`))
        process.stdout.write(`"${removed}"\n`)
      } catch (err) {
        failed++
        this.reportError(err)
      }
    }
    if (failed > 0) throw new RktError('failed to remove one or more pods')
  }
}
