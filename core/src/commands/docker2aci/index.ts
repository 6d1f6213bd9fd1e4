// The docker2aci command table: the CLI is its one command (cli/main.ts CliSpec.single).
import type {Command} from '@oclif/core'

import Convert from './convert.js'

export const DOCKER2ACI_COMMANDS: Record<string, Command.Class> = {convert: Convert}
