import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {goTime} from '../../cli/format.js'

/** rkt's --wait/--wait-ready value: a Go bool (true = for ever) or a Go duration (negative = for ever). */
async function waitMs(flag: string, value: string): Promise<number> {
  const {parseGoBool} = await import('../../cli/run-args/values.js')
  const b = value === '' ? true : parseGoBool(value)
  if (b !== undefined) return b ? Infinity : 0
  const {parseDuration} = await import('../../cli/duration.js')
  if (value.startsWith('-')) {
    parseDuration(flag, value.slice(1))
    return Infinity
  }
  return parseDuration(flag, value)
}

export default class Status extends RktCommand {
  static override summary = 'Check the status of a rkt pod'
  static override description = `Prints assorted information about the pod such as its state, pid and exit status.

The --wait and --wait-ready flags accept boolean or timeout values. If set to true, wait indefinitely. If set to false, don't wait at all. They can also be set to a duration. If the duration is less than zero, wait indefinitely. If the duration is zero, don't wait at all.`
  static override examples = [
    {description: 'The state of a pod', command: '<%= config.bin %> status 5f6a8b3c'},
    {
      description: 'Wait until its apps are ready, at most a minute, then print JSON',
      command: '<%= config.bin %> status --wait-ready=1m --format=json 5f6a8b3c',
    },
  ]
  static override usage = 'status [--wait=bool|timeout] [--wait-ready=bool|timeout] --uuid-file=FILE | UUID'
  static override args = {uuid: Args.string({description: 'pod UUID (or a unique prefix)'})}
  static override flags = {
    wait: Flags.string({summary: 'toggles waiting for the pod to finish', default: 'false'}),
    'wait-ready': Flags.string({summary: 'toggles waiting until the pod is ready', default: 'false'}),
    format: Flags.string({summary: 'choose the output format', options: ['json', 'json-pretty']}),
    'uuid-file': Flags.string({summary: 'read pod UUID from file instead of argument'}),
  }
  static override optionalValues = {wait: 'true', 'wait-ready': 'true'}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Status)
    const g = this.resolveGlobals(flags)
    const uuid = await this.podArg(args.uuid, flags['uuid-file'])
    const readyMs = await waitMs('wait-ready', flags['wait-ready'])
    const finishedMs = await waitMs('wait', flags.wait)
    const {PodStore} = await import('../../pod/pods.js')
    const {waitPod} = await import('../../pod/wait.js')
    const {podInfo, statusLines} = await import('../../pod/info.js')
    const pod = new PodStore(g.dir).find(uuid)
    await waitPod(pod, {readyMs, finishedMs})
    if (flags.format) this.printJson(podInfo(pod), flags.format === 'json-pretty')
    else process.stdout.write(`${statusLines(pod, (d) => goTime(d.getTime())).join('\n')}\n`)
  }
}
