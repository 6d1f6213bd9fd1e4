// actool patch-manifest: copy an ACI with its manifest replaced or edited. Every other entry is copied
// byte for byte (headers, pax records, data), so nothing but the manifest can change; the new manifest is
// appended last, as actool build writes it.
import fs from 'node:fs'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import zlib from 'node:zlib'

import {decompressAci, encodeUstarHeader, limitsFromEnv, TarReader} from '../aci/index.js'
import {RktError, UsageError, wrap} from '../errors.js'
import {imageManifestToJson, parseImageManifest, serializeImageManifest} from '../schema/index.js'
import {tempPathFor} from '../sys/atomic.js'

/** The edits actool patch-manifest offers, in its flag syntax. */
export interface ManifestPatch {
  readonly manifestFile?: string | undefined
  readonly name?: string | undefined
  /** Command line, split on spaces as actool does. */
  readonly exec?: string | undefined
  readonly user?: string | undefined
  readonly group?: string | undefined
  /** "1,2,3" */
  readonly supplementaryGroups?: string | undefined
  /** Capability retain set "CAP_A,CAP_B". */
  readonly capability?: string | undefined
  /** Capability remove set "CAP_A,CAP_B". */
  readonly revokeCapability?: string | undefined
  /** "name,path=/opt,readOnly=true[:name2,…]" */
  readonly mounts?: string | undefined
  /** "name,protocol=tcp,port=8080[,count=1][,socketActivated=true][:…]" */
  readonly ports?: string | undefined
  /** "resource/cpu,request=50m,limit=100m[:os/linux/no-new-privileges,true…]" */
  readonly isolators?: string | undefined
  /** "remove|retain[,errno=EPERM]" */
  readonly seccompMode?: string | undefined
  /** "syscall,syscall,@group" */
  readonly seccompSet?: string | undefined
}

type Json = Record<string, unknown>

function keyValues(spec: string, what: string): {head: string; kv: Map<string, string>} {
  const [head, ...rest] = spec.split(',')
  if (!head) throw new UsageError(`--${what}: empty entry in "${spec}"`)
  const kv = new Map<string, string>()
  for (const part of rest) {
    const i = part.indexOf('=')
    if (i <= 0) throw new UsageError(`--${what}: "${part}" is not key=value (in "${spec}")`)
    const k = part.slice(0, i)
    if (kv.has(k)) throw new UsageError(`--${what}: "${k}" given twice (in "${spec}")`)
    kv.set(k, part.slice(i + 1))
  }
  return {head, kv}
}

function bool(v: string | undefined, what: string): boolean | undefined {
  if (v === undefined) return undefined
  if (v === 'true' || v === 'false') return v === 'true'
  throw new UsageError(`--${what}: "${v}" is not true or false`)
}

