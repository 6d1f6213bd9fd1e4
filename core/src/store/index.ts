// The image store: blobs, index, rendered trees.
export {isCanonicalId, isStoreKey, looksLikeId, parseIdPrefix, shortId, storeKey} from './ids.js'
export {ImageStore, imageQuery} from './image-store.js'
export type {ImageQuery, StagedImage} from './image-store.js'
export {CorruptIndexError, INDEX_FORMAT, INDEX_VERSION, IndexFile} from './index-file.js'
export type {ImageRecord} from './index-file.js'
export {StoreLayout} from './layout.js'
export {IMAGE_LIST_FIELDS, IMAGE_LIST_HEADERS, IMAGE_SORT_FIELDS, imageListEntries, parseOptionList} from './list.js'
export type {ImageListEntry, ImageListField, ImageSortField} from './list.js'
export {
  checkRemovable,
  dependencyClosure,
  dependentsIndex,
  dependentsOf,
  gcImages,
  inspectBlob,
  rebuildIndex,
} from './maintenance.js'
export type {ImageGcOptions, RebuildReport} from './maintenance.js'
export {exportImage, extractImage, renderImage} from './output.js'
export {cleanStaleStaging, StagingFile} from './staging.js'
export {hashTree, TreeStore} from './tree-store.js'
export type {RenderedTree, RenderLayer, RenderPlan} from './tree-store.js'
