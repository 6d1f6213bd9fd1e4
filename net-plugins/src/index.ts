// @rkt/net-plugins: contained networking for stage1 engines: --net parsing, network configurations (the
// user's net.d and the built-in default and default-restricted networks, shipped as net.d files in the stage1
// image), CNI plugin calls, the pod's network namespace, its set-up by the run entrypoint and its tear-down by
// gc. Everything it needs from stage0 crosses the stage1 contract (@rkt/core/stage1).
export {
  BUILTIN_NET_DIR,
  builtinNetFiles,
  CNI_VERSION,
  DEFAULT_NET,
  DEFAULT_RESTRICTED_NET,
  findPlugin,
  isPlainDefault,
  loadNetConfs,
  packageNetDir,
  parseNetConfFile,
  parseNetList,
  pluginSearchPath,
  selectNetworks,
} from './config.js'
export type {ActiveNet, NetConfList, NetMode, NetRequest, PluginConf} from './config.js'
export {cniAdd, cniDel, cniEnv, pluginErrorText, pluginStdin} from './cni.js'
export {createNetns, isNetnsMounted, removeNetns} from './netns.js'
export {prefixToMask, resultDns, resultIp} from './result.js'
export type {ResultIp} from './result.js'
export {forwardingNet, setupPodNetworks, teardownPodNetworks, withPortmap} from './pod.js'
export type {PodNetworks, SetupOptions} from './pod.js'
