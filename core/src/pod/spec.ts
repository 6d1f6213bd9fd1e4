// The typed pod specification: what `rkt run`, `rkt prepare` and `rkt run-prepared` ask for, and the pod
// library's input. cli/run-args/ parses a command line into it; pod/manifest.ts and pod/run.ts consume it.
import type {PullPolicy} from '../fetch/index.js'
import type {Quantity, Volume} from '../schema/index.js'
import type {IpcMode} from '../contract/entrypoints.js'
import type {DnsConfig} from './dns.js'

/** The commands this parser serves. */
export type RunCommand = 'run' | 'prepare' | 'run-prepared' | 'app-sandbox' | 'app-add'

/** An environment variable or any other NAME=VALUE pair. */
export interface EnvVar {
  readonly name: string
  readonly value: string
}

/** A name and a value, as annotations are written. */
export interface NameValue {
  readonly name: string
  readonly value: string
}

/** `--mount volume=V,target=PATH`: binds pod volume V at PATH inside an app. */
export interface MountFlag {
  readonly volume: string
  /** As typed: rkt accepts a relative target (`target=dir1`), meaning a path below the app's root. */
  readonly path: string
}

/** `--port=NAME:[HOSTIP:]HOSTPORT`; app sandbox's `--port=NAME:PROTO:PODPORT:HOSTIP:HOSTPORT` names the pod port. */
export interface PortFlag {
  readonly name: string
  readonly hostPort: number
  /** An IPv4 literal; absent means every address. */
  readonly hostIP?: string
  readonly podPort?: {
    readonly name: string
    readonly protocol: string
    readonly port: number
    readonly count: number
    readonly socketActivated: boolean
  }
}

/** One network of `--net=n1[:K=V;K2=V2],n2`. */
export interface NetEntry {
  readonly name: string
  /** The CNI_ARGS part after ":", absent when none was given. */
  readonly args?: string
}

/** How the user chose the stage1 image; `--stage1-image` is our spelling of `--stage1-path`. */
export type Stage1Kind = 'url' | 'path' | 'name' | 'hash' | 'from-dir'

export interface Stage1Flag {
  readonly kind: Stage1Kind
  readonly location: string
  /** The flag as written, without dashes, e.g. `stage1-image`. */
  readonly flag: string
}

/** `--seccomp mode=retain|remove[,errno=E],syscall,@set…`. */
export interface SeccompFlag {
  readonly mode: 'retain' | 'remove'
  readonly errno?: string
  readonly set: readonly string[]
}

/** One image of the command line and the per-app flags that followed it. */
export interface AppFlags {
  /** The image string as typed: hash, path, URL or name (resolved by the caller). */
  readonly image: string
  /** Words after "--"; appended to the exec (the image's, or --exec). */
  readonly args: readonly string[]
  readonly signature?: string
  /** Replaces the whole exec line with this one word (rkt does not split it); the args follow. */
  readonly exec?: string
  readonly workingDir?: string
  readonly readOnlyRootFS: boolean
  /** Mounts for this app only; they win over pod-level mounts at the same path. */
  readonly mounts: readonly MountFlag[]
  readonly user?: string
  readonly group?: string
  /** Replaces the image's list; repeated flags add up. */
  readonly supplementaryGIDs?: readonly number[]
  readonly name?: string
  /** Runtime app annotations; a repeated name keeps its first position and takes the last value. */
  readonly annotations: readonly NameValue[]
  /** When given, replaces the image's userAnnotations entirely (rkt does not merge). */
  readonly userAnnotations?: Readonly<Record<string, string>>
  /** When given, replaces the image's userLabels entirely (rkt does not merge). */
  readonly userLabels?: Readonly<Record<string, string>>
  /** `--environment`; a repeated name keeps its first position and takes the last value. */
  readonly environment: readonly EnvVar[]
  /** resource/memory request and limit; at least 4096 bytes. */
  readonly memory?: Quantity
  /** resource/cpu request and limit. */
  readonly cpu?: Quantity
  readonly cpuShares?: number
  readonly capsRetain?: readonly string[]
  readonly capsRemove?: readonly string[]
  readonly seccomp?: SeccompFlag
  readonly oomScoreAdj?: number
}

