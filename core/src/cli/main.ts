// Entry machinery shared by the rkt and actool CLIs.
//
// Each CLI is bundled into one CommonJS file and, at build time, into a V8 startup snapshot in which oclif
// and the command table are already loaded (see core/native/launch.c). Starting from the snapshot costs
// about 10 ms over bare Node instead of about 70: rkt run must start Node only once and beat podman.
//
// oclif finds commands through an explicit table (no file globbing, no dynamic import: neither works in a
// snapshot), and this module does the dispatching itself so that rkt's conventions hold:
//   - global flags may come before the subcommand: `rkt --insecure-options=image fetch x.aci`;
//   - booleans take `--flag=true|false` as well as `--flag` (Nomad passes `--debug=false`);
//   - `rkt help [COMMAND]`, `--help`/`-h` anywhere before `--`;
//   - usage errors exit 2, failures 254 (core/src/errors.ts).
import type {Command, Interfaces} from '@oclif/core'

import {Config, Help, Plugin} from '@oclif/core'
import {constants as osConstants} from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'

import {EXIT_USAGE, formatError, UsageError} from '../errors.js'
import {setDistDir} from '../sys/dist.js'

/** What distinguishes one CLI from another. */
export interface CliSpec {
  readonly bin: string
  readonly version: string
  /** Command id (topic words joined by ':') → command class. */
  readonly commands: Readonly<Record<string, Command.Class>>
  readonly topics: Readonly<Record<string, {description: string}>>
  /**
   * Loads, at snapshot build time, the library modules the commands import lazily on their hot paths (rkt
   * run), so that a start from the snapshot finds them initialised. Modules loaded this way must not read
   * the environment or the clock when they are initialised.
   */
  readonly preload?: () => Promise<unknown>
  /** Rewrites deprecated spellings before dispatching (warnings through `warn`). */
  readonly rewriteArgv?: (argv: readonly string[], warn: (message: string) => void) => string[]
  /**
   * The CLI is its one command (docker2aci): no command word, and Go's single-dash long flags (`-nosquash`)
   * taken as the double-dash ones, as the Go tool it replaces took both.
   */
  readonly single?: boolean
  /** Global flags that may precede the command; the value-taking ones listed separately. */
  readonly globalFlags: {readonly withValue: readonly string[]; readonly boolean: readonly string[]}
}

let configPromise: Promise<Config> | undefined

/** oclif's id of a single-command CLI's command (its SINGLE_COMMAND_CLI_SYMBOL, which it does not export). */
const SINGLE_ID = Symbol('SINGLE_COMMAND_CLI').toString()

function loadConfig(spec: CliSpec, root: string): Promise<Config> {
  // The explicit command table replaces oclif's discovery (globbing files or importing a target module).
  ;(Plugin.prototype as unknown as {loadCommandsFromTarget: () => Promise<unknown>}).loadCommandsFromTarget = () =>
    Promise.resolve(spec.single === true ? {[SINGLE_ID]: Object.values(spec.commands)[0]} : spec.commands)
  const pjson = {
    name: spec.bin,
    version: spec.version,
    oclif: {
      bin: spec.bin,
      dirname: spec.bin,
      topicSeparator: ' ',
      topics: spec.topics,
      commands: {
        strategy: spec.single === true ? 'single' : 'explicit',
        target: './commands.js',
        identifier: 'COMMANDS',
      },
      // Failures exit 254; every kind of command-line parsing error is a usage error (2).
      exitCodes: {
        default: 254,
        failedFlagParsing: 2,
        failedFlagValidation: 2,
        invalidArgsSpec: 2,
        nonExistentFlag: 2,
        requiredArgs: 2,
        unexpectedArgs: 2,
        violatedFlagConstraint: 2,
      },
    },
  } as unknown as Interfaces.PJSON
  return Config.load({root, pjson})
}

/**
 * Undoes the launcher's NODE_EXTRA_CA_CERTS hand-over (core/native/launch.c) so that the processes rkt
 * starts see the user's environment unchanged. TLS code must add the file's certificates itself.
 */
function restoreExtraCaCerts(): void {
  const deferred = process.env['RKT_NODE_EXTRA_CA_CERTS']
  if (deferred !== undefined) {
    process.env['NODE_EXTRA_CA_CERTS'] = deferred
    delete process.env['RKT_NODE_EXTRA_CA_CERTS']
  }
}

