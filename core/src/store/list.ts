// The rows of `rkt image list` (rkt/image_list.go): fields, sorting and the JSON entry shape.
import type {ImageRecord} from './index-file.js'

import {UsageError} from '../errors.js'

/** Fields `--fields` accepts, in rkt's default order. */
export const IMAGE_LIST_FIELDS = ['id', 'name', 'size', 'importtime', 'lastused'] as const
export type ImageListField = (typeof IMAGE_LIST_FIELDS)[number]

/** Fields `--sort` accepts. */
export const IMAGE_SORT_FIELDS = ['name', 'importtime', 'lastused', 'size'] as const
export type ImageSortField = (typeof IMAGE_SORT_FIELDS)[number]

/** Table headers, as rkt prints them. */
export const IMAGE_LIST_HEADERS: Record<ImageListField, string> = {
  id: 'ID',
  name: 'NAME',
  size: 'SIZE',
  importtime: 'IMPORT TIME',
  lastused: 'LAST USED',
}

/** One row: rkt's v1.ImageListEntry before formatting. */
export interface ImageListEntry {
  /** The store key (`sha512-` + 64 hex), as rkt reports it. */
  readonly id: string
  /** Name, with `:version` when the image has a version label. */
  readonly name: string
  readonly importTime: number
  readonly lastUsed: number
  /** Image, rendered tree and engine cache bytes. */
  readonly size: number
}

/** Parses a comma-separated option list against the permitted values. */
export function parseOptionList<T extends string>(flag: string, value: string, permitted: readonly T[]): T[] {
  const out: T[] = []
  for (const raw of value.split(',')) {
    const v = raw.trim().toLowerCase().replace(/\s+/g, '')
    if (v === '') continue
    if (!(permitted as readonly string[]).includes(v)) {
      throw new UsageError(`--${flag}: unknown value "${raw}"`, {hint: `accepted values: ${permitted.join(', ')}`})
    }
    out.push(v as T)
  }
  return out
}

/** The entries of `rkt image list`, sorted by the given fields. */
export function imageListEntries(
  records: readonly ImageRecord[],
  sort: readonly ImageSortField[],
  asc: boolean,
  engineCacheBytes: (key: string) => number = () => 0,
): ImageListEntry[] {
  const entries = records.map((r) => {
    const version = r.labels.find((l) => l.name === 'version')?.value
    return {
      id: r.key,
      name: version === undefined ? r.name : `${r.name}:${version}`,
      importTime: r.importTime,
      lastUsed: r.lastUsed,
      size: r.size + r.treeStoreSize + engineCacheBytes(r.key),
    }
  })
  const key = (e: ImageListEntry, f: ImageSortField): string | number =>
    f === 'name' ? e.name : f === 'importtime' ? e.importTime : f === 'lastused' ? e.lastUsed : e.size
  return entries.sort((a, b) => {
    for (const f of sort) {
      const x = key(a, f)
      const y = key(b, f)
      if (x !== y) return (x < y ? -1 : 1) * (asc ? 1 : -1)
    }
    return 0
  })
}
