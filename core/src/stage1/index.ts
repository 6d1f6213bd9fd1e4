// The stage1 SDK: everything a stage1 engine may use from stage0's code base, and nothing else (docs/architecture.md
// "Dependency rules": stage1 packages import only this module). The contract itself is documented for engine authors
// in core/docs/stage1.md.
export {ANNOTATION, DEFAULT_INTERFACE_VERSION, ENV, SUPPORT_VOCABULARY} from './contract.js'
export {
  enterArgv,
  gcArgv,
  parseEnterArgv,
  parseFlags,
  parseGcArgv,
  parseRunArgv,
  parseStopArgv,
  runArgv,
  stopArgv,
} from './contract.js'
export type {Behaviour, Entrypoint, HostsMode, IpcMode, ParsedFlags, ResolvMode, RunArgs} from './contract.js'
export {formatIdRange, ID_RANGE_SIZE, idRangesOverlap, parseIdRange} from './id-range.js'
export type {IdRange} from './id-range.js'
export {PodPaths, STAGE2_DIR} from './paths.js'
export {loadPod, podApp} from './pod.js'
export type {LoadedPod, PodApp} from './pod.js'
export {loadRuntimeConfig, runtimeConfigOf, saveRuntimeConfig} from './runtime.js'
export type {RuntimeConfig} from './runtime.js'
export {markApp, podPid, readAppStatus, readPidFile, writeAppStatus, writePidFile} from './status.js'
export {composeEnv, DEFAULT_PATH, readEnvFile, writeEnvFile} from './env.js'
export {hostPathInRoot, resolveInRoot} from './root-path.js'
export {resolveCredentials} from './credentials.js'
export type {Credentials} from './credentials.js'
export {enterCommand, findExecutable, findHostTool} from './exec-path.js'
export {appMounts, checkMountTarget, isForbiddenTarget} from './mounts.js'
export type {AppMount} from './mounts.js'
export {
  bindGeneratedFile,
  bindMount,
  mountVolumes,
  placeGeneratedFile,
  prepareMountTarget,
  remountReadOnly,
} from './volumes.js'
export {DEFAULT_CAPABILITIES, effectiveCapabilities, getIsolator, isIsolator} from '../schema/isolators.js'
export type {AnyIsolator, Isolator, KnownIsolatorName, SeccompSet} from '../schema/isolators.js'
export {entrypoint} from './entry.js'
export {cfsQuota, CFS_PERIOD_US, limitsOf, podLimits} from './limits.js'
export type {Limits} from './limits.js'
export {
  appCgroups,
  appDir,
  collectPodCgroups,
  applyLimits,
  createPodCgroups,
  detectCgroups,
  enterPodCgroups,
  hierarchyFor,
  killPod,
  openAppFds,
  podDir as podCgroupDir,
  recordedPodCgroups,
  recordPodCgroups,
  releasePodCgroups,
  removePodCgroups,
  sharesToWeight,
  signalCgroups,
  stage1Dir,
} from './cgroups.js'
export type {AppCgroupFds, CgroupHost, Hierarchy, PodCgroupsGc} from './cgroups.js'
export type {EntrypointMain} from './entry.js'
// The system interfaces engines need (core/docs/native-helpers.md).
export {
  execve,
  flock,
  LOCK_EX,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  MNT_DETACH,
  mount,
  MS,
  setCloexec,
  umount2,
} from '../sys/native.js'
export {mountsUnder, readMountinfo, unmountTree} from '../sys/mounts.js'
export {unmountEngineMounts} from './binds.js'
export {RktError, UsageError, wrap} from '../errors.js'
// Contained networking (core/src/net): engines set up and tear down a pod's CNI networks with these.
export {isNetnsMounted, parseNetList, portMappings, setupPodNetworks, teardownPodNetworks} from '../net/index.js'
export type {NetMode, PodNetworks, PortMapping} from '../net/index.js'
export {makeResolvConf} from '../pod/dns.js'
export type {ResolvConf} from '../pod/dns.js'
// Registering a pod with `rkt metadata-service` (core/docs/metadata-service.md).
export {
  MDS_PORT,
  MDS_PROTOCOL,
  MDS_SOCKET,
  metadataUrl,
  registerApp,
  registerPod,
  unregisterPod,
} from '../mds/client.js'
export type {PodRegistration} from '../mds/client.js'
