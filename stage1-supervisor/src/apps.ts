// An app made ready on the host for the supervisor: the part of the run entrypoint nspawn and kvm share, since
// kvm's guest runs the same supervisor over the same stage1 rootfs (stage1-kvm/README.md).
import fs from 'node:fs'
import path from 'node:path'

import {
  appCommand,
  handlerCommand,
  parseIdRange,
  portMappings,
  resolveCredentials,
  RktError,
  runArgsOf,
  type AppLogging,
  supportsNotify,
  type LoadedPod,
  type PodApp,
  type RunArgs,
  writeAppEnv,
} from '@rkt/core/stage1'
import {setupPodNetworks, type PodNetworks} from '@rkt/net-plugins'

import type {AppConf} from './config.js'
import {podEtcOf, type PodEtc} from './etc.js'

import {appIsolation, type AppIsolation} from './isolators.js'
import {appLogConf} from './logs.js'
import {planAppMounts, type MountStep} from './mount-plan.js'

/** An app prepared on the host: its supervisor configuration, minus the descriptors opened later. */
export interface PreparedApp {
  readonly app: PodApp
  readonly isolation: AppIsolation
  /** The mounts inside the app's root, for the engine to perform where that root is (mount-plan.ts). */
  readonly mounts: readonly MountStep[]
  readonly conf: Omit<AppConf, 'cgroupFds' | 'oomFds'>
  /** Where its stdout and stderr are logged (absent for an interactive app). */
  readonly logging?: AppLogging | undefined
}

/** The mount plan (volumes, /etc files), environment, credentials, program and isolation of one app. */
export function prepareApp(
  pod: LoadedPod,
  app: PodApp,
  etc: PodEtc,
  args: RunArgs,
  hostBounding: bigint,
  metadataUrl: string | undefined,
  warn: (m: string) => void,
): PreparedApp {
  const appWarn = (m: string): void => warn(`app ${app.name}: ${m}`)
  const creds = resolveCredentials(app.rootfs, app.app, {image: app.image})
  const isolation = appIsolation(
    app.app.isolators,
    {
      uid: creds.uid,
      hostBounding,
      disableCapabilities: args.disableCapabilities,
      disableSeccomp: args.disableSeccomp,
    },
    appWarn,
  )
  const range = args.privateUsers === undefined ? undefined : parseIdRange(args.privateUsers)
  // A negative oom_score_adj takes CAP_SYS_RESOURCE on the host, which the root of a user namespace lacks.
  let oomScoreAdj = isolation.oomScoreAdj
  if (range && oomScoreAdj !== undefined && oomScoreAdj < 0) {
    appWarn(`os/linux/oom-score-adj ${oomScoreAdj} ignored: a --private-users pod cannot set a negative value`)
    oomScoreAdj = undefined
  }
  const mounts = planAppMounts(pod, app, etc)
  const env = withTerm(writeAppEnv(pod.paths, app, metadataUrl), args.interactive)
  // Where the supervisor records the app's PID for enter.
  fs.mkdirSync(pod.paths.pidsDir, {recursive: true, mode: 0o755})
  const cwd = app.app.workingDirectory ?? '/'
  const log = appLogConf(pod, app, args.interactive)
  return {
    app,
    isolation,
    mounts,
    logging: log.logging,
    conf: {
      ...log.conf,
      name: app.name,
      // The app's root as the container sees it: the stage1 rootfs is the container's /.
      root: `/${path.relative(pod.paths.stage1Rootfs, app.rootfs)}`,
      argv: appCommand(app, env),
      env,
      uid: creds.uid,
      gid: creds.gid,
      groups: creds.groups,
      cwd,
      caps: isolation.caps,
      noNewPrivs: isolation.noNewPrivs,
      seccomp: isolation.seccomp,
      oomScoreAdj,
      readonlyRootfs: app.runtime.readOnlyRootFS,
      maskPaths: !args.disablePaths,
      interactive: args.interactive,
      notify: supportsNotify(app.image),
      preStart: handlerCommand(app, 'pre-start', env, cwd),
      postStop: handlerCommand(app, 'post-stop', env, cwd),
    },
  }
}

/**
 * An app added to a running mutable pod (`rkt app add`), prepared as run prepared the pod's: with the flags and
 * /etc files run recorded (its runtime config), never interactive, without the metadata service's URL.
 */
export function prepareAddedApp(
  pod: LoadedPod,
  app: PodApp,
  hostBounding: bigint,
  warn: (m: string) => void,
): PreparedApp {
  const rt = pod.runtime
  if (!rt?.Mutable)
    throw new RktError(`pod ${pod.uuid} is not a mutable pod: apps can be added only to one`, {
      code: 'ENOTMUTABLE',
      hint: 'start the pod with rkt app sandbox',
    })
  const args = {...runArgsOf(pod.uuid, rt, '/etc/rkt'), interactive: false}
  const etc = podEtcOf(pod.paths, args.dnsConfMode)
  return prepareApp(pod, app, etc, args, hostBounding, undefined, warn)
}

/**
 * The pod's CNI networks (none for --net=host or none). Whatever fails after this, stage0's gc of the pod
 * tears them down: net-state.json records each before its ADD.
 */
export function setupNetworks(pod: LoadedPod, args: RunArgs): Promise<PodNetworks | undefined> {
  return setupPodNetworks(pod.paths, {
    uuid: pod.uuid,
    netList: args.net,
    localConfig: args.localConfig,
    ports: portMappings(
      pod.manifest.ports,
      pod.apps.map((a) => a.app),
    ),
  })
}

/**
 * An interactive app's environment with the caller's TERM, the type of the terminal it is given, unless its image
 * sets one. Not in the env file: `rkt enter` passes its own caller's.
 */
function withTerm(env: string[], interactive: boolean): string[] {
  const term = process.env['TERM']
  return interactive && term && !env.some((e) => e.startsWith('TERM=')) ? [...env, `TERM=${term}`] : env
}
