// The flag table of run, prepare and run-prepared, and its twin help table (a test keeps them in step).
import type {PullPolicy} from '../../fetch/index.js'
import type {Quantity, Volume} from '../../schema/index.js'
import type {IpcMode} from '../../contract/entrypoints.js'
import type {MountFlag, NetEntry, PortFlag, RunCommand, SeccompFlag, Stage1Flag, Stage1Kind} from '../../pod/spec.js'

import {GLOBAL_FLAGS} from '../../config/globals.js'
import {UsageError} from '../../errors.js'
import {parsePodName} from '../../pod/names.js'
import {
  addNets,
  checkACIdentifier,
  checkACName,
  parseCapabilities,
  parseEnvAssignment,
  parseGoInt,
  parseMountFlag,
  parsePortFlag,
  parseSandboxPortFlag,
  parseSeccompFlag,
  parseVolumeFlag,
  q,
  quantityOf,
} from './values.js'

type FlagKind = 'bool' | 'value' | 'optional' | 'bool-value'
type Scope = 'global' | 'pod' | 'app'

export interface MutableApp {
  image: string
  args: string[]
  signature?: string
  exec?: string
  workingDir?: string
  readOnlyRootFS: boolean
  mounts: MountFlag[]
  user?: string
  group?: string
  supplementaryGIDs?: number[]
  name?: string
  annotations: Map<string, string>
  userAnnotations?: Map<string, string>
  userLabels?: Map<string, string>
  environment: Map<string, string>
  memory?: Quantity
  cpu?: Quantity
  cpuShares?: number
  capsRetain?: string[]
  capsRemove?: string[]
  seccomp?: SeccompFlag
  oomScoreAdj?: number
}

export interface State {
  readonly command: RunCommand
  help: boolean
  globals: {
    dir?: string
    localConfig?: string
    systemConfig?: string
    userConfig?: string
    debug: boolean
    insecureOptions: string[]
    trustKeysFromHttps: boolean
  }
  stage1?: Stage1Flag
  net: NetEntry[]
  ports: PortFlag[]
  dns: {dns: string[]; dnsSearch: string[]; dnsOpt: string[]; dnsDomain?: string; hostsEntries: string[]}
  hostname?: string | undefined
  name?: string | undefined
  inheritEnv: boolean
  setEnv: Map<string, string>
  setEnvFiles: string[]
  pullPolicy: PullPolicy
  storeOnly: boolean
  noStore: boolean
  podManifest?: string | undefined
  volumes: Volume[]
  mounts: MountFlag[]
  noOverlay: boolean
  privateUsers: boolean
  interactive: boolean
  mdsRegister: boolean
  uuidFileSave?: string | undefined
  ipc?: IpcMode
  quiet: boolean
  apps: MutableApp[]
  positionals: string[]
  warnings: string[]
  /** Flags seen, for the --pod-manifest conflict check. */
  seen: Set<string>
}

export interface FlagDef {
  readonly kind: FlagKind
  readonly scope: Scope
  readonly commands: readonly RunCommand[]
  /** For kind optional: the value of the bare flag. */
  readonly noOptValue?: string
  readonly deprecated?: string
  /** Example shown when an app flag comes before any image. */
  readonly example?: string
  /** What an app flag means before any image, if anything (`--name`: the pod's name). */
  readonly beforeImage?: (s: State, value: string) => void
  readonly apply: (s: State, value: string, app: MutableApp | undefined) => void
}

const ALL: readonly RunCommand[] = ['run', 'prepare', 'run-prepared', 'app-sandbox', 'app-add']
const RUN_PREPARE: readonly RunCommand[] = ['run', 'prepare']
const RUN_ONLY: readonly RunCommand[] = ['run']
const RUN_AND_PREPARED: readonly RunCommand[] = ['run', 'run-prepared']
// rkt app sandbox takes run's stage1, network, DNS and host name flags; app add takes its per-app flags.
const STAGE1: readonly RunCommand[] = [...RUN_PREPARE, 'app-sandbox']
const POD_NET: readonly RunCommand[] = [...RUN_AND_PREPARED, 'app-sandbox']
const APP: readonly RunCommand[] = [...RUN_PREPARE, 'app-add']
// The sandbox's own annotations and labels are given as an app's are (parse.ts gives it a stand-in app).
const ANNOTATIONS: readonly RunCommand[] = [...APP, 'app-sandbox']