/**
 * Output to a closed pipe (`rkt image list | head -1`) ends the command as it ends coreutils and Go programs
 * such as rkt: killed by SIGPIPE, without a message (a shell reports 141). Node ignores SIGPIPE and turns
 * the failed write into an 'error' event, which, unhandled, prints a stack trace and exits 1. Removing the
 * last listener of a signal makes libuv restore its default action, which the kill then takes; were SIGPIPE
 * blocked by whoever started us, exit with the status a shell would show. Any other write error on stdout
 * (ENOSPC on a file) is reported, and fails the command.
 */
function endOnClosedOutput(bin: string): void {
  const onError = (stream: 'stdout' | 'stderr') => (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      const noop = (): void => {}
      process.on('SIGPIPE', noop).off('SIGPIPE', noop)
      process.kill(process.pid, 'SIGPIPE')
      process.exit(128 + osConstants.signals.SIGPIPE)
    }
    if (stream === 'stdout') process.stderr.write(`${bin}: cannot write to standard output: ${err.message}\n`)
    process.exit(254)
  }
  process.stdout.on('error', onError('stdout'))
  process.stderr.on('error', onError('stderr'))
}

/** Starts a CLI: at snapshot build time prepares it, otherwise runs it on process.argv. */
export function startCli(spec: CliSpec): void {
  if (v8.startupSnapshot?.isBuildingSnapshot()) {
    configPromise = loadConfig(spec, process.cwd()).then(async (config) => {
      await spec.preload?.()
      return config
    })
    v8.startupSnapshot.setDeserializeMainFunction(() => {
      // The launcher runs `node --snapshot-blob <dist>/cli/<bin>.blob -- ARGS`: no script in argv.
      const blobArg = process.execArgv.indexOf('--snapshot-blob')
      const blob = blobArg >= 0 ? process.execArgv[blobArg + 1] : undefined
      if (blob) setDistDir(path.resolve(path.dirname(blob), '..'))
      restoreExtraCaCerts()
      void run(spec, process.argv.slice(1))
    })
    return
  }
  // Plain bundle: node <dist>/cli/<bin>.cjs ARGS.
  const script = process.argv[1]
  if (script) setDistDir(path.resolve(path.dirname(script), '..'))
  restoreExtraCaCerts()
  void run(spec, process.argv.slice(2))
}

/** Splits argv into the command id and its own arguments, moving leading global flags after the id. */
export function splitArgv(spec: CliSpec, argv: readonly string[]): {id: string | undefined; args: string[]} {
  const globals: string[] = []
  let i = 0
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
    const arg = argv[i]!
    const name = arg.replace(/^--?/, '').split('=')[0]!
    globals.push(arg)
    i++
    if (spec.globalFlags.withValue.includes(name) && !arg.includes('=') && i < argv.length) globals.push(argv[i++]!)
  }
  const words: string[] = []
  for (let j = i; j < argv.length && !argv[j]!.startsWith('-'); j++) words.push(argv[j]!)
  let id: string | undefined
  for (let n = words.length; n > 0 && id === undefined; n--) {
    const candidate = words.slice(0, n).join(':')
    if (spec.commands[candidate]) id = candidate
  }
  if (id === undefined) return {id: undefined, args: [...globals, ...argv.slice(i)]}
  const idWords = id.split(':').length
  return {id, args: [...globals, ...argv.slice(i + idWords)]}
}

/** Rewrites `--flag=true|false` for boolean flags into oclif's `--flag` / `--no-flag` (or nothing). */
export function normalizeBooleans(args: readonly string[], cmd: Command.Class): string[] {
  const flags = {...(cmd.baseFlags ?? {}), ...(cmd.flags ?? {})}
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') {
      out.push(...args.slice(i))
      break
    }
    const m = /^--([^=]+)=(.*)$/.exec(arg)
    const flag = m ? flags[m[1]!] : undefined
    if (m && flag?.type === 'boolean') {
      const v = m[2]!.toLowerCase()
      if (v === 'true' || v === '1' || v === 't') out.push(`--${m[1]}`)
      else if (v === 'false' || v === '0' || v === 'f') {
        if (flag.allowNo) out.push(`--no-${m[1]}`)
      } else throw new UsageError(`--${m[1]}: "${m[2]}" is not a boolean`, {hint: 'use true or false'})
    } else out.push(arg)
  }
  return out
}

