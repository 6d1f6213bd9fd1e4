import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {parseDuration} from '../../cli/duration.js'

export default class Gc extends RktCommand {
  static override summary = 'Garbage collect rkt pods no longer in use'
  static override description = `Exited pods are marked (moved to exited-garbage) and removed once the grace period has passed; failed and expired prepared pods are removed at once. Run it periodically, e.g. from a systemd timer.`
  static override examples = [
    {description: 'Collect exited pods older than the default grace period (30m)', command: '<%= config.bin %> gc'},
    {
      description: 'Collect at once, and prepared pods older than an hour',
      command: '<%= config.bin %> gc --grace-period=0s --expire-prepared=1h',
    },
  ]
  static override flags = {
    'grace-period': Flags.string({
      summary: 'duration to wait before discarding inactive pods from garbage',
      default: '30m0s',
    }),
    'expire-prepared': Flags.string({summary: 'duration to wait before expiring prepared pods', default: '24h0m0s'}),
    'mark-only': Flags.boolean({summary: 'move to the garbage directories without actually deleting', allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Gc)
    const g = this.resolveGlobals(flags)
    const {requireRoot} = await import('../../pod/run.js')
    requireRoot('gc')
    const {gcPods} = await import('../../pod/gc.js')
    await gcPods(g, {
      gracePeriodMs: parseDuration('grace-period', flags['grace-period']),
      gracePeriodText: flags['grace-period'],
      expirePreparedMs: parseDuration('expire-prepared', flags['expire-prepared']),
      markOnly: flags['mark-only'],
      log: (line) => process.stderr.write(`rkt: ${line}\n`),
      collected: (uuid) => process.stdout.write(`Garbage collecting pod "${uuid}"\n`),
      failed: (err) => this.reportError(err),
    })
  }
}
