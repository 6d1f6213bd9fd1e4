// Pod names (`rkt run|prepare --name=NAME`; `rkt app sandbox` takes the same flag): a second handle on a pod,
// usable wherever a UUID is (PodStore.find resolves both). A name is unique among the pods of one data directory,
// for as long as its pod exists, and can never be read as a UUID or a UUID prefix, so every argument means one
// thing: a word of hex digits and dashes is a UUID prefix, anything else a name.
import fs from 'node:fs'

import type {Pod, PodStore} from './pods.js'

import {RktError, UsageError} from '../errors.js'
import {writeFileAtomic} from '../sys/atomic.js'
import {FileLock} from '../sys/lock.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const UUID_PREFIX = /^[0-9a-fA-F-]{1,36}$/

/** True for a word `rkt` reads as a pod UUID or UUID prefix (hex digits and dashes). */
export function isUuidPrefixForm(arg: string): boolean {
  return UUID_PREFIX.test(arg.trim())
}

/** Checks a `--name` value; returns it. */
export function parsePodName(name: string): string {
  if (!NAME.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)} is not a valid pod name`, {
      hint: 'use 1 to 63 letters, digits, ".", "_" and "-", starting with a letter or digit',
    })
  }
  if (isUuidPrefixForm(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)} could be read as a pod UUID prefix`, {
      hint: 'a pod name needs a character other than hex digits and "-" (e.g. a letter after f)',
    })
  }
  return name
}

/** The pod's name, if it has one. */
export function podNameOf(pod: Pod): string | undefined {
  try {
    return fs.readFileSync(pod.paths.podName, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * Gives a pod (locked by its creator, not yet prepared) its name, refusing a name another pod of the data
 * directory has. Under a lock on the data directory's names, so two prepares of one name have one winner.
 */
export function claimPodName(pods: PodStore, pod: Pod, name: string): void {
  parsePodName(name)
  const lock = FileLock.onFile(pods.namesLock, {exclusive: true, wait: true})
  try {
    const holder = pods.list().find((p) => p.uuid !== pod.uuid && podNameOf(p) === name)
    if (holder) {
      throw new RktError(`the pod name ${JSON.stringify(name)} is taken by pod ${holder.uuid}`, {
        code: 'ENAMETAKEN',
        hint: `choose another name, or remove that pod first: rkt rm ${holder.uuid}`,
      })
    }
    writeFileAtomic(pod.paths.podName, name, 0o644)
  } finally {
    lock.release()
  }
}
