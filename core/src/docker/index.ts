// Docker and OCI images: references, registries, archives and layouts, converted into ACIs, one per layer.
export {fetchDockerImage} from './import.js'
export type {DockerFetchOptions} from './import.js'
export {DEFAULT_REGISTRY, DEFAULT_TAG, isDockerSource, parseDockerSource, parseRegistryReference} from './reference.js'
export type {DockerSourceRef} from './reference.js'
export {RegistryClient, openRegistryImage, parseChallenge} from './registry.js'
export {openDockerArchive} from './archive.js'
export {openOciLayout} from './oci-layout.js'
export {convertLayer} from './layer.js'
export type {ConvertLayerOptions, ConvertedLayer, LinkGroup, LowerState} from './layer.js'
export {
  LAYER_NAME_PREFIX,
  appOf,
  dockerImageName,
  registryImageName,
  imageManifest,
  layerImageName,
  sanitizeACIdentifier,
  sanitizeACName,
} from './convert.js'
export {chainIds} from './source.js'
export type {ImageConfig, ImageSource, SourceLayer} from './source.js'
