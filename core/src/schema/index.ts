// Public API of the appc schema module: parse, validate and serialize image and pod manifests.

export {formatAppString, parseAppString} from './app-string.js'
export type {AppReference, ParsedAppString} from './app-string.js'
export type {App, EnvironmentVariable, EventHandler, MountPoint, Port} from './app.js'
export {MAX_JSON_DEPTH, MAX_MANIFEST_SIZE} from './decode.js'
export {imageManifestToJson, parseImageManifest, serializeImageManifest} from './image-manifest.js'
export type {Dependency, ImageManifest, ParsedImageManifest} from './image-manifest.js'
export {
  DEFAULT_CAPABILITIES,
  ISOLATOR_RULES,
  effectiveCapabilities,
  getIsolator,
  isIsolator,
  isKnownIsolatorName,
  isolatorValueToJson,
} from './isolators.js'
export type {
  AnyIsolator,
  AppArmorProfile,
  CapabilitySet,
  Isolator,
  IsolatorRule,
  IsolatorValues,
  KnownIsolatorName,
  OpaqueIsolator,
  ResourceDefaultLimit,
  ResourceRequestLimit,
  SELinuxContext,
  SeccompSet,
} from './isolators.js'
export {parseManifest} from './manifest.js'
export type {ParsedManifest} from './manifest.js'
export {parsePodManifest, podManifestToJson, serializePodManifest} from './pod-manifest.js'
export type {
  EmptyVolume,
  ExposedPort,
  HostVolume,
  Mount,
  ParsedPodManifest,
  PodManifest,
  RuntimeApp,
  RuntimeImage,
  Volume,
} from './pod-manifest.js'
export {
  MAX_QUANTITY_LENGTH,
  MAX_QUANTITY_VALUE,
  formatMilliQuantity,
  formatQuantity,
  parseQuantity,
} from './quantity.js'
export type {Quantity} from './quantity.js'
export {SCHEMA_ERROR_CODE, SchemaError} from './schema-error.js'
export type {ParseOptions, SchemaWarning} from './schema-error.js'
export {
  AC_IDENTIFIER_PATTERN,
  AC_NAME_PATTERN,
  APPC_SPEC_VERSION,
  IMAGE_ID_ALGORITHM,
  VALID_OS_ARCH,
  appcArch,
  compareSemVer,
  isACIdentifier,
  isACName,
  isCanonicalImageId,
  isHttpUrl,
  isTimestamp,
  parseSemVer,
  parseTimestamp,
  validateACIdentifier,
  validateACName,
} from './types.js'
export type {ACKind, Annotation, Label, SemVer} from './types.js'
