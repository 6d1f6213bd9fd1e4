// The stage0 <-> stage1 contract (docs/stage1.md): what both sides of an entrypoint call agree on. The
// bottom of core: it imports only schema/, sys/ and errors, so stage0, the SDK and engines can all build on it.
export {ANNOTATION, DEFAULT_INTERFACE_VERSION, ENV, RESERVED_ENTRYPOINTS, SUPPORT_VOCABULARY} from './entrypoints.js'
export {
  enterArgv,
  exportArgv,
  gcArgv,
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
  Behaviour,
  Entrypoint,
  HostsMode,
  IpcMode,
  NetInfo,
  ParsedFlags,
  ReservedEntrypoint,
  ResolvMode,
  RunArgs,
} from './entrypoints.js'
export {readEnvFile, writeEnvFile} from './env-file.js'
export {formatIdRange, ID_RANGE_SIZE, idRangesOverlap, parseIdRange} from './id-range.js'
export type {IdRange} from './id-range.js'
export {PodPaths, STAGE2_DIR} from './paths.js'
export {collides, portMappings} from './ports.js'
export type {PortMapping} from './ports.js'
export {isResolvConfEmpty, makeResolvConf, RESOLV_CONF_COMMENT} from './resolv-conf.js'
export type {ResolvConf} from './resolv-conf.js'
export {loadRuntimeConfig, runtimeConfigOf, saveRuntimeConfig} from './runtime.js'
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
