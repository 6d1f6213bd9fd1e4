// The command line of `rkt run`, `rkt prepare` and `rkt run-prepared`, as rkt parsed it (rkt/run.go,
// rkt/prepare.go, rkt/run_prepared.go, rkt/cli_apps.go parseApps, common/apps/apps.go).
//
// run and prepare take `[flags] IMAGE [per-app flags] [-- ARGS… [---]] [IMAGE …]`: per-app flags apply to the
// image before them, "--" starts that image's arguments and a lone "---" ends them. Pod-level and global flags
// may appear anywhere outside app arguments (rkt hands every word between images to one flag set, so
// `rkt run IMAGE --net=host` works, although rkt's documentation says they must precede the first image).
// Flags take `--x=v` or `--x v`; booleans `--b` or `--b=BOOL` (Go's strconv.ParseBool spellings); `--net`
// alone means `default` and never takes the next word. run-prepared takes its flags anywhere and one UUID.
//
// Everything here is a pure function of argv: files named by flags are read later (pod/manifest.ts). The
// module splits along its seams: values.ts (one flag's value), flags.ts (the flag table and its twin help
// table), parse.ts (argv to the typed pod specification of pod/spec.ts).
import type {PullPolicy} from '../../fetch/index.js'
import type {
  AppAddArgs,
  AppFlags,
  GlobalFlagValues,
  NameValue,
  PodFlags,
  RunArgs,
  RunCommand,
  RunPreparedArgs,
  RunPreparedFlags,
  SandboxArgs,
} from '../../pod/spec.js'
import type {FlagDef, MutableApp, State} from './flags.js'

import {UsageError} from '../../errors.js'
import {parseDnsFlags} from '../../pod/dns.js'
import {FLAGS} from './flags.js'
import {parseGoBool, q} from './values.js'

function newState(command: RunCommand): State {
  return {
    command,
    help: false,
    globals: {debug: false, insecureOptions: [], trustKeysFromHttps: false},
    net: [],
    ports: [],
    dns: {dns: [], dnsSearch: [], dnsOpt: [], hostsEntries: []},
    inheritEnv: false,
    setEnv: new Map(),
    setEnvFiles: [],
    pullPolicy: 'new',
    storeOnly: false,
    noStore: false,
    volumes: [],
    mounts: [],
    noOverlay: false,
    privateUsers: false,
    interactive: false,
    mdsRegister: false,
    quiet: false,
    apps: [],
    positionals: [],
    warnings: [],
    seen: new Set(),
  }
}

/** How a command is typed: `app-sandbox` is `rkt app sandbox`. */
const typed = (c: RunCommand): string => `rkt ${c.replace(/^app-/, 'app ')}`

function commandsOf(def: FlagDef): string {
  return def.commands.map(typed).join(' and ')
}

function unknownFlag(s: State, word: string, name: string): UsageError {
  const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined
  if (def !== undefined) {
    const where =
      s.command === 'prepare' && def.commands.includes('run-prepared') ? '; give it to rkt run-prepared' : ''
    return new UsageError(`--${name} is not a flag of ${typed(s.command)}`, {
      hint: `--${name} belongs to ${commandsOf(def)}${where}`,
    })
  }
  const appHint =
    s.command !== 'run-prepared' && s.apps.length > 0
      ? `; to pass ${word} to the app, put it after "--": ${typed(s.command)} IMAGE -- ${word}`
      : ''
  return new UsageError(`unknown flag: ${word}`, {hint: `see '${typed(s.command)} --help'${appHint}`})
}

/**
 * Handles the flag at argv[i]; returns how many words it used (1, or 2 for `--x v`).
 */