/** Gives flags whose value is optional their implied value when written bare: `--wait` → `--wait=true`. */
export function fillOptionalValues(args: readonly string[], optional: Readonly<Record<string, string>>): string[] {
  const end = args.indexOf('--')
  return args.map((a, i) => {
    if (end >= 0 && i >= end) return a
    const name = a.startsWith('--') ? a.slice(2) : undefined
    return name !== undefined && Object.hasOwn(optional, name) ? `--${name}=${optional[name]}` : a
  })
}

/** A command class as the dispatcher reads it. */
type CommandClass = Command.Class & {
  rawArgv?: boolean
  /** Its flags stop at its first argument: the rest is an app's command line (`rkt enter UUID CMD -h`). */
  flagsEndAtArgument?: boolean
  optionalValues?: Record<string, string>
}

/**
 * Whether `--help`/`-h` comes before `--` or, for a command whose flags stop at its first argument (as cobra's
 * SetInterspersed(false) made `rkt enter` in rkt), before that argument.
 */
export function wantsHelp(spec: CliSpec, id: string | undefined, args: readonly string[]): boolean {
  const cmd = id === undefined ? undefined : (spec.commands[id] as CommandClass | undefined)
  const withValue = new Set([
    ...spec.globalFlags.withValue,
    ...Object.entries(cmd?.flags ?? {}).flatMap(([name, f]) => (f.type === 'option' ? [name] : [])),
  ])
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
    if (cmd?.flagsEndAtArgument !== true) continue
    if (!a.startsWith('-')) return false
    if (!a.includes('=') && withValue.has(a.replace(/^--?/, ''))) i++
  }
  return false
}

async function run(spec: CliSpec, argv: string[]): Promise<void> {
  endOnClosedOutput(spec.bin)
  try {
    const config = await (configPromise ?? loadConfig(spec, process.cwd()))
    const help = (words: string[]): Promise<void> => new Help(config).showHelp(words)
    if (spec.single === true) {
      argv = argv.map((a) => (/^-[a-z][a-z-]+(=|$)/.test(a) ? `-${a}` : a))
      if (argv[0] === 'help' || wantsHelp(spec, undefined, argv)) return await help([])
      const cmd = Object.values(spec.commands)[0]!
      return await config.runCommand(SINGLE_ID, normalizeBooleans(argv, cmd))
    }
    if (argv.length === 0) return await help([])
    if (argv[0] === 'help') {
      const words = argv.slice(1).filter((a) => !a.startsWith('-'))
      const id = words.join(':')
      if (words.length > 0 && !spec.commands[id] && !spec.topics[id])
        throw new UsageError(`unknown command "${words.join(' ')}" for "${spec.bin}"`, {
          hint: `run '${spec.bin} help' for the list of commands`,
        })
      return await help(words)
    }
    if (argv[0] === '--version' && spec.commands['version']) argv = ['version']
    if (spec.rewriteArgv) argv = spec.rewriteArgv(argv, (m) => process.stderr.write(`${spec.bin}: warning: ${m}\n`))
    const {id, args} = splitArgv(spec, argv)
    if (id === undefined) {
      const words = args.filter((a) => !a.startsWith('-'))
      const topic = words[0]
      if (topic && spec.topics[topic] && (words.length === 1 || wantsHelp(spec, undefined, args)))
        return await help([topic])
      if (wantsHelp(spec, undefined, args)) return await help([])
      throw new UsageError(
        topic ? `unknown command "${words.join(' ')}" for "${spec.bin}"` : `no command given to ${spec.bin}`,
        {hint: `run '${spec.bin} help' for the list of commands`},
      )
    }
    if (wantsHelp(spec, id, args)) return await help(id.split(':'))
    const cmd = spec.commands[id]! as CommandClass
    await config.runCommand(
      id,
      cmd.rawArgv === true ? args : normalizeBooleans(fillOptionalValues(args, cmd.optionalValues ?? {}), cmd),
    )
  } catch (err) {
    // Errors inside a command are rendered by its catch(); these come from dispatching itself.
    const debug = argv.some((a) => a === '--debug' || a === '--debug=true')
    process.stderr.write(`${spec.bin}: ${formatError(err, debug)}\n`)
    process.exitCode = err instanceof UsageError ? EXIT_USAGE : 254
  }
}