const boolOf = (v: string): boolean => v === 'true'

function stage1Flag(kind: Stage1Kind, flag: string): FlagDef {
  return {
    kind: 'value',
    scope: 'pod',
    commands: STAGE1,
    apply: (s, v) => {
      if (s.stage1 !== undefined) {
        const hint =
          'choose the stage1 with one of --stage1-url, --stage1-path, --stage1-name, --stage1-hash, --stage1-from-dir'
        if (s.stage1.flag === flag) throw new UsageError(`--${flag} already used`, {hint})
        throw new UsageError(`flags --${flag} and --${s.stage1.flag} are mutually exclusive`, {hint})
      }
      if (v === '')
        throw new UsageError(`--${flag} needs a non-empty value`, {
          hint: `e.g. --${flag}=${kind === 'url' ? 'https://example.com/stage1.aci' : 'LOCATION'}`,
        })
      s.stage1 = {kind, location: v, flag}
    },
  }
}

function appFlag(
  example: string,
  apply: (a: MutableApp, v: string, s: State) => void,
  commands: readonly RunCommand[] = APP,
): FlagDef {
  return {
    kind: 'value',
    scope: 'app',
    commands,
    example,
    apply: (s, v, app) => apply(app as MutableApp, v, s),
  }
}

function mapFlag(flag: string, key: 'annotations' | 'userAnnotations' | 'userLabels' | 'environment'): FlagDef {
  const commands = key === 'environment' ? APP : ANNOTATIONS
  return appFlag(
    `--${flag}=NAME=VALUE`,
    (a, v) => {
      const eq = v.indexOf('=')
      if (eq < 0) {
        throw new UsageError(`invalid format of --${flag} flag ${q(v)}`, {hint: `write --${flag}=NAME=VALUE`})
      }
      const name = v.slice(0, eq)
      if (key === 'environment') parseEnvAssignment(v, flag)
      else if (key === 'annotations')
        checkACIdentifier(name, 'annotation name', 'e.g. --annotation=example.com/owner=ops')
      else if (name === '')
        throw new UsageError(`--${flag} ${q(v)}: the name is empty`, {hint: `write --${flag}=NAME=VALUE`})
      const map = (a[key] ??= new Map<string, string>())
      map.set(name, v.slice(eq + 1))
    },
    commands,
  )
}

/** rkt's per-app stdio modes (docs/stage1.md "Logs and attach"), kept as its app annotation `coreos.com/rkt/stage2/<stream>`. */
function stdioFlag(stream: string, modes: readonly string[]): FlagDef {
  return appFlag(`--${stream}=stream`, (a, v) => {
    if (!modes.includes(v))
      throw new UsageError(`--${stream}: ${q(v)} is not a mode`, {hint: `one of: ${modes.join(', ')}`})
    ;(a.annotations ??= new Map<string, string>()).set(`coreos.com/rkt/stage2/${stream}`, v)
  })
}

function isolatorInt(flag: string, min: number, max: number, apply: (a: MutableApp, n: number) => void): FlagDef {
  return appFlag(`--${flag}=${min < 0 ? '-500' : '1024'}`, (a, v) => {
    const n = parseGoInt(v)
    if (n === undefined || n < min || n > max) {
      throw new UsageError(`--${flag}: ${q(v)} is not an integer between ${min} and ${max}`, {
        hint: `e.g. --${flag}=${min < 0 ? '-500' : '1024'}`,
      })
    }
    apply(a, n)
  })
}

function globalFlag(key: keyof State['globals'], kind: 'value' | 'bool' | 'list'): FlagDef {
  const apply = (s: State, v: string): void => {
    const g = s.globals as Record<string, unknown>
    if (kind === 'list') (g[key] as string[]).push(v)
    else g[key] = kind === 'bool' ? boolOf(v) : v
  }
  return {kind: kind === 'bool' ? 'bool' : 'value', scope: 'global', commands: ALL, apply}
}

const capsRetain = appFlag(
  '--caps-retain=CAP_NET_ADMIN',
  (a, v) => (a.capsRetain = parseCapabilities('caps-retain', v)),
)
const capsRemove = appFlag('--caps-remove=CAP_MKNOD', (a, v) => (a.capsRemove = parseCapabilities('caps-remove', v)))

