// Base classes of every command: error rendering and exit codes for both CLIs, and rkt's global flags.
// Commands stay thin: parse flags, call one library function, render (core/src/commands/*).
import {Command, Flags} from '@oclif/core'
import type {GlobalFlagInput, Globals} from '../config/globals.js'
import type {RunIo} from '../pod/run.js'

import {DEFAULT_LOCAL_CONFIG, DEFAULT_SYSTEM_CONFIG, GLOBAL_FLAGS, resolveGlobals} from '../config/globals.js'
import {INSECURE_OPTION_VALUES} from '../config/insecure.js'
import {EXIT_FAILURE, EXIT_USAGE, exitCodeOf, formatError, UsageError} from '../errors.js'
import {jsonWithBigInts} from './format.js'
import {progress} from './progress.js'

/** Errors from oclif's own parser carry their exit status here. */
interface OclifExit {
  oclif?: {exit?: number}
}

/**
 * True for oclif's command-line parse errors (its CLIParseError family, which the package does not export):
 * every one is a usage error, including a flag value outside the flag's options, which oclif itself gives
 * the default exit code (254 here) instead of a parse error's.
 */
function isParseError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'parse' in err && 'showHelp' in err
}

/**
 * Drops oclif's note on a missing argument that flags with several values must come after the arguments: it
 * names every multi-value flag the command has, given or not, and is wrong for flags that take one value
 * per occurrence (multipleNonGreedy), which are the only multi-value flags rkt and actool have.
 */
function withoutMultipleNote(message: string, flags: Readonly<Record<string, unknown>>): string {
  return message.replace(
    /\n\nNote: (--\S+(?:, --\S+)*) allows? multiple values\.[^\n]*\nAlternatively, you can use "--" to signify the end of the flags and the beginning of arguments\./,
    (note, names: string) =>
      names
        .split(', ')
        .every((n) => (flags[n.slice(2)] as {multipleNonGreedy?: boolean} | undefined)?.multipleNonGreedy === true)
        ? ''
        : note,
  )
}

/** Renders failures the rkt way: `rkt: message`, the chain under --debug, exit 254 (2 for usage). */
export abstract class CliCommand extends Command {
  /**
   * True for commands that parse their own argv (rkt run's IMAGE [flags] -- args --- grammar): the dispatcher
   * then leaves every word as typed.
   */
  static rawArgv = false

  /** Flags whose value may be left out, and the value that then means (rkt's `--wait` = `--wait=true`). */
  static optionalValues: Readonly<Record<string, string>> = {}

  /** True when --debug was given, even if flag parsing itself failed. */
  protected debugRequested(): boolean {
    for (const a of this.argv) {
      if (a === '--') break
      if (a === '--debug' || a === '--debug=true') return true
    }
    return false
  }

  /** Reports one failure of a command that goes on with its other arguments (rkt stop A B, rkt rm A B). */
  protected reportError(err: unknown): void {
    process.stderr.write(`${this.config.bin}: ${formatError(err, this.debugRequested()).replace(/\s+$/, '')}\n`)
  }

  /** Writes a warning line to stderr (`rkt: warning: …`). */
  protected warning(message: string): void {
    process.stderr.write(`${this.config.bin}: warning: ${message}\n`)
  }

  /** How pod commands report: warnings and notes on stderr, a progress line on a terminal. */
  protected runIo(debug: boolean): RunIo {
    return {
      warn: (m) => this.warning(m),
      info: (m) => process.stderr.write(`${this.config.bin}: ${m}\n`),
      debug: debug
        ? (m) => process.stderr.write(`${this.config.bin}: debug: [${Math.round(performance.now())} ms] ${m}\n`)
        : () => {},
      progress: (label) => progress(label),
    }
  }

  /** Prints a value as rkt prints JSON: compact, or tab-indented for json-pretty (bigints as numbers). */
  protected printJson(value: unknown, pretty: boolean): void {
    process.stdout.write(`${jsonWithBigInts(value, pretty)}\n`)
  }

  override async catch(err: Error & OclifExit): Promise<void> {
    const parseError = isParseError(err)
    const parserExit = parseError ? EXIT_USAGE : err.oclif?.exit
    const exit = parserExit === EXIT_USAGE ? EXIT_USAGE : exitCodeOf(err)
    if (parseError) err.message = withoutMultipleNote(err.message, {...this.ctor.baseFlags, ...this.ctor.flags})
    let text = formatError(err, this.debugRequested())
    if (parserExit === EXIT_USAGE && !/--help/.test(text))
      text += `\n  see '${this.config.bin} ${this.id ?? ''} --help'`
    process.stderr.write(`${this.config.bin}: ${text.replace(/\s+$/, '')}\n`)
    process.exitCode = exit
    return Promise.resolve()
  }
}