function parseFlag(s: State, argv: readonly string[], i: number): number {
  const word = argv[i] as string
  if (word === '-h' || word === '--help') {
    s.help = true
    return 1
  }
  if (!word.startsWith('--')) {
    return fail(unknownFlag(s, word, ''))
  }
  const body = word.slice(2)
  const eq = body.indexOf('=')
  const name = eq < 0 ? body : body.slice(0, eq)
  const inline = eq < 0 ? undefined : body.slice(eq + 1)
  const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined
  if (def === undefined || !def.commands.includes(s.command)) return fail(unknownFlag(s, word, name))
  let value: string
  let used = 1
  switch (def.kind) {
    case 'bool':
    case 'bool-value': {
      if (inline !== undefined) {
        const b = parseGoBool(inline)
        if (b === undefined) {
          throw new UsageError(`invalid argument ${q(inline)} for --${name}: not a boolean`, {
            hint: `write --${name} or --${name}=false`,
          })
        }
        value = String(b)
      } else if (def.kind === 'bool-value' && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) {
        // rkt's --readonly-rootfs is a value flag: `--readonly-rootfs true` takes the next word.
        value = argv[i + 1] as string
        used = 2
      } else value = 'true'
      break
    }
    case 'optional':
      value = inline ?? (def.noOptValue as string)
      break
    case 'value': {
      if (inline !== undefined) value = inline
      else {
        const next = argv[i + 1]
        if (next === undefined) {
          throw new UsageError(`flag needs an argument: --${name}`, {hint: `write --${name}=VALUE`})
        }
        value = next
        used = 2
      }
      break
    }
  }
  const app = s.apps.at(-1)
  if (def.scope === 'app' && app === undefined && def.beforeImage) {
    def.beforeImage(s, value)
    return used
  }
  if (def.scope === 'app' && app === undefined) {
    throw new UsageError(`--${name} must follow an image`, {
      hint: `per-app flags apply to the image before them: ${typed(s.command)} IMAGE ${def.example ?? `--${name}=…`}`,
    })
  }
  if (def.deprecated !== undefined) s.warnings.push(`--${name} is deprecated: ${def.deprecated}`)
  s.seen.add(name)
  def.apply(s, value, def.scope === 'global' ? undefined : app)
  return used
}

function fail(err: UsageError): never {
  throw err
}

function checkNoNul(argv: readonly string[]): void {
  const at = argv.findIndex((a) => a.includes('\0'))
  if (at >= 0) {
    throw new UsageError(`argument ${at + 1} contains a NUL byte`, {hint: 'command-line words cannot contain NUL'})
  }
}

/**
 * Parses everything after the command word of `rkt run`, `rkt prepare` or `rkt run-prepared`.
 * Throws UsageError (exit status 2) with rkt's meaning and a hint naming the fix.
 */
export function parseRunArgs(argv: readonly string[], command: 'run-prepared'): RunPreparedArgs
export function parseRunArgs(argv: readonly string[], command: 'run' | 'prepare'): RunArgs
export function parseRunArgs(argv: readonly string[], command: RunCommand): RunArgs | RunPreparedArgs
export function parseRunArgs(argv: readonly string[], command: RunCommand): RunArgs | RunPreparedArgs {
  checkNoNul(argv)
  const s = newState(command)
  if (command === 'run-prepared') return parseRunPrepared(s, argv)
  parseApps(s, argv)
  return finishRun(s, command as 'run' | 'prepare')
}

/** A MutableApp of an image, with no flag given yet. */
const newApp = (image: string): MutableApp => ({
  image,
  args: [],
  readOnlyRootFS: false,
  mounts: [],
  annotations: new Map(),
  environment: new Map(),
})

/**
 * `rkt app sandbox [FLAGS]`: run's stage1, network, DNS and host name flags, --port in the sandbox's form, and the
 * pod's --annotation, --user-annotation and --user-label (kept on a stand-in app, as the flags are app flags).
 */
