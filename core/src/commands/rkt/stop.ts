import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {RktError} from '../../errors.js'

export default class Stop extends RktCommand {
  static override summary = 'Stop a pod'
  static override examples = [
    {description: 'Stop a pod gracefully', command: '<%= config.bin %> stop 5f6a8b3c'},
    {description: 'Kill the pods two UUIDs name', command: '<%= config.bin %> stop --force 5f6a8b3c 9d0e1f2a'},
  ]
  static override usage = 'stop [--force] UUID… | --uuid-file=FILE'
  static override strict = false
  static override flags = {
    force: Flags.boolean({summary: 'forced stopping', allowNo: true}),
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Stop)
    const g = this.resolveGlobals(flags)
    const uuids = await this.podArgs(argv as string[], flags['uuid-file'])
    const {stopPod} = await import('../../pod/enter.js')
    let failed = 0
    for (const uuid of uuids) {
      try {
        const r = await stopPod(g, uuid, flags.force)
        if (r.warning !== undefined) this.warning(r.warning)
        process.stdout.write(r.alreadyStopped ? `pod "${r.uuid}" is already stopped\n` : `"${r.uuid}"\n`)
      } catch (err) {
        failed++
        this.reportError(err)
      }
    }
    if (failed > 0) throw new RktError(`failed to stop ${failed} pod(s)`)
  }
}
