// The stage0 <-> stage1 contract (docs/stage1.md): what both sides of an entrypoint call agree on. The
// bottom of core: it imports only schema/, sys/ and errors, so stage0, the SDK and engines can all build on it.
export {ANNOTATION, APP_ENTRYPOINT_ENV, DEFAULT_INTERFACE_VERSION, ENV, SUPPORT_VOCABULARY} from './entrypoints.js'
export {
  appArgv,
  attachArgv,
  enterArgv,
  exportArgv,
  gcArgv,
  parseAppArgv,
  parseAttachArgv,
  parseEnterArgv,
  parseExportArgv,
  parseFlags,
  parseGcArgv,
  parseRunArgv,
  parseStopArgv,
  runArgv,
  stopArgv,
} from './entrypoints.js'
export type {
  AttachArgs,
  Behaviour,
  Entrypoint,
  HostsMode,
  IpcMode,
  NetInfo,
  ParsedFlags,
  ResolvMode,
  RunArgs,
} from './entrypoints.js'
export {readEnvFile, writeEnvFile} from './env-file.js'
export {formatIdRange, ID_RANGE_SIZE, idRangesOverlap, parseIdRange} from './id-range.js'
export type {IdRange} from './id-range.js'
export {
  appLogging,
  KUBERNETES_LOG_DIR,
  KUBERNETES_LOG_MOUNT,
  KUBERNETES_LOG_PATH,
  LOG_MAX_BYTES,
  LOG_MAX_FILES,
  logFiles,
  STDIO_ANNOTATION,
} from './logs.js'
export type {AppLogging} from './logs.js'
export {PodPaths, STAGE2_DIR} from './paths.js'
export {collides, portMappings} from './ports.js'
export type {PortMapping} from './ports.js'
export {isResolvConfEmpty, makeResolvConf, RESOLV_CONF_COMMENT} from './resolv-conf.js'
export type {ResolvConf} from './resolv-conf.js'
export {loadRuntimeConfig, runArgsOf, runtimeConfigOf, saveRuntimeConfig} from './runtime.js'
export type {RuntimeConfig} from './runtime.js'
export {markApp, podPid, readAppStatus, readPidFile, writeAppStatus, writePidFile, writePodReady} from './status.js'
export {
  APP_NOTIFY_SOCKET,
  LISTEN_FDS_START,
  listenFds,
  NOTIFY_ANNOTATION,
  refuseListenFds,
  socketActivatedApps,
  supportsNotify,
} from './systemd.js'
export type {ListenFds} from './systemd.js'
