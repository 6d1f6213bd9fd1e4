// The help of rkt run, prepare and run-prepared. Those commands parse their own command line
// (core/src/pod/args.ts: rkt's IMAGE [flags] -- args --- grammar), so these oclif flags only describe it:
// oclif renders them, in POD and APP groups, and never parses them.
import {Flags} from '@oclif/core'

import type {RunCommand} from '../pod/spec.js'

import {runFlagHelp} from './run-args/flags.js'

export function runHelpFlags(command: RunCommand) {
  return Object.fromEntries(
    runFlagHelp(command).map((f) => {
      const helpGroup = f.scope === 'pod' ? 'POD' : 'APP'
      const flag =
        f.value === undefined
          ? Flags.boolean({summary: f.text, helpGroup})
          : Flags.string({summary: f.text, helpGroup, helpValue: f.value})
      return [f.name, flag]
    }),
  )
}
