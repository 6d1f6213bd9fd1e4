import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'

export default class Logs extends RktCommand {
  static override summary = "Print the logs of a pod's apps"
  static override description =
    "Prints what the pod's apps wrote to stdout (on stdout) and stderr (on stderr), as the stage1 kept it, for a running or an exited pod. With several apps and no --app, every app's lines, merged by time, each prefixed with [APP]."
  static override usage = 'logs [--app=NAME] [--follow] [--tail=N] [--since=TIME|DURATION] [--timestamps] UUID'
  static override examples = [
    '<%= config.bin %> logs --follow --tail=20 UUID',
    '<%= config.bin %> logs --app=web --since=10m UUID',
  ]
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)'})}
  static override flags = {
    app: Flags.string({summary: 'only the logs of this app'}),
    follow: Flags.boolean({char: 'f', summary: 'keep printing new lines until the pod exits', default: false}),
    tail: Flags.integer({summary: 'only the last N lines', min: 0}),
    since: Flags.string({summary: 'only lines since a time (RFC 3339) or a duration ago (90s, 10m, 2h, 1d)'}),
    timestamps: Flags.boolean({summary: 'prefix each line with the time it was logged', default: false}),
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const g = this.resolveGlobals(flags)
    const uuid = await this.podArg(args.uuid, flags['uuid-file'])
    const {podLogs, parseSince} = await import('../../pod/logs.js')
    await podLogs(g, uuid, {
      app: flags.app,
      follow: flags.follow,
      tail: flags.tail,
      since: flags.since === undefined ? undefined : parseSince(flags.since),
      timestamps: flags.timestamps,
    })
  }
}
