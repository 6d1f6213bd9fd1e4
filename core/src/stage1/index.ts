// The stage1 SDK: everything a stage1 engine may use from stage0's code base, and nothing else (docs/architecture.md
// "Dependency rules": stage1 packages import only this module). The contract itself is documented for engine authors
// in docs/stage1.md.
// The contract, so an engine needs one import.
export * from '../contract/index.js'
export {loadPod, podApp} from './pod.js'
export {attachApp} from './attach.js'
export type {LoadedPod, PodApp} from './pod.js'
export {composeEnv, DEFAULT_PATH, enterEnv, envRecord, writeAppEnv} from './env.js'
export {hostPathInRoot, resolveInRoot} from './root-path.js'
export {resolveCredentials} from './credentials.js'
export type {Credentials} from './credentials.js'
export {appCommand, enterCommand, findExecutable, findHostTool, handlerCommand, requireHostTool} from './exec-path.js'
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
export {entrypoint, podLockFd} from './entry.js'
export {gcPod, setUpPodCgroups, stopPodApps} from './pod-cgroups.js'
export {bindDnsFiles} from './dns-files.js'
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
  recordedCgroupHost,
  recordedPodCgroups,
  recordPodCgroups,
  releasePodCgroups,
  removePodCgroups,
  sharesToWeight,
  signalCgroups,
  stage1Dir,
} from './cgroups.js'
export type {AppCgroupFds, CgroupHost, Hierarchy, PodCgroupsGc} from './cgroups.js'
export type {EntrypointMain, Warn} from './entry.js'
// The system interfaces engines need (docs/native-helpers.md).
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
  unixRequest,
} from '../sys/native.js'
export {mountsUnder, readMountinfo, unmountTree} from '../sys/mounts.js'
export {unmountEngineMounts} from './binds.js'
export {RktError, UsageError, wrap} from '../errors.js'
export {writeFileAtomic} from '../sys/atomic.js'
// Registering a pod with `rkt metadata-service` (docs/metadata-service.md).
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
