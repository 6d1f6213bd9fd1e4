// Contained networking for stage1 engines (rkt's model; see stage1-nspawn/README.md "Networking"): --net parsing,
// network configurations, CNI plugin calls, the pod's network namespace and its teardown. Engines reach it through the
// stage1 SDK.
export {
  CNI_VERSION,
  DEFAULT_NET,
  DEFAULT_RESTRICTED_NET,
  findPlugin,
  loadNetConfs,
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
export {forwardingNet, portMappings, setupPodNetworks, teardownPodNetworks, withPortmap} from './pod.js'
export type {PodNetworks, PortMapping, SetupOptions} from './pod.js'
