// `rkt fetch`: each image argument, in order, into the store.
import type {Globals} from '../config/globals.js'
import type {ImageRecord} from '../store/index-file.js'
import type {FetchTimings} from './file.js'

import {RktError, wrap} from '../errors.js'
import {ImageStore, imageQuery} from '../store/image-store.js'
import {fetchFile} from './file.js'
import {classifyImage} from './source.js'

export {fetchFile} from './file.js'
export type {FetchResult, FetchTimings, FileFetchOptions} from './file.js'
export {classifyImage, defaultSignaturePath} from './source.js'
export type {ImageSource} from './source.js'

/** rkt's pull policies (reference/rkt.md §5). */
export type PullPolicy = 'new' | 'update' | 'never'

export interface FetchRequest {
  readonly image: string
  readonly signature?: string | undefined
}

export interface FetchImagesOptions {
  readonly globals: Globals
  readonly pullPolicy: PullPolicy
  readonly onProgress?: ((image: string, done: number, total: number) => void) | undefined
  readonly onWarning?: ((message: string) => void) | undefined
  readonly onInfo?: ((message: string) => void) | undefined
  readonly timings?: FetchTimings | undefined
}

/** Fetches images one after the other, returning their records in the same order. */
export async function fetchImages(requests: readonly FetchRequest[], opts: FetchImagesOptions): Promise<ImageRecord[]> {
  const store = ImageStore.open(opts.globals.dir)
  const out: ImageRecord[] = []
  for (const req of requests) {
    const src = classifyImage(req.image)
    try {
      switch (src.kind) {
        case 'id':
          // An ID can only name an image already in the store, whatever the pull policy.
          out.push(store.resolve(src.arg))
          break
        case 'file': {
          if (src.guessed) opts.onInfo?.(`using ${src.path} as a local image file (it exists in the current directory)`)
          const r = await fetchFile(store, src.path, {
            globals: opts.globals,
            signature: req.signature,
            onProgress: opts.onProgress && ((d, t) => opts.onProgress?.(src.arg, d, t)),
            onWarning: opts.onWarning,
            onInfo: opts.onInfo,
            timings: opts.timings,
          })
          out.push(r.record)
          break
        }
        case 'name': {
          const found = opts.pullPolicy === 'update' ? [] : store.findByName(imageQuery(src.arg))
          if (found[0]) {
            out.push(found[0])
            break
          }
          if (opts.pullPolicy === 'never') {
            throw new RktError(`image ${src.arg} is not in the store and --pull-policy=never forbids fetching it`, {
              code: 'ENOIMAGE',
            })
          }
          throw new RktError(
            `cannot fetch ${src.arg}: fetching by name needs appc discovery, which is not implemented yet`,
            {
              code: 'EUNSUPPORTED',
              hint: 'fetch the image from a file (rkt fetch ./image.aci), or use --pull-policy=new to take it from the store',
            },
          )
        }
        case 'url':
        case 'docker':
          throw new RktError(`cannot fetch ${src.arg}: remote images are not implemented yet`, {
            code: 'EUNSUPPORTED',
            hint: 'download the image and its .asc signature, then fetch the files',
          })
      }
    } catch (err) {
      throw wrap(`cannot fetch image ${req.image}`, err)
    }
  }
  return out
}