export function parseSandboxArgs(argv: readonly string[]): SandboxArgs {
  checkNoNul(argv)
  const s = newState('app-sandbox')
  const pod = newApp('')
  s.apps.push(pod)
  for (let i = 0; i < argv.length;) {
    const word = argv[i] as string
    if (word.startsWith('-') && word !== '-' && word !== '--') i += parseFlag(s, argv, i)
    else if (word === '') i++
    else {
      throw new UsageError(`app sandbox takes no image, got ${q(word)}`, {
        hint: 'start the empty pod with rkt app sandbox, then add apps: rkt app add UUID IMAGE',
      })
    }
  }
  s.apps = []
  const {apps: _none, command: _run, ...run} = finishRun(s, 'run', true)
  return {
    ...run,
    command: 'app-sandbox',
    annotations: pairs(pod.annotations),
    userAnnotations: Object.fromEntries(pod.userAnnotations ?? []),
    userLabels: Object.fromEntries(pod.userLabels ?? []),
  }
}

/** `rkt app add UUID IMAGE [APP FLAGS] [-- ARG… ---]`: run's per-app flags for one image. */
export function parseAppAddArgs(argv: readonly string[]): AppAddArgs {
  checkNoNul(argv)
  const s = newState('app-add')
  const at = argv.findIndex((w) => w !== '' && !w.startsWith('-'))
  const uuid = at < 0 ? '' : (argv[at] as string)
  parseApps(s, [...argv.slice(0, Math.max(at, 0)), ...argv.slice(at + 1)])
  const result = {command: 'app-add', help: s.help, globals: freezeGlobals(s), uuid, warnings: s.warnings} as const
  const [app, ...more] = s.apps.map(freezeApp)
  if (s.help) return {...result, app: app ?? freezeApp(newApp(''))}
  if (uuid === '' || app === undefined || more.length > 0) {
    throw new UsageError('app add takes a pod UUID and one image', {
      hint: 'rkt app add UUID IMAGE [APP FLAGS] [-- ARG…]',
    })
  }
  return {...result, app}
}

function parseApps(s: State, argv: readonly string[]): void {
  const command = s.command
  // parseApps: "--" starts the last image's arguments, a lone "---" ends them; between images, flags.
  let inAppArgs = false
  let appsAtLastArgs = 0
  for (let i = 0; i < argv.length;) {
    const word = argv[i] as string
    if (inAppArgs) {
      // rkt drops empty words everywhere, even app arguments; an empty argument is kept for the app here.
      if (word === '---') inAppArgs = false
      else s.apps.at(-1)?.args.push(word)
      i++
      continue
    }
    if (word === '') {
      i++
      continue
    }
    if (word === '--') {
      if (appsAtLastArgs === s.apps.length) {
        if (s.apps.length === 0) {
          throw new UsageError('an image is required before any app arguments', {
            hint: `${typed(command)} IMAGE -- ARG…`,
          })
        }
        throw new UsageError('only one set of app arguments allowed per image', {
          hint: 'end the arguments with "---" before the next image: IMAGE1 -- a b --- IMAGE2 -- c',
        })
      }
      appsAtLastArgs = s.apps.length
      inAppArgs = true
      i++
      continue
    }
    if (word === '---') {
      // rkt ignores a "---" outside app arguments.
      i++
      continue
    }
    if (word.startsWith('-') && word !== '-') {
      i += parseFlag(s, argv, i)
      continue
    }
    s.apps.push(newApp(word))
    i++
  }
}

