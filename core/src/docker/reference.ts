// What a Docker image argument names: `docker://[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]` (or `docker:`), a
// `docker save` archive (`docker-archive:FILE[:REF]`) or an OCI image layout (`oci:DIR[:REF]`). Names follow
// Docker's rules (distribution/reference): the first component is a registry only when it looks like a host
// (a dot, a port or `localhost`); Docker Hub names of one component live under `library/`.
import {UsageError} from '../errors.js'

/** Docker Hub's registry host, as Docker and docker2aci call it. */
export const DEFAULT_REGISTRY = 'registry-1.docker.io'
/** The tag used when a reference names neither a tag nor a digest. */
export const DEFAULT_TAG = 'latest'

export type DockerSourceRef =
  | {
      readonly kind: 'registry'
      readonly registry: string
      readonly repository: string
      readonly tag?: string
      readonly digest?: string
    }
  | {readonly kind: 'archive'; readonly file: string; readonly ref?: string}
  | {readonly kind: 'oci'; readonly dir: string; readonly ref?: string}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^sha256:[0-9a-f]{64}$/
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', DEFAULT_REGISTRY])

function bad(arg: string, problem: string, hint: string): UsageError {
  return new UsageError(`invalid Docker image reference ${JSON.stringify(arg)}: ${problem}`, {hint})
}

/** True when an argument names a Docker or OCI source this module reads. */
export function isDockerSource(arg: string): boolean {
  return /^(docker:|docker-archive:|oci:)/.test(arg)
}

/** Splits `PATH[:REF]` at the first colon (skopeo's rule: refs such as `app:1` keep their own colon). */
function splitPathRef(arg: string, rest: string, what: string): {path: string; ref?: string} {
  const i = rest.indexOf(':')
  const p = i < 0 ? rest : rest.slice(0, i)
  const ref = i < 0 ? undefined : rest.slice(i + 1)
  if (p === '') throw bad(arg, `no ${what} given`, `write ${arg.slice(0, arg.indexOf(':') + 1)}/path/to/${what}[:REF]`)
  if (ref === '') throw bad(arg, 'empty reference after the colon', 'leave out the colon, or name the image after it')
  return ref === undefined ? {path: p} : {path: p, ref}
}

/** Parses a Docker/OCI source argument; throws UsageError naming the problem and the fix. */
export function parseDockerSource(arg: string): DockerSourceRef {
  if (arg.startsWith('docker-archive:')) {
    const {path, ref} = splitPathRef(arg, arg.slice('docker-archive:'.length), 'file')
    return ref === undefined ? {kind: 'archive', file: path} : {kind: 'archive', file: path, ref}
  }
  if (arg.startsWith('oci:')) {
    const {path, ref} = splitPathRef(arg, arg.slice('oci:'.length), 'directory')
    return ref === undefined ? {kind: 'oci', dir: path} : {kind: 'oci', dir: path, ref}
  }
  let rest: string
  if (arg.startsWith('docker://')) rest = arg.slice('docker://'.length)
  else if (arg.startsWith('docker:')) rest = arg.slice('docker:'.length)
  else throw bad(arg, 'not a docker:, docker-archive: or oci: argument', 'write docker://NAME[:TAG]')
  return parseRegistryReference(rest, arg)
}

/** Parses `[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]` (the part after `docker://`). */
export function parseRegistryReference(rest: string, arg = rest): DockerSourceRef & {kind: 'registry'} {
  const example = 'write docker://[REGISTRY[:PORT]/]NAME[:TAG|@sha256:DIGEST], e.g. docker://busybox:1.36'
  if (rest === '') throw bad(arg, 'no image name', example)
  let name = rest
  let digest: string | undefined
  const at = name.indexOf('@')
  if (at >= 0) {
    digest = name.slice(at + 1)
    name = name.slice(0, at)
    if (!DIGEST.test(digest)) {
      throw bad(arg, `digest ${JSON.stringify(digest)} is not sha256: and 64 lowercase hex digits`, example)
    }
  }
  let tag: string | undefined
  const colon = name.lastIndexOf(':')
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1)
    name = name.slice(0, colon)
    if (!TAG.test(tag))
      throw bad(
        arg,
        `tag ${JSON.stringify(tag)} is not valid`,
        'tags are up to 128 of [A-Za-z0-9_.-], not starting with . or -',
      )
  }
  let registry = DEFAULT_REGISTRY
  const slash = name.indexOf('/')
  if (slash > 0) {
    const first = name.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!HOST.test(first)) throw bad(arg, `registry ${JSON.stringify(first)} is not a host[:port]`, example)
      registry = HUB_ALIASES.has(first) ? DEFAULT_REGISTRY : first
      name = name.slice(slash + 1)
    }
  }
  if (name === '') throw bad(arg, 'no repository name', example)
  for (const c of name.split('/')) {
    if (!COMPONENT.test(c)) {
      throw bad(
        arg,
        `repository component ${JSON.stringify(c)} is not valid`,
        'repository names are lowercase letters and digits, separated by single ".", "_", "__" or "-" and by "/"',
      )
    }
  }
  if (registry === DEFAULT_REGISTRY && !name.includes('/')) name = `library/${name}`
  if (name.length > 255) throw bad(arg, 'repository name longer than 255 characters', example)
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG
  return {
    kind: 'registry',
    registry,
    repository: name,
    ...(tag === undefined ? {} : {tag}),
    ...(digest === undefined ? {} : {digest}),
  }
}
