// @rkt/core: the stage0 library behind the rkt and actool CLIs. Subpaths (`@rkt/core/store/index`, …) are
// exported too; stage1 packages will import only the stage1 SDK, which comes with the pods issue.
export * from './errors.js'
export * as aci from './aci/index.js'
export * as fetch from './fetch/index.js'
export * as schema from './schema/index.js'
export * as store from './store/index.js'
export * as trust from './trust/index.js'
export {APPC_VERSION, RKT_VERSION} from './version.js'