export const FLAGS: Readonly<Record<string, FlagDef>> = {
  // Global flags, accepted anywhere outside app arguments.
  ...Object.fromEntries(Object.entries(GLOBAL_FLAGS).map(([name, g]) => [name, globalFlag(g.key, g.kind)])),

  // Pod-level flags.
  'stage1-url': stage1Flag('url', 'stage1-url'),
  'stage1-path': stage1Flag('path', 'stage1-path'),
  'stage1-image': stage1Flag('path', 'stage1-image'),
  'stage1-name': stage1Flag('name', 'stage1-name'),
  'stage1-hash': stage1Flag('hash', 'stage1-hash'),
  'stage1-from-dir': stage1Flag('from-dir', 'stage1-from-dir'),
  net: {
    kind: 'optional',
    scope: 'pod',
    commands: POD_NET,
    noOptValue: 'default',
    apply: (s, v) => addNets(s.net, v),
  },
  port: {
    kind: 'value',
    scope: 'pod',
    commands: STAGE1,
    apply: (s, v) => s.ports.push(s.command === 'app-sandbox' ? parseSandboxPortFlag(v) : parsePortFlag(v)),
  },
  dns: {kind: 'value', scope: 'pod', commands: POD_NET, apply: (s, v) => s.dns.dns.push(v)},
  'dns-search': {kind: 'value', scope: 'pod', commands: POD_NET, apply: (s, v) => s.dns.dnsSearch.push(v)},
  'dns-opt': {kind: 'value', scope: 'pod', commands: POD_NET, apply: (s, v) => s.dns.dnsOpt.push(v)},
  'dns-domain': {kind: 'value', scope: 'pod', commands: POD_NET, apply: (s, v) => (s.dns.dnsDomain = v)},
  'hosts-entry': {kind: 'value', scope: 'pod', commands: POD_NET, apply: (s, v) => s.dns.hostsEntries.push(v)},
  hostname: {
    kind: 'value',
    scope: 'pod',
    commands: POD_NET,
    apply: (s, v) => {
      // eslint-disable-next-line no-control-regex -- control characters are what is refused
      if (v.length > 64 || /[\s\u0000-\u001f\u007f]/.test(v)) {
        throw new UsageError(`--hostname ${q(v)} is not a valid host name`, {
          hint: 'at most 64 characters, without white space or control characters',
        })
      }
      s.hostname = v === '' ? undefined : v
    },
  },
  'inherit-env': {kind: 'bool', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => (s.inheritEnv = boolOf(v))},
  'set-env': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      const e = parseEnvAssignment(v, 'set-env')
      if (s.setEnv.has(e.name)) {
        throw new UsageError(`--set-env: ${q(e.name)} already set`, {hint: 'give each variable once'})
      }
      s.setEnv.set(e.name, e.value)
    },
  },
  'set-env-file': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      if (v === '') throw new UsageError('--set-env-file needs a file path', {hint: 'e.g. --set-env-file=/etc/app.env'})
      s.setEnvFiles.push(v)
    },
  },
  'pull-policy': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      if (v !== 'new' && v !== 'update' && v !== 'never') {
        throw new UsageError(`--pull-policy: ${q(v)} is not a pull policy`, {
          hint: 'new (fetch only what is missing, the default), update (always check remotely) or never (store only)',
        })
      }
      s.pullPolicy = v
    },
  },
  'store-only': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_PREPARE,
    deprecated: 'use --pull-policy=never',
    apply: (s, v) => (s.storeOnly = boolOf(v)),
  },
  'no-store': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_PREPARE,
    deprecated: 'use --pull-policy=update',
    apply: (s, v) => (s.noStore = boolOf(v)),
  },
  'pod-manifest': {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => (s.podManifest = v || undefined),
  },
  volume: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v) => {
      const vol = parseVolumeFlag(v)
      if (s.volumes.some((x) => x.name === vol.name)) {
        throw new UsageError(`duplicate volume name ${q(vol.name)}`, {hint: 'give each --volume its own name'})
      }
      s.volumes.push(vol)
    },
  },
  'no-overlay': {kind: 'bool', scope: 'pod', commands: STAGE1, apply: (s, v) => (s.noOverlay = boolOf(v))},
  'private-users': {kind: 'bool', scope: 'pod', commands: RUN_PREPARE, apply: (s, v) => (s.privateUsers = boolOf(v))},
  interactive: {kind: 'bool', scope: 'pod', commands: RUN_AND_PREPARED, apply: (s, v) => (s.interactive = boolOf(v))},
  'mds-register': {
    kind: 'bool',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    apply: (s, v) => (s.mdsRegister = boolOf(v)),
  },
  'uuid-file-save': {
    kind: 'value',
    scope: 'pod',
    commands: [...RUN_ONLY, 'app-sandbox'],
    apply: (s, v) => (s.uuidFileSave = v || undefined),
  },
  ipc: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_AND_PREPARED,
    apply: (s, v) => {
      if (v !== 'auto' && v !== 'private' && v !== 'parent') {
        throw new UsageError(`--ipc: ${q(v)} is not an IPC mode`, {
          hint: "auto (the stage1 decides), private (a new IPC namespace) or parent (the host's)",
        })
      }
      s.ipc = v
    },
  },
  quiet: {kind: 'bool', scope: 'pod', commands: ['prepare'], apply: (s, v) => (s.quiet = boolOf(v))},

  // --mount is per-app after an image and pod-wide before any (appMount).
  mount: {
    kind: 'value',
    scope: 'pod',
    commands: RUN_PREPARE,
    apply: (s, v, app) => (app ?? s).mounts.push(parseMountFlag(v)),
  },

  // Per-app flags (cli_apps.go).
  signature: appFlag('--signature=IMAGE.aci.asc', (a, v) => {
    if (a.signature !== undefined)
      throw new UsageError('--signature specified multiple times for the same image', {
        hint: 'give one --signature after each image: rkt run IMAGE1 --signature=S1 IMAGE2 --signature=S2',
      })
    a.signature = v
  }),
  exec: appFlag('--exec=/bin/sh', (a, v) => {
    if (a.exec !== undefined) {
      throw new UsageError('--exec specified multiple times for the same image', {
        hint: 'pass arguments after "--": rkt run IMAGE --exec=/bin/sh -- -c "echo hi"',
      })
    }
    if (v === '') throw new UsageError('--exec needs a command', {hint: 'e.g. --exec=/bin/sh'})
    a.exec = v
  }),
  'working-dir': appFlag('--working-dir=/srv', (a, v) => {
    if (!v.startsWith('/'))
      throw new UsageError(`--working-dir ${q(v)} must be an absolute path`, {hint: 'e.g. --working-dir=/srv'})
    a.workingDir = v
  }),
  'readonly-rootfs': {
    kind: 'bool-value',
    scope: 'app',
    commands: APP,
    example: '--readonly-rootfs=true',
    apply: (_s, v, a) => ((a as MutableApp).readOnlyRootFS = boolOf(v)),
  },
  user: appFlag('--user=1000', (a, v) => {
    if (v === '') throw new UsageError('--user needs a user name, UID or path', {hint: 'e.g. --user=1000'})
    a.user = v
  }),
  group: appFlag('--group=1000', (a, v) => {
    if (v === '') throw new UsageError('--group needs a group name, GID or path', {hint: 'e.g. --group=1000'})
    a.group = v
  }),
  'supplementary-gids': appFlag('--supplementary-gids=1024,2048', (a, v) => {
    for (const part of v.split(',')) {
      const gid = parseGoInt(part)
      if (gid === undefined || gid < 0 || gid > 2 ** 32 - 1) {
        throw new UsageError(`--supplementary-gids must be integers, got ${q(part)}`, {
          hint: 'e.g. --supplementary-gids=1024,2048',
        })
      }
      ;(a.supplementaryGIDs ??= []).push(gid)
    }
  }),
  name: {
    // The sandbox's stand-in app (parse.ts) holds its pod flags: there --name names the pod, as before an image.
    ...appFlag(
      '--name=web',
      (a, v, s) => {
        if (s.command === 'app-sandbox') return void (s.name = parsePodName(v))
        checkACName(v, 'app name', 'app names are lower-case letters, digits and "-", e.g. --name=web-1')
        a.name = v
      },
      [...APP, 'app-sandbox'],
    ),
    beforeImage: (s, v) => (s.name = parsePodName(v)),
  },
  annotation: mapFlag('annotation', 'annotations'),
  stdin: stdioFlag('stdin', ['null', 'stream', 'tty']),
  stdout: stdioFlag('stdout', ['log', 'stream', 'tty']),
  stderr: stdioFlag('stderr', ['log', 'stream', 'tty']),
  'user-annotation': mapFlag('user-annotation', 'userAnnotations'),
  'user-label': mapFlag('user-label', 'userLabels'),
  environment: mapFlag('environment', 'environment'),
  memory: appFlag('--memory=128M', (a, v) => {
    const quantity = quantityOf('memory', v)
    // rkt refuses anything under 4Ki: most likely "16m" (milli-bytes) typed for "16M".
    if (quantity.value < 4096n) {
      throw new UsageError(`memory limit of ${quantity.value} bytes too low`, {
        hint: 'try a reasonable value, such as --memory=16M (M is megabytes; m would be milli-bytes)',
      })
    }
    a.memory = quantity
  }),
  cpu: appFlag('--cpu=500m', (a, v) => {
    const quantity = quantityOf('cpu', v)
    if (quantity.milli <= 0n) throw new UsageError(`--cpu ${q(v)} must be positive`, {hint: 'e.g. --cpu=500m'})
    a.cpu = quantity
  }),
  'cpu-shares': isolatorInt('cpu-shares', 2, 262144, (a, n) => (a.cpuShares = n)),
  'oom-score-adj': isolatorInt('oom-score-adj', -1000, 1000, (a, n) => (a.oomScoreAdj = n)),
  'caps-retain': capsRetain,
  'caps-remove': capsRemove,
  'cap-retain': {...capsRetain, deprecated: 'use --caps-retain instead'},
  'cap-remove': {...capsRemove, deprecated: 'use --caps-remove instead'},
  seccomp: appFlag('--seccomp=mode=retain,@rkt/default-whitelist', (a, v) => (a.seccomp = parseSeccompFlag(v))),
}