/** oclif's declarations of rkt's global flags (config/globals.ts GLOBAL_FLAGS names them): their help. */
export const rktGlobalFlags = {
  dir: Flags.string({summary: 'rkt data directory', helpGroup: 'GLOBAL', helpValue: 'DIR'}),
  'local-config': Flags.string({
    summary: 'local configuration directory',
    default: DEFAULT_LOCAL_CONFIG,
    helpGroup: 'GLOBAL',
  }),
  'system-config': Flags.string({
    summary: 'system configuration directory',
    default: DEFAULT_SYSTEM_CONFIG,
    helpGroup: 'GLOBAL',
  }),
  'user-config': Flags.string({summary: 'user configuration directory', default: '', helpGroup: 'GLOBAL'}),
  debug: Flags.boolean({summary: 'print out more debug information to stderr', allowNo: true, helpGroup: 'GLOBAL'}),
  'insecure-options': Flags.string({
    summary: `comma-separated list of security features to disable: ${INSECURE_OPTION_VALUES.join(', ')}`,
    multiple: true,
    multipleNonGreedy: true, // one value per occurrence: `--insecure-options=image fetch x.aci` keeps x.aci an argument
    default: ['none'],
    helpGroup: 'GLOBAL',
  }),
  'trust-keys-from-https': Flags.boolean({
    summary: 'automatically trust gpg keys fetched from https',
    allowNo: true,
    helpGroup: 'GLOBAL',
  }),
} satisfies Record<keyof typeof GLOBAL_FLAGS, unknown>

const globalNames = Object.keys(GLOBAL_FLAGS) as (keyof typeof GLOBAL_FLAGS)[]

/** The names of rkt's global flags, for moving them after the command name. */
export const rktGlobalFlagNames = {
  withValue: globalNames.filter((n) => GLOBAL_FLAGS[n].kind !== 'bool'),
  boolean: globalNames.filter((n) => GLOBAL_FLAGS[n].kind === 'bool'),
}

type RktGlobalFlagValues = {
  dir?: string | undefined
  'local-config': string
  'system-config': string
  'user-config': string
  debug: boolean
  'insecure-options': string[]
  'trust-keys-from-https': boolean
}

/** Base of every rkt command. */
export abstract class RktCommand extends CliCommand {
  static override baseFlags = rktGlobalFlags

  /** The pod a command names by argument or by --uuid-file (exactly one of them). */
  protected async podArg(arg: string | undefined, uuidFile: string | undefined): Promise<string> {
    return (await this.podArgs(arg === undefined ? [] : [arg], uuidFile, true))[0]!
  }

  /** The pods a command names by arguments or by --uuid-file (not both). */
  protected async podArgs(args: readonly string[], uuidFile: string | undefined, one = false): Promise<string[]> {
    const usage = `rkt ${this.id ?? ''} ${one ? 'UUID' : 'UUID…'} | --uuid-file=FILE`
    if (uuidFile !== undefined) {
      if (args.length > 0)
        throw new UsageError('give the pod either as an argument or with --uuid-file, not both', {hint: usage})
      const {readUuidFile} = await import('../pod/pods.js')
      return [readUuidFile(uuidFile)]
    }
    if (args.length === 0) throw new UsageError('missing the pod UUID', {hint: usage})
    if (one && args.length > 1) throw new UsageError(`one pod UUID expected, got ${args.length}`, {hint: usage})
    return [...args]
  }

  /** Resolves the global flags (config/globals.ts resolveGlobals). */
  protected resolveGlobals(flags: RktGlobalFlagValues): Globals {
    return resolveGlobals(
      Object.fromEntries(globalNames.map((n) => [GLOBAL_FLAGS[n].key, flags[n]])) as unknown as GlobalFlagInput,
    )
  }
}

/** Base of every actool command: appc's actool exits 1 on failure (2 stays for usage errors). */
export abstract class ActoolCommand extends CliCommand {
  static override baseFlags = {
    debug: Flags.boolean({summary: 'print out more debug information to stderr', allowNo: true, helpGroup: 'GLOBAL'}),
  }

  override async catch(err: Error & OclifExit): Promise<void> {
    await super.catch(err)
    if (process.exitCode === EXIT_FAILURE) process.exitCode = 1
  }
}
