// rkt's stage0 configuration: `<layer>/<kind>.d/*.json` in three layers,
// system < local < user, each file tagged {rktKind, rktVersion: "v1"}. A later layer overrides an
// earlier one field by field (paths, stage1) or per domain/registry (auth, dockerAuth); the same
// domain, registry or field twice within one layer is an error.
import fs from 'node:fs'
import path from 'node:path'

import {RktError} from '../errors.js'

export interface Credentials {
  readonly user?: string
  readonly password?: string
  readonly token?: string
  readonly accessKeyID?: string
  readonly secretAccessKey?: string
  readonly awsRegion?: string
}

/** One `auth` entry, for one domain (host[:port]) of https downloads. */
export interface AuthConfig {
  readonly domain: string
  readonly type: 'basic' | 'oauth' | 'aws'
  readonly credentials: Credentials
  readonly file: string
}

/** One `dockerAuth` entry, for one registry host. */
export interface DockerAuthConfig {
  readonly registry: string
  readonly credentials: Credentials
  readonly file: string
}

export interface PathsConfig {
  data?: string
  stage1Images?: string
}

export interface Stage1Config {
  name?: string
  version?: string
  location?: string
}

/** The merged configuration of all layers. */
export interface Stage0Config {
  readonly auth: ReadonlyMap<string, AuthConfig>
  readonly dockerAuth: ReadonlyMap<string, DockerAuthConfig>
  readonly paths: Readonly<PathsConfig>
  readonly stage1: Readonly<Stage1Config>
}

const KIND_DIRS = {auth: 'auth.d', dockerAuth: 'auth.d', paths: 'paths.d', stage1: 'stage1.d'} as const

function configError(file: string, what: string): RktError {
  return new RktError(`invalid configuration file ${file}: ${what}`, {
    code: 'ECONFIG',
    hint: 'fix or remove the file (see `rkt config` for what rkt reads)',
  })
}

function readJsonFiles(dir: string): {file: string; doc: Record<string, unknown>}[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw new RktError(`cannot read configuration directory ${dir}`, {cause: err, code: 'ECONFIG'})
  }
  const out: {file: string; doc: Record<string, unknown>}[] = []
  // Only *.json files directly in the directory count, in name order; anything else is ignored, as in rkt.
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name)
    if (!fs.statSync(file).isFile()) continue
    let doc: unknown
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch (err) {
      throw configError(file, `not valid JSON (${(err as Error).message})`)
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw configError(file, 'not a JSON object')
    out.push({file, doc: doc as Record<string, unknown>})
  }
  return out
}

function str(doc: Record<string, unknown>, key: string, file: string): string | undefined {
  const v = doc[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '') throw configError(file, `"${key}" must be a non-empty string`)
  return v
}

function strList(doc: Record<string, unknown>, key: string, file: string): string[] {
  const v = doc[key]
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s !== '')) {
    throw configError(file, `"${key}" must be a non-empty list of strings`)
  }
  return v as string[]
}

function credentials(doc: Record<string, unknown>, file: string, needed: readonly string[]): Credentials {
  const c = doc['credentials']
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw configError(file, '"credentials" must be an object')
  const rec = c as Record<string, unknown>
  for (const k of needed) if (typeof rec[k] !== 'string') throw configError(file, `"credentials.${k}" must be a string`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(rec)) if (typeof v === 'string') out[k] = v
  return out
}

/** Loads and merges the configuration of the given layers (system, local, user order). */
export function loadStage0Config(layers: readonly string[]): Stage0Config {
  const auth = new Map<string, AuthConfig>()
  const dockerAuth = new Map<string, DockerAuthConfig>()
  const paths: PathsConfig = {}
  const stage1: Stage1Config = {}
  for (const layer of layers) {
    const seen = new Set<string>()
    const once = (key: string, file: string): void => {
      if (seen.has(key)) throw configError(file, `${key} is already defined in this configuration directory`)
      seen.add(key)
    }
    for (const kindDir of new Set(Object.values(KIND_DIRS))) {
      for (const {file, doc} of readJsonFiles(path.join(layer, kindDir))) {
        const kind = doc['rktKind']
        if (doc['rktVersion'] !== 'v1') throw configError(file, '"rktVersion" must be "v1"')
        if (typeof kind !== 'string' || KIND_DIRS[kind as keyof typeof KIND_DIRS] !== kindDir) {
          throw configError(file, `"rktKind" ${JSON.stringify(kind)} does not belong in ${kindDir}`)
        }
        if (kind === 'auth') {
          const type = doc['type']
          if (type !== 'basic' && type !== 'oauth' && type !== 'aws') {
            throw configError(file, '"type" must be basic, oauth or aws')
          }
          const needed =
            type === 'basic' ? ['user', 'password'] : type === 'oauth' ? ['token'] : ['accessKeyID', 'secretAccessKey']
          const creds = credentials(doc, file, needed)
          for (const domain of strList(doc, 'domains', file)) {
            once(`auth domain ${domain}`, file)
            auth.set(domain, {domain, type, credentials: creds, file})
          }
        } else if (kind === 'dockerAuth') {
          const creds = credentials(doc, file, ['user', 'password'])
          for (const registry of strList(doc, 'registries', file)) {
            once(`dockerAuth registry ${registry}`, file)
            dockerAuth.set(registry, {registry, credentials: creds, file})
          }
        } else if (kind === 'paths') {
          const data = str(doc, 'data', file)
          const images = str(doc, 'stage1-images', file)
          if (data !== undefined) {
            once('paths data', file)
            paths.data = data
          }
          if (images !== undefined) {
            once('paths stage1-images', file)
            paths.stage1Images = images
          }
        } else {
          const name = str(doc, 'name', file)
          const version = str(doc, 'version', file)
          const location = str(doc, 'location', file)
          if ((name === undefined) !== (version === undefined)) {
            throw configError(file, '"name" and "version" must be given together')
          }
          if (name !== undefined && version !== undefined) {
            once('stage1 name', file)
            stage1.name = name
            stage1.version = version
          }
          if (location !== undefined) {
            once('stage1 location', file)
            stage1.location = location
          }
        }
      }
    }
  }
  return {auth, dockerAuth, paths, stage1}
}

const SECRET_KEYS = new Set(['password', 'token', 'secretAccessKey'])

function redact(c: Credentials): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(c)) if (typeof v === 'string') out[k] = SECRET_KEYS.has(k) ? '***' : v
  return out
}

/** `rkt config` output: rkt's {"stage0": [...]} shape, with secrets replaced by "***". */
export function renderStage0Config(cfg: Stage0Config): {stage0: Record<string, unknown>[]} {
  const stage0: Record<string, unknown>[] = []
  for (const a of cfg.auth.values()) {
    stage0.push({
      rktVersion: 'v1',
      rktKind: 'auth',
      domains: [a.domain],
      type: a.type,
      credentials: redact(a.credentials),
    })
  }
  for (const d of cfg.dockerAuth.values()) {
    stage0.push({rktVersion: 'v1', rktKind: 'dockerAuth', registries: [d.registry], credentials: redact(d.credentials)})
  }
  stage0.push({
    rktVersion: 'v1',
    rktKind: 'paths',
    ...(cfg.paths.data === undefined ? {} : {data: cfg.paths.data}),
    ...(cfg.paths.stage1Images === undefined ? {} : {'stage1-images': cfg.paths.stage1Images}),
  })
  stage0.push({rktVersion: 'v1', rktKind: 'stage1', ...cfg.stage1})
  return {stage0}
}
