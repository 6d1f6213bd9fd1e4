// The host ids a `--private-users` pod's ids are shifted to (docs/stage1.md "run"): chosen by stage0 at
// prepare time, recorded in the pod directory (`private-users-prepared`) and given to the run entrypoint as
// `--private-users=FIRST:COUNT`, rkt's form. Uids and gids are shifted alike: pod id N is host id FIRST+N.
import {UsageError} from '../errors.js'

/** Pod ids 0..count-1 are host ids first..first+count-1. */
export interface IdRange {
  readonly first: number
  readonly count: number
}

/** How many ids a pod gets: every 16-bit id, as rkt and systemd-nspawn give a container. */
export const ID_RANGE_SIZE = 65536

export function formatIdRange(r: IdRange): string {
  return `${r.first}:${r.count}`
}

/** Reads `FIRST:COUNT`: a range of at least one id that does not start at host root and fits in 32 bits. */
export function parseIdRange(s: string): IdRange {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(s.trim())
  const first = Number(m?.[1])
  const count = Number(m?.[2])
  if (!m || first < 1 || count < 1 || first + count > 2 ** 32 - 1) {
    throw new UsageError(`invalid uid range "${s}": FIRST:COUNT, FIRST ≥ 1, ending below 2^32 - 1 expected`)
  }
  return {first, count}
}

/** Whether two ranges share an id. */
export function idRangesOverlap(a: IdRange, b: IdRange): boolean {
  return a.first < b.first + b.count && b.first < a.first + a.count
}