/** rkt's global flags, as raw values (the caller resolves directories and insecure options). */
export interface GlobalFlagValues {
  readonly dir?: string
  readonly localConfig?: string
  readonly systemConfig?: string
  readonly userConfig?: string
  readonly debug: boolean
  /** Every --insecure-options value in order (rkt accumulates them). */
  readonly insecureOptions: readonly string[]
  readonly trustKeysFromHttps: boolean
}

/** Pod-level flags of run and prepare (flags a command lacks keep their defaults). */
export interface PodFlags {
  readonly stage1?: Stage1Flag
  /** Empty when --net was not given: the stage1 gets `--net=default`. */
  readonly net: readonly NetEntry[]
  readonly ports: readonly PortFlag[]
  readonly dns: DnsConfig
  readonly hostname?: string
  /** --name: the pod's name (core/src/pod/names.ts). */
  readonly name?: string
  readonly inheritEnv: boolean
  readonly setEnv: readonly EnvVar[]
  /** --set-env-file paths in order; read with loadEnvFiles (manifest.ts). */
  readonly setEnvFiles: readonly string[]
  /** After --store-only (never) and --no-store (update). */
  readonly pullPolicy: PullPolicy
  readonly podManifest?: string
  readonly volumes: readonly Volume[]
  /** --mount flags given before the first image: they apply to every app. */
  readonly mounts: readonly MountFlag[]
  readonly noOverlay: boolean
  readonly privateUsers: boolean
  readonly interactive: boolean
  readonly mdsRegister: boolean
  readonly uuidFileSave?: string
  readonly ipc?: IpcMode
  /** prepare only: print nothing but the UUID. */
  readonly quiet: boolean
}

/** The parsed command line of run or prepare. */
export interface RunArgs {
  readonly command: 'run' | 'prepare'
  /** --help/-h was given: nothing else was checked. */
  readonly help: boolean
  readonly globals: GlobalFlagValues
  readonly pod: PodFlags
  readonly apps: readonly AppFlags[]
  /** Deprecation notices to print (`--store-only is deprecated: …`). */
  readonly warnings: readonly string[]
}

/**
 * The parsed command line of `rkt app sandbox`: the pod flags of run (those sandbox takes) and no app. Its pod
 * annotations, user annotations and user labels are given with run's per-app flags (--annotation, …).
 */
export interface SandboxArgs extends Omit<RunArgs, 'command' | 'apps'> {
  readonly command: 'app-sandbox'
  readonly annotations: readonly NameValue[]
  readonly userAnnotations: Readonly<Record<string, string>>
  readonly userLabels: Readonly<Record<string, string>>
}

/** The parsed command line of `rkt app add UUID IMAGE [APP FLAGS] [-- ARG… ---]`. */
export interface AppAddArgs {
  readonly command: 'app-add'
  readonly help: boolean
  readonly globals: GlobalFlagValues
  /** The pod UUID (or a unique prefix), as typed; empty only with help. */
  readonly uuid: string
  readonly app: AppFlags
  readonly warnings: readonly string[]
}

/** The flags run-prepared takes (everything else was fixed by prepare). */
export interface RunPreparedFlags {
  readonly net: readonly NetEntry[]
  readonly dns: DnsConfig
  readonly hostname?: string
  readonly interactive: boolean
  readonly mdsRegister: boolean
  readonly ipc?: IpcMode
}

/** The parsed command line of run-prepared. */
export interface RunPreparedArgs {
  readonly command: 'run-prepared'
  readonly help: boolean
  readonly globals: GlobalFlagValues
  /** The pod UUID (or a unique prefix), as typed; empty only with help. */
  readonly uuid: string
  readonly pod: RunPreparedFlags
  readonly warnings: readonly string[]
}

/** appc's environment variable names (schema/types/environment.go). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z_0-9.-]*$/

/** The `--net=` value the stage1 gets: `default` when no --net was given. */
export function formatNetList(net: readonly NetEntry[]): string {
  if (net.length === 0) return 'default'
  return net.map((n) => (n.args === undefined ? n.name : `${n.name}:${n.args}`)).join(',')
}