/** run's and prepare's checks; the sandbox (`noApps`) has no image to ask for. */
function finishRun(s: State, command: 'run' | 'prepare', noApps = false): RunArgs {
  const globals = freezeGlobals(s)
  if (s.storeOnly && s.noStore) {
    throw new UsageError('both --store-only and --no-store specified', {hint: 'use --pull-policy=never or update'})
  }
  const pullPolicy: PullPolicy = s.storeOnly ? 'never' : s.noStore ? 'update' : s.pullPolicy
  const dns = parseDnsFlags(s.dns)
  const apps = s.apps.map(freezeApp)
  const pod: PodFlags = {
    ...(s.stage1 === undefined ? {} : {stage1: s.stage1}),
    net: s.net,
    ports: s.ports,
    dns,
    ...(s.hostname === undefined ? {} : {hostname: s.hostname}),
    ...(s.name === undefined ? {} : {name: s.name}),
    inheritEnv: s.inheritEnv,
    setEnv: [...s.setEnv].map(([name, value]) => ({name, value})),
    setEnvFiles: s.setEnvFiles,
    pullPolicy,
    ...(s.podManifest === undefined ? {} : {podManifest: s.podManifest}),
    volumes: s.volumes,
    mounts: s.mounts,
    noOverlay: s.noOverlay,
    privateUsers: s.privateUsers,
    interactive: s.interactive,
    mdsRegister: s.mdsRegister,
    ...(s.uuidFileSave === undefined ? {} : {uuidFileSave: s.uuidFileSave}),
    ...(s.ipc === undefined ? {} : {ipc: s.ipc}),
    quiet: s.quiet,
  }
  const result: RunArgs = {command, help: s.help, globals, pod, apps, warnings: s.warnings}
  if (s.help) return result

  const netNames = new Set(s.net.map((n) => n.name))
  if (s.ports.length > 0 && netNames.has('none')) {
    throw new UsageError("--port flag does not work with 'none' networking", {hint: 'drop --port or --net=none'})
  }
  if (s.ports.length > 0 && netNames.has('host')) {
    throw new UsageError("--port flag does not work with 'host' networking", {
      hint: 'with --net=host the apps listen on the host directly; drop --port',
    })
  }
  if (s.mdsRegister && netNames.has('none')) {
    throw new UsageError('--mds-register flag does not work with --net=none', {
      hint: "use 'host', 'default' or an equivalent network",
    })
  }
  if (s.podManifest !== undefined) {
    // rkt/run.go and prepare.go: whatever would shape the pod manifest conflicts with one given whole.
    const conflicts = [
      ...(apps.length > 0 ? ['IMAGE arguments'] : []),
      ...['volume', 'mount', 'port', 'inherit-env', 'set-env', 'set-env-file']
        .filter((f) => s.seen.has(f) && (f !== 'inherit-env' || s.inheritEnv))
        .map((f) => `--${f}`),
      ...(pullPolicy !== 'new'
        ? [s.storeOnly ? '--store-only' : s.noStore ? '--no-store' : `--pull-policy=${pullPolicy}`]
        : []),
    ]
    if (conflicts.length > 0) {
      const allowed = command === 'run' ? '--net, --no-overlay, --interactive' : '--quiet, --no-overlay'
      throw new UsageError(`conflicting flags set with --pod-manifest: ${conflicts.join(', ')}`, {
        hint: `the pod manifest already says what runs; with it, use only flags like ${allowed} (and the stage1, DNS and global flags)`,
      })
    }
  }
  if (s.interactive && apps.length > 1) {
    throw new UsageError('interactive option only supports one image', {hint: 'run one image with --interactive'})
  }
  if (apps.length < 1 && s.podManifest === undefined && !noApps) {
    throw new UsageError('must provide at least one image or specify the pod manifest', {
      hint: `rkt ${command} [flags] IMAGE [-- ARGS…] or rkt ${command} --pod-manifest=FILE`,
    })
  }
  // apps.Validate: every --mount names a --volume (declared anywhere on the line).
  const volumeNames = new Set(s.volumes.map((v) => v.name))
  for (const m of [...s.mounts, ...apps.flatMap((a) => a.mounts)]) {
    if (!volumeNames.has(m.volume)) {
      throw new UsageError(`dangling mount point ${q(m.path)}: volume ${q(m.volume)} not found`, {
        hint: `declare it: --volume=${m.volume},kind=host,source=/PATH or --volume=${m.volume},kind=empty`,
      })
    }
  }
  for (const a of apps) {
    if (a.capsRetain !== undefined && a.capsRemove !== undefined) {
      throw new UsageError(`cannot use both --caps-retain and --caps-remove on the same image (${a.image})`, {
        hint: 'keep one: --caps-retain lists what the app keeps, --caps-remove what it loses',
      })
    }
  }
  return result
}

