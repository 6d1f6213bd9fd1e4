// What an image argument means, in rkt's order: an ID, a path or file:// URL,
// an http(s) URL or a Docker/OCI source, else an appc name. rkt also took any existing file of that name for a path
// (docs/security.md SEC-44); we do too, but say so under --debug, since `./name` or `file://` makes it explicit.
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {UsageError} from '../errors.js'

export type ImageSource =
  | {readonly kind: 'id'; readonly arg: string}
  | {readonly kind: 'file'; readonly arg: string; readonly path: string; readonly guessed?: boolean}
  | {readonly kind: 'url'; readonly arg: string; readonly url: URL}
  | {readonly kind: 'docker'; readonly arg: string}
  | {readonly kind: 'name'; readonly arg: string}

/** How a caller may insist an argument be read, whatever it looks like (--stage1-hash and --stage1-name do). */
export type ImageKind = 'id' | 'name'

/** Classifies one image argument, or takes it `as` the kind the caller says. */
export function classifyImage(arg: string, cwd = process.cwd(), as?: ImageKind): ImageSource {
  if (arg === '') throw new UsageError('empty image argument')
  if (as !== undefined) return {kind: as, arg}
  if (arg.startsWith('sha512-')) return {kind: 'id', arg}
  if (arg.startsWith('file://')) {
    let p: string
    try {
      p = fileURLToPath(arg)
    } catch (err) {
      throw new UsageError(`invalid file URL ${arg}`, {cause: err, hint: 'use file:///absolute/path/image.aci'})
    }
    return {kind: 'file', arg, path: p}
  }
  if (/^https?:\/\//.test(arg)) return {kind: 'url', arg, url: new URL(arg)}
  // Docker and OCI images, named as skopeo names its transports: a registry, a `docker save` archive, a layout.
  if (/^(docker|docker-archive|oci):/.test(arg)) return {kind: 'docker', arg}
  if (path.isAbsolute(arg) || arg.startsWith('./') || arg.startsWith('../') || arg.endsWith('.aci')) {
    return {kind: 'file', arg, path: path.resolve(cwd, arg)}
  }
  if (fs.existsSync(path.resolve(cwd, arg))) return {kind: 'file', arg, path: path.resolve(cwd, arg), guessed: true}
  return {kind: 'name', arg}
}

/** The signature rkt looks for beside a local image: `x.aci` → `x.aci.asc`. */
export function defaultSignaturePath(imagePath: string): string {
  return `${imagePath.endsWith('.aci') ? imagePath.slice(0, -4) : imagePath}.aci.asc`
}