function int(v: string, what: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${what}: "${v}" is not an integer`)
  return Number(v)
}

/** Replaces the isolators with the given names by one new isolator. */
function replaceIsolators(app: Json, names: readonly string[], isolator: Json): void {
  const list = ((app['isolators'] as Json[] | undefined) ?? []).filter((i) => !names.includes(String(i['name'])))
  app['isolators'] = [...list, isolator]
}

/** Applies the edits to a manifest (as parsed JSON); the result is validated by the caller. */
export function applyPatch(manifest: Json, p: ManifestPatch): Json {
  const m: Json = structuredClone(manifest)
  if (p.name !== undefined) m['name'] = p.name
  let app = m['app'] as Json | undefined
  if (p.exec !== undefined) {
    app ??= m['app'] = {}
    app['exec'] = p.exec.split(' ')
  }
  const needsApp = [
    p.user,
    p.group,
    p.supplementaryGroups,
    p.capability,
    p.revokeCapability,
    p.mounts,
    p.ports,
    p.isolators,
  ]
  if (needsApp.some((v) => v !== undefined) && !app) {
    throw new UsageError('no app in the supplied manifest and no exec command provided', {hint: 'add --exec=COMMAND'})
  }
  if (!app) return m
  if (p.user !== undefined) app['user'] = p.user
  if (p.group !== undefined) app['group'] = p.group
  if (p.supplementaryGroups !== undefined) {
    app['supplementaryGIDs'] = p.supplementaryGroups.split(',').map((g) => int(g, 'supplementary-groups'))
  }
  if (p.capability !== undefined && p.revokeCapability !== undefined) {
    throw new UsageError('conflicting capabilities isolators provided', {
      hint: 'give either --capability or --revoke-capability',
    })
  }
  const caps = ['os/linux/capabilities-retain-set', 'os/linux/capabilities-remove-set']
  if (p.capability !== undefined) replaceIsolators(app, caps, {name: caps[0], value: {set: p.capability.split(',')}})
  if (p.revokeCapability !== undefined) {
    replaceIsolators(app, caps, {name: caps[1], value: {set: p.revokeCapability.split(',')}})
  }
  if (p.mounts !== undefined) {
    const mps = (app['mountPoints'] as Json[] | undefined) ?? []
    for (const spec of p.mounts.split(':')) {
      const {head, kv} = keyValues(spec, 'mounts')
      const ro = bool(kv.get('readOnly'), 'mounts')
      mps.push({name: head, ...(kv.has('path') ? {path: kv.get('path')} : {}), ...(ro ? {readOnly: true} : {})})
    }
    app['mountPoints'] = mps
  }
  if (p.ports !== undefined) {
    const ports = (app['ports'] as Json[] | undefined) ?? []
    for (const spec of p.ports.split(':')) {
      const {head, kv} = keyValues(spec, 'ports')
      const port = kv.get('port')
      if (port === undefined) throw new UsageError(`--ports: "${spec}" has no port=`)
      ports.push({
        name: head,
        ...(kv.has('protocol') ? {protocol: kv.get('protocol')} : {}),
        port: int(port, 'ports'),
        ...(kv.has('count') ? {count: int(kv.get('count')!, 'ports')} : {}),
        ...(kv.has('socketActivated') ? {socketActivated: bool(kv.get('socketActivated'), 'ports')} : {}),
      })
    }
    app['ports'] = ports
  }
  if (p.seccompSet !== undefined && p.seccompMode === undefined) {
    throw new UsageError('--seccomp-set specified without --seccomp-mode')
  }
  if (p.seccompMode !== undefined) {
    const {head: mode, kv} = keyValues(p.seccompMode, 'seccomp-mode')
    if (mode !== 'remove' && mode !== 'retain')
      throw new UsageError(`--seccomp-mode: "${mode}" is not remove or retain`)
    for (const k of kv.keys()) if (k !== 'errno') throw new UsageError(`--seccomp-mode: unknown option "${k}"`)
    const set = (p.seccompSet ?? '').split(',').filter((s) => s !== '')
    const names = ['os/linux/seccomp-remove-set', 'os/linux/seccomp-retain-set']
    replaceIsolators(app, names, {
      name: `os/linux/seccomp-${mode}-set`,
      value: {set, ...(kv.has('errno') ? {errno: kv.get('errno')} : {})},
    })
  }
  if (p.isolators !== undefined) {
    const list = (app['isolators'] as Json[] | undefined) ?? []
    for (const spec of p.isolators.split(':')) {
      const {head: name, kv} = keyValues(spec.replace(/^([^,]+),(true|false|-?\d+)$/, '$1,value=$2'), 'isolators')
      if (name.startsWith('os/linux/seccomp-')) {
        throw new UsageError(`isolator ${name} is not supported for patching`, {
          hint: 'use --seccomp-mode and --seccomp-set',
        })
      }
      // Scalar isolators (no-new-privileges, oom-score-adj, cpu-shares) take a bare JSON value.
      const scalar = kv.get('value')
      list.push({name, value: scalar !== undefined && kv.size === 1 ? JSON.parse(scalar) : Object.fromEntries(kv)})
    }
    app['isolators'] = list
  }
  return m
}

interface EntrySpan {
  readonly name: string
  readonly start: number
  readonly end: number
}

/** Finds where each entry's bytes are in an uncompressed tar (and where the entries end). */
function entrySpans(tar: string): {spans: EntrySpan[]; end: number} {
  const spans: EntrySpan[] = []
  let current: {name: string; start: number} | undefined
  const reader: TarReader = new TarReader(
    {
      onEntry: (e) => (current = {name: e.name, start: e.offset}),
      onData: () => {},
      onEntryEnd: () => {
        if (current) spans.push({...current, end: Math.ceil(reader.position / 512) * 512})
        current = undefined
      },
    },
    limitsFromEnv(),
  )
  const fd = fs.openSync(tar, 'r')
  const buf = Buffer.allocUnsafe(1 << 20)
  try {
    let n: number
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) reader.push(buf.subarray(0, n))
    reader.end()
  } finally {
    fs.closeSync(fd)
  }
  return {spans, end: spans.at(-1)?.end ?? 0}
}

const isManifest = (name: string): boolean => name.replace(/^\.\//, '') === 'manifest'

/** Copies `input` to `output` (or over `input` with replace) with its manifest patched. */
export async function patchAci(opts: {
  input: string
  output?: string | undefined
  replace: boolean
  overwrite: boolean
  compress: boolean
  patch: ManifestPatch
  onWarning?: (message: string) => void
}): Promise<void> {
  if (opts.replace === (opts.output !== undefined)) {
    throw new UsageError(opts.replace ? '--replace takes only the input file' : 'give an output file, or --replace', {
      hint: 'actool patch-manifest [flags] INPUT.aci OUTPUT.aci, or actool patch-manifest --replace [flags] INPUT.aci',
    })
  }
  const output = opts.output ?? opts.input
  if (!opts.replace && fs.existsSync(output) && !opts.overwrite) {
    throw new RktError(`output file ${output} already exists`, {code: 'EEXIST', hint: 'try --overwrite'})
  }
  const p = opts.patch
  const editFlags = Object.entries(p).filter(([k, v]) => k !== 'manifestFile' && v !== undefined)
  if (p.manifestFile !== undefined && editFlags.length > 0) {
    throw new UsageError('--manifest is incompatible with the other patch options')
  }
  const plain = tempPathFor(path.resolve(output))
  const out = `${plain}.out`
  try {
    // 1. The uncompressed input, checked like any image on its way in.
    const {stream} = await decompressAci(fs.createReadStream(opts.input, {highWaterMark: 1 << 20}), {
      limits: limitsFromEnv(),
    })
    await pipeline(stream, fs.createWriteStream(plain))
    const {spans, end} = entrySpans(plain)
    const manifests = spans.filter((s) => isManifest(s.name))
    if (manifests.length !== 1) throw new RktError(`${opts.input} has ${manifests.length} manifests`, {code: 'EBADACI'})
    const old = manifests[0]!

    // 2. The new manifest, validated.
    let text: Buffer
    if (p.manifestFile !== undefined) {
      text = fs.readFileSync(p.manifestFile)
    } else {
      const fd = fs.openSync(plain, 'r')
      const raw = Buffer.alloc(old.end - old.start)
      fs.readSync(fd, raw, 0, raw.length, old.start)
      fs.closeSync(fd)
      const oldText = extractManifestBytes(raw)
      const {manifest} = parseImageManifest(oldText)
      text = Buffer.from(JSON.stringify(applyPatch(imageManifestToJson(manifest), p)))
    }
    const parsed = parseImageManifest(text)
    for (const w of parsed.warnings) opts.onWarning?.(w.message)
    const newManifest = Buffer.from(serializeImageManifest(parsed.manifest))

    // 3. Every other entry byte for byte, then the manifest, then the end marker.
    const w = fs.openSync(out, 'w', 0o644)
    try {
      const r = fs.openSync(plain, 'r')
      try {
        copyRange(r, w, 0, old.start)
        copyRange(r, w, old.end, end)
      } finally {
        fs.closeSync(r)
      }
      const header = encodeUstarHeader({
        name: 'manifest',
        typeflag: '0',
        mode: 0o644,
        size: newManifest.length,
        mtime: Math.floor(Date.now() / 1000),
      })
      fs.writeSync(w, header)
      fs.writeSync(w, newManifest)
      fs.writeSync(w, Buffer.alloc(((512 - (newManifest.length % 512)) % 512) + 1024))
    } finally {
      fs.closeSync(w)
    }
    if (opts.compress) {
      await pipeline(fs.createReadStream(out), zlib.createGzip(), fs.createWriteStream(plain))
      fs.renameSync(plain, output)
    } else {
      fs.renameSync(out, output)
    }
  } catch (err) {
    throw wrap(`cannot patch ${opts.input}`, err)
  } finally {
    fs.rmSync(plain, {force: true})
    fs.rmSync(out, {force: true})
  }
}

function copyRange(from: number, to: number, start: number, end: number): void {
  const buf = Buffer.allocUnsafe(1 << 20)
  let pos = start
  while (pos < end) {
    const n = fs.readSync(from, buf, 0, Math.min(buf.length, end - pos), pos)
    if (n <= 0) throw new RktError('unexpected end of the input image', {code: 'EBADACI'})
    fs.writeSync(to, buf, 0, n)
    pos += n
  }
}

/** The data of the single entry in `raw` (the manifest's header blocks and data, as found in the archive). */
function extractManifestBytes(raw: Buffer): Buffer {
  let data: Buffer[] = []
  const reader = new TarReader({
    onEntry: () => (data = []),
    onData: (c) => data.push(Buffer.from(c)),
    onEntryEnd: () => {},
  })
  reader.push(Buffer.concat([raw, Buffer.alloc(1024)]))
  reader.end()
  return Buffer.concat(data)
}