function freezeGlobals(s: State): GlobalFlagValues {
  const g = s.globals
  return {
    ...(g.dir === undefined ? {} : {dir: g.dir}),
    ...(g.localConfig === undefined ? {} : {localConfig: g.localConfig}),
    ...(g.systemConfig === undefined ? {} : {systemConfig: g.systemConfig}),
    ...(g.userConfig === undefined ? {} : {userConfig: g.userConfig}),
    debug: g.debug,
    insecureOptions: g.insecureOptions,
    trustKeysFromHttps: g.trustKeysFromHttps,
  }
}

function pairs(map: ReadonlyMap<string, string>): NameValue[] {
  return [...map].map(([name, value]) => ({name, value}))
}

function freezeApp(a: MutableApp): AppFlags {
  return {
    image: a.image,
    args: a.args,
    ...(a.signature === undefined ? {} : {signature: a.signature}),
    ...(a.exec === undefined ? {} : {exec: a.exec}),
    ...(a.workingDir === undefined ? {} : {workingDir: a.workingDir}),
    readOnlyRootFS: a.readOnlyRootFS,
    mounts: a.mounts,
    ...(a.user === undefined ? {} : {user: a.user}),
    ...(a.group === undefined ? {} : {group: a.group}),
    ...(a.supplementaryGIDs === undefined ? {} : {supplementaryGIDs: a.supplementaryGIDs}),
    ...(a.name === undefined ? {} : {name: a.name}),
    annotations: pairs(a.annotations),
    // Object.fromEntries defines own properties, so a key like "__proto__" stays a plain key.
    ...(a.userAnnotations === undefined ? {} : {userAnnotations: Object.fromEntries(a.userAnnotations)}),
    ...(a.userLabels === undefined ? {} : {userLabels: Object.fromEntries(a.userLabels)}),
    environment: pairs(a.environment),
    ...(a.memory === undefined ? {} : {memory: a.memory}),
    ...(a.cpu === undefined ? {} : {cpu: a.cpu}),
    ...(a.cpuShares === undefined ? {} : {cpuShares: a.cpuShares}),
    ...(a.capsRetain === undefined ? {} : {capsRetain: a.capsRetain}),
    ...(a.capsRemove === undefined ? {} : {capsRemove: a.capsRemove}),
    ...(a.seccomp === undefined ? {} : {seccomp: a.seccomp}),
    ...(a.oomScoreAdj === undefined ? {} : {oomScoreAdj: a.oomScoreAdj}),
  }
}

function parseRunPrepared(s: State, argv: readonly string[]): RunPreparedArgs {
  // Cobra's default: flags anywhere, "--" ends them.
  for (let i = 0; i < argv.length;) {
    const word = argv[i] as string
    if (word === '--') {
      s.positionals.push(...argv.slice(i + 1))
      break
    }
    if (word.startsWith('-') && word !== '-') {
      i += parseFlag(s, argv, i)
      continue
    }
    s.positionals.push(word)
    i++
  }
  const pod: RunPreparedFlags = {
    net: s.net,
    dns: parseDnsFlags(s.dns),
    ...(s.hostname === undefined ? {} : {hostname: s.hostname}),
    interactive: s.interactive,
    mdsRegister: s.mdsRegister,
    ...(s.ipc === undefined ? {} : {ipc: s.ipc}),
  }
  const result = {command: 'run-prepared', help: s.help, globals: freezeGlobals(s), pod, warnings: s.warnings} as const
  if (s.help) return {...result, uuid: s.positionals[0] ?? ''}
  if (s.mdsRegister && s.net.some((n) => n.name === 'none')) {
    throw new UsageError('--mds-register flag does not work with --net=none', {
      hint: "use 'host', 'default' or an equivalent network",
    })
  }
  const [uuid, ...extra] = s.positionals
  if (uuid === undefined || uuid === '') {
    throw new UsageError('missing the UUID of the prepared pod', {hint: 'rkt run-prepared UUID (see rkt list)'})
  }
  if (extra.length > 0) {
    throw new UsageError(`run-prepared takes one UUID, got ${s.positionals.length} arguments`, {
      hint: 'rkt run-prepared [flags] UUID',
    })
  }
  return {...result, uuid}
}