// One line of help per flag, for `rkt run --help` and friends (global flags are listed by the CLI itself).
// Every non-global flag of FLAGS has an entry here; args.test.ts checks that the two tables agree.
const HELP: Readonly<Record<string, {readonly value?: string; readonly text: string}>> = {
  'stage1-url': {value: 'URL', text: 'stage1 image by URL (file:// only for now)'},
  'stage1-path': {value: 'PATH', text: 'stage1 image by file path (a bare file name is also looked up beside rkt)'},
  'stage1-image': {value: 'PATH', text: 'same as --stage1-path'},
  'stage1-name': {value: 'NAME[:VERSION]', text: 'stage1 image by name, from the store'},
  'stage1-hash': {value: 'ID', text: 'stage1 image by image ID, from the store'},
  'stage1-from-dir': {value: 'FILE', text: 'stage1 image file in the stage1 images directory'},
  net: {value: 'NET[:ARGS],…', text: 'networks to join: default, host, none, or CNI network names'},
  port: {value: 'NAME:[IP:]PORT', text: 'forward a host port to the app port named NAME'},
  dns: {value: 'IP|host|none', text: 'name servers for the pod (host copies the host resolv.conf)'},
  'dns-search': {value: 'DOMAIN', text: 'DNS search domain'},
  'dns-opt': {value: 'OPT', text: 'DNS resolver option'},
  'dns-domain': {value: 'DOMAIN', text: 'DNS domain'},
  'hosts-entry': {value: 'IP=HOST|host', text: 'an /etc/hosts entry (host copies the host file)'},
  hostname: {value: 'NAME', text: "the pod's host name (default rkt-UUID)"},
  'inherit-env': {text: "pass rkt's environment to the apps"},
  'set-env': {value: 'NAME=VALUE', text: 'set an environment variable in every app'},
  'set-env-file': {value: 'FILE', text: 'read NAME=VALUE lines for every app from FILE'},
  'pull-policy': {value: 'new|update|never', text: 'when to fetch images (never: store only)'},
  'store-only': {text: 'deprecated: --pull-policy=never'},
  'no-store': {text: 'deprecated: --pull-policy=update'},
  'pod-manifest': {value: 'FILE', text: 'run the pod this pod manifest describes, instead of IMAGE arguments'},
  volume: {value: 'NAME,kind=host|empty,…', text: 'declare a pod volume (host: source=PATH; readOnly=, recursive=)'},
  'no-overlay': {text: 'copy the images instead of mounting overlays'},
  'private-users': {text: 'run in a user namespace (engines that support it)'},
  interactive: {text: 'run one app with the terminal attached'},
  'mds-register': {text: 'register the pod with the metadata service'},
  'uuid-file-save': {value: 'FILE', text: "write the pod's UUID to FILE"},
  ipc: {value: 'auto|private|parent', text: 'IPC namespace of the pod'},
  quiet: {text: 'print nothing but the UUID'},
  mount: {
    value: 'volume=NAME,target=PATH',
    text: 'mount a volume in the app before it (in every app before any IMAGE)',
  },
  signature: {value: 'FILE', text: "the image's detached signature"},
  exec: {value: 'PATH', text: "run PATH instead of the image's exec"},
  'working-dir': {value: 'DIR', text: 'working directory of the app'},
  'readonly-rootfs': {value: 'BOOL', text: 'mount the app root read-only'},
  user: {value: 'UID|NAME|PATH', text: 'user the app runs as'},
  group: {value: 'GID|NAME|PATH', text: 'group the app runs as'},
  'supplementary-gids': {value: 'GID,…', text: 'supplementary groups (replaces the image list)'},
  name: {
    value: 'NAME',
    text: "after an image: the app's name (default: from the image name); before any image: the pod's name",
  },
  annotation: {value: 'NAME=VALUE', text: 'app annotation'},
  stdin: {value: 'null|stream|tty', text: 'stream: attachable with rkt attach (tty: not supported)'},
  stdout: {value: 'log|stream|tty', text: 'log: kept for rkt logs; stream: also attachable'},
  stderr: {value: 'log|stream|tty', text: 'log: kept for rkt logs; stream: also attachable'},
  'user-annotation': {value: 'NAME=VALUE', text: 'user annotation (replaces the image ones)'},
  'user-label': {value: 'NAME=VALUE', text: 'user label (replaces the image ones)'},
  environment: {value: 'NAME=VALUE', text: 'environment variable of the app'},
  memory: {value: 'QUANTITY', text: 'memory limit, e.g. 128M'},
  cpu: {value: 'QUANTITY', text: 'CPU limit, e.g. 500m'},
  'cpu-shares': {value: 'N', text: 'CPU weight (2-262144)'},
  'oom-score-adj': {value: 'N', text: 'OOM score adjustment (-1000-1000)'},
  'caps-retain': {value: 'CAP,…', text: 'capabilities the app keeps'},
  'caps-remove': {value: 'CAP,…', text: 'capabilities the app loses'},
  'cap-retain': {value: 'CAP,…', text: 'deprecated: --caps-retain'},
  'cap-remove': {value: 'CAP,…', text: 'deprecated: --caps-remove'},
  seccomp: {value: 'mode=retain|remove,…', text: 'seccomp filter of the app'},
}

/** The names of the flags that have no help entry, or help entries with no flag (for the tests). */
export function helpTableMismatches(): string[] {
  const flags = Object.keys(FLAGS).filter((n) => FLAGS[n]!.scope !== 'global')
  return [...flags.filter((n) => !Object.hasOwn(HELP, n)), ...Object.keys(HELP).filter((n) => !flags.includes(n))]
}

/** One flag in a command's help. */
export interface FlagHelp {
  readonly name: string
  /** The value placeholder; absent for booleans. */
  readonly value?: string
  readonly text: string
  readonly scope: 'pod' | 'app'
}

/** The pod and per-app flags of a command, for its help (deprecated spellings left out). */
export function runFlagHelp(command: RunCommand): FlagHelp[] {
  const out: FlagHelp[] = []
  for (const [name, def] of Object.entries(FLAGS)) {
    if (def.scope === 'global' || !def.commands.includes(command) || def.deprecated !== undefined) continue
    const h = HELP[name]!
    out.push({
      name,
      ...(h.value === undefined ? {} : {value: h.value}),
      text: h.text,
      scope: name === 'mount' ? 'app' : def.scope,
    })
  }
  return out
}
