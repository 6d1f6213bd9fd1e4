// Fixtures for the docker:// tests and the docker bench, all from Debian packages and offline: a real Debian
// `docker-registry` on a free loopback port with its access log captured, OCI images built with umoci from
// busybox-static with fixed mtimes and creation times (the same digests every build), hostile images whose
// layers are written by hand (umoci would never make them), and skopeo to push them to the registry or to
// export them as a docker-archive tar or an OCI layout directory.
import {encodeUstarHeader} from '@rkt/core/aci/index'
import {launchRegistry} from '@rkt/core/docker/testing'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type {TestContext} from 'node:test'
import zlib from 'node:zlib'

import {BUSYBOX, requireTool} from './harness.js'

/** The programs these fixtures drive. */
export const REGISTRY_TOOLS = ['docker-registry', 'skopeo', 'umoci'] as const

/** Fixed time of every file and history entry of the built images (digests stay stable). */
const EPOCH = '2000-01-01T00:00:00Z'

/** Environment for skopeo: never read or write the real user's registry credentials. */
const skopeoEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  REGISTRY_AUTH_FILE: path.join(os.tmpdir(), 'rkt-test-skopeo-auth.json'),
})

function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env})
  } catch (err) {
    const e = err as {status?: number; stderr?: string}
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.status}): ${e.stderr ?? String(err)}`, {cause: err})
  }
}

// ---------------------------------------------------------------------------------------------------------
// The registry

/** A running `docker-registry serve`. */
export interface Registry {
  /** `127.0.0.1:PORT`, as a docker:// reference spells the registry. */
  readonly host: string
  /** Its temporary directory (config and storage). */
  readonly dir: string
  /** The access log so far: one Apache combined-format line per completed request (the registry's stdout). */
  accessLog(): string
  /**
   * How many times a blob was fully downloaded (GET answered 200; HEADs and 206 ranges not counted).
   * `repo` '*' counts the blob under any repository. Call `settle()` first: lines are logged after responses.
   */
  blobGets(repo: string, digest: string): number
  /** Waits until every request answered so far is in the access log (a marker request, then its line). */
  settle(): Promise<void>
  /** SIGTERM, and wait for the exit. Idempotent. */
  stop(): Promise<void>
}

const live = new Set<() => void>()
process.on('exit', () => {
  for (const kill of live) kill()
})

/**
 * Starts a registry (plain http, no auth, filesystem storage in `dir`, or in a new temporary directory) on
 * 127.0.0.1 and a port the kernel picks, and returns once `GET /v2/` answers. For the bench; tests use
 * startRegistry. The caller stops it (a process exit kills it too).
 */
export async function spawnRegistry(opts: {dir?: string} = {}): Promise<Registry> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-registry-'))
  const reg = await launchRegistry(dir, {accessLog: true})
  const kill = (): void => {
    if (reg.child.exitCode === null && reg.child.signalCode === null) reg.child.kill('SIGKILL')
  }
  live.add(kill)
  const out: string[] = []
  reg.child.stdout.setEncoding('utf8').on('data', (d: string) => out.push(d))
  const host = reg.host
  const get = (p: string): Promise<number> =>
    new Promise((resolve) => {
      http
        .get(`http://${host}${p}`, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        .on('error', () => resolve(0))
    })
  for (let i = 0; (await get('/v2/')) !== 200; i++) {
    if (i > 200) throw new Error(`docker-registry on ${host} does not answer GET /v2/`)
    await new Promise((r) => setTimeout(r, 10))
  }
  const log = (): string => out.join('')
  let stopped: Promise<void> | undefined
  return {
    host,
    dir,
    accessLog: log,
    blobGets(repo, digest) {
      const r = repo === '*' ? '[^ ]+' : repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      const re = new RegExp(`"GET /v2/${r}/blobs/${digest.replace(':', '\\:')} HTTP/[0-9.]+" 200 `)
      return log()
        .split('\n')
        .filter((l) => re.test(l)).length
    },
    async settle() {
      const marker = `/v2/?settle=${crypto.randomUUID()}`
      await get(marker)
      for (let i = 0; !log().includes(marker); i++) {
        if (i > 500) throw new Error(`the registry never logged ${marker}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    stop() {
      stopped ??= (async () => {
        await reg.stop()
        live.delete(kill)
      })()
      return stopped
    },
  }
}

/** requireTool for docker-registry, skopeo and umoci: false when the test was skipped. */
export async function requireRegistryTools(t: TestContext): Promise<boolean> {
  for (const tool of REGISTRY_TOOLS) if (!(await requireTool(t, tool))) return false
  return true
}

/**
 * A registry for one test: fails the test (requireTool) when docker-registry, skopeo or umoci is missing,
 * and is stopped and its directory removed after the test. Undefined when the test was skipped.
 */
export async function startRegistry(t: TestContext): Promise<Registry | undefined> {
  if (!(await requireRegistryTools(t))) return undefined
  const reg = await spawnRegistry()
  t.after(async () => {
    await reg.stop()
    if (process.env['RKT_TEST_KEEP'] !== '1') fs.rmSync(reg.dir, {recursive: true, force: true})
  })
  return reg
}

// ---------------------------------------------------------------------------------------------------------
// Pushing and exporting (skopeo)

/** `DIR:TAG` of an OCI layout as skopeo's `oci:` transport takes it. */
export type LayoutRef = `${string}:${string}`

/**
 * Pushes an image of an OCI layout (`DIR:TAG`) to `docker://HOST/REF` (REF is `repo:tag`). `format`
 * 'v2s2' converts the manifest to Docker schema2 (same blobs); 'oci' (the default) keeps the OCI manifest.
 * Returns the docker:// URL.
 */
export function push(
  layout: LayoutRef,
  ref: string,
  registryHost: string,
  opts: {format?: 'v2s2' | 'oci'} = {},
): string {
  const url = `docker://${registryHost}/${ref}`
  run(
    'skopeo',
    [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      ...(opts.format ? ['--format', opts.format] : []),
      `oci:${layout}`,
      url,
    ],
    skopeoEnv(),
  )
  return url
}

/**
 * Exports an image of an OCI layout to a docker-archive tar (`docker save` format: uncompressed layers,
 * manifest.json; `tag` is the RepoTags entry, e.g. `app:latest`). Returns the file.
 */
export function exportDockerArchive(layout: LayoutRef, file: string, tag = 'app:latest'): string {
  fs.rmSync(file, {force: true})
  run('skopeo', ['copy', '--quiet', `oci:${layout}`, `docker-archive:${file}:${tag}`], skopeoEnv())
  return file
}

/** Copies an image of an OCI layout into an OCI layout directory of its own, under `tag`. Returns the dir. */
export function exportOciLayout(layout: LayoutRef, dir: string, tag = 'app'): string {
  run('skopeo', ['copy', '--quiet', `oci:${layout}`, `oci:${dir}:${tag}`], skopeoEnv())
  return dir
}

// ---------------------------------------------------------------------------------------------------------
// Images built with umoci

/** What buildImages made: the layout, its tags, and the digests a test asserts on. */
export interface TestImages {
  /** The OCI layout directory. */
  readonly layout: string
  /**
   * `base`: busybox (/bin/busybox and applet symlinks), /etc/motd ("base v1"), /etc/removeme; cmd /bin/sh.
   * `app`: base + /etc/app.txt ("hello from app layer"), /srv, /data/seed.txt, a whiteout of /etc/removeme;
   * cmd /bin/cat /etc/app.txt, env FOO=bar (and PATH=/bin), workdir /srv, user 1000:1000, port 8080/tcp,
   * volume /data.
   * `other`: base + /etc/other.txt ("hello from other layer"); cmd /bin/cat /etc/other.txt.
   */
  readonly refs: {readonly base: LayoutRef; readonly app: LayoutRef; readonly other: LayoutRef}
  /** Compressed (blob) digests of the layers, `sha256:…`. */
  readonly layers: {readonly base: string; readonly app: string; readonly other: string}
}

export const APP_TEXT = 'hello from app layer'
export const OTHER_TEXT = 'hello from other layer'
export const MOTD_TEXT = 'base v1'
export const SEED_TEXT = 'seeded by the image'

/** The manifest of a tag of an OCI layout. */
export function layoutManifest(layout: string, tag: string): {config: {digest: string}; layers: {digest: string}[]} {
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: {digest: string; annotations?: Record<string, string>}[]
  }
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)
  if (!desc) throw new Error(`no tag ${tag} in ${layout}`)
  return JSON.parse(fs.readFileSync(blobPath(layout, desc.digest), 'utf8')) as {
    config: {digest: string}
    layers: {digest: string}[]
  }
}

function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':')
  return path.join(layout, 'blobs', alg!, hex!)
}

/** Sets every mtime under `dir` (symlinks themselves too) to EPOCH. */
function touchAll(dir: string): void {
  run('find', [dir, '-exec', 'touch', '-h', '-d', EPOCH, '{}', '+'])
}

const umoci = (...args: string[]): string => run('umoci', args)

/** The busybox base: /bin/busybox plus applet links, /etc/motd, /etc/removeme, /tmp. */
function busyboxRootfs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'tmp']) fs.mkdirSync(path.join(rootfs, d), {recursive: true})
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'))
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755)
  for (const a of ['sh', 'ls', 'cat', 'echo', 'true', 'false', 'sleep', 'env', 'test', 'id', 'pwd', 'mkdir'])
    fs.symlinkSync('busybox', path.join(rootfs, 'bin', a))
  fs.writeFileSync(path.join(rootfs, 'etc', 'motd'), `${MOTD_TEXT}\n`)
  fs.writeFileSync(path.join(rootfs, 'etc', 'removeme'), 'to be deleted\n')
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777)
}

/**
 * Builds `base` in a new layout with umoci: `fill(rootfs)` writes its files, then fixed mtimes, repack and
 * config (linux/amd64, PATH=/bin, cmd /bin/sh).
 */
function newBase(layout: string, tag: string, fill: (rootfs: string) => void): void {
  umoci('init', '--layout', layout)
  umoci('new', '--image', `${layout}:${tag}`)
  const bundle = `${layout}.${tag}.bundle`
  fs.rmSync(bundle, {recursive: true, force: true})
  umoci('unpack', '--image', `${layout}:${tag}`, bundle)
  fill(path.join(bundle, 'rootfs'))
  touchAll(path.join(bundle, 'rootfs'))
  umoci('repack', '--history.created', EPOCH, '--image', `${layout}:${tag}`, bundle)
  umoci(
    'config',
    '--created',
    EPOCH,
    '--history.created',
    EPOCH,
    '--image',
    `${layout}:${tag}`,
    '--config.cmd',
    '/bin/sh',
    '--config.env',
    'PATH=/bin',
    '--os',
    'linux',
    '--architecture',
    'amd64',
  )
  fs.rmSync(bundle, {recursive: true, force: true})
}

/** Builds `tag` on top of `from`: `change(rootfs)` edits the unpacked tree, then repack and `config` flags. */
function layerOn(layout: string, from: string, tag: string, change: (rootfs: string) => void, config: string[]): void {
  const bundle = `${layout}.${tag}.bundle`
  fs.rmSync(bundle, {recursive: true, force: true})
  umoci('unpack', '--image', `${layout}:${from}`, bundle)
  change(path.join(bundle, 'rootfs'))
  touchAll(path.join(bundle, 'rootfs'))
  umoci('repack', '--history.created', EPOCH, '--image', `${layout}:${tag}`, bundle)
  umoci('config', '--created', EPOCH, '--history.created', EPOCH, '--image', `${layout}:${tag}`, ...config)
  fs.rmSync(bundle, {recursive: true, force: true})
}

/** The last layer's digest of a tag. */
const topLayer = (layout: string, tag: string): string => layoutManifest(layout, tag).layers.at(-1)!.digest

/**
 * Builds the test images (see TestImages) in `dir/oci` with umoci (about 0.3 s; the same digests every time
 * with the same busybox-static). Needs root (umoci unpack keeps ownership).
 */
export function buildImages(dir: string): TestImages {
  const layout = path.join(dir, 'oci')
  fs.rmSync(layout, {recursive: true, force: true})
  fs.mkdirSync(dir, {recursive: true})
  newBase(layout, 'base', busyboxRootfs)
  layerOn(
    layout,
    'base',
    'app',
    (r) => {
      fs.writeFileSync(path.join(r, 'etc', 'app.txt'), `${APP_TEXT}\n`)
      fs.rmSync(path.join(r, 'etc', 'removeme'))
      fs.mkdirSync(path.join(r, 'srv'))
      fs.mkdirSync(path.join(r, 'data'))
      fs.writeFileSync(path.join(r, 'data', 'seed.txt'), `${SEED_TEXT}\n`)
    },
    [
      ...['--config.cmd', '/bin/cat', '--config.cmd', '/etc/app.txt'],
      ...['--config.env', 'FOO=bar', '--config.workingdir', '/srv', '--config.user', '1000:1000'],
      ...['--config.exposedports', '8080/tcp', '--config.volume', '/data'],
    ],
  )
  layerOn(layout, 'base', 'other', (r) => fs.writeFileSync(path.join(r, 'etc', 'other.txt'), `${OTHER_TEXT}\n`), [
    '--config.cmd',
    '/bin/cat',
    '--config.cmd',
    '/etc/other.txt',
  ])
  umoci('gc', '--layout', layout)
  return {
    layout,
    refs: {base: `${layout}:base`, app: `${layout}:app`, other: `${layout}:other`},
    layers: {base: topLayer(layout, 'base'), app: topLayer(layout, 'app'), other: topLayer(layout, 'other')},
  }
}

let shared: {dir: string; images: TestImages} | undefined

/** buildImages once per test process, in a temporary directory removed at exit. */
export function sharedImages(): TestImages {
  if (!shared) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-oci-'))
    process.on('exit', () => fs.rmSync(dir, {recursive: true, force: true}))
    shared = {dir, images: buildImages(dir)}
  }
  return shared.images
}

// ---------------------------------------------------------------------------------------------------------
// Hand-made layers (hostile images)

/** One entry of a hand-written layer tar, written exactly as given (no checks, no normalisation). */
export interface RawEntry {
  readonly name: string
  /** '0' file (the default), '2' symlink, '5' directory, … */
  readonly type?: string
  readonly data?: string | Buffer
  readonly mode?: number
  readonly linkname?: string
}

/** A ustar layer tar of `entries`, in order, ending with the two zero blocks. */
export function rawLayerTar(entries: readonly RawEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const type = e.type ?? '0'
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data)
    parts.push(
      encodeUstarHeader({
        name: e.name,
        typeflag: type,
        size: data.length,
        mode: e.mode ?? (type === '5' ? 0o755 : 0o644),
        mtime: Date.parse(EPOCH) / 1000,
        ...(e.linkname ? {linkname: e.linkname} : {}),
      }),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
    )
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

const sha256 = (b: Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`

/**
 * Writes an OCI layout at `dir` (created, or added to) with one image tagged `tag` whose layers are the
 * given uncompressed tars (gzip-compressed here), with an OCI config (linux/amd64, cmd, PATH=/bin). Digests
 * are computed here; nothing checks the layers' content. Returns `DIR:TAG`.
 */
export function rawImage(dir: string, tag: string, layers: readonly Buffer[], cmd = ['/bin/sh']): LayoutRef {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), {recursive: true})
  const put = (b: Buffer): {digest: string; size: number} => {
    const digest = sha256(b)
    fs.writeFileSync(blobPath(dir, digest), b)
    return {digest, size: b.length}
  }
  const layerDescs = layers.map((tar) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    ...put(zlib.gzipSync(tar)),
  }))
  const config = {
    created: EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: {Env: ['PATH=/bin'], Cmd: cmd},
    rootfs: {type: 'layers', diff_ids: layers.map(sha256)},
    history: layers.map(() => ({created: EPOCH, created_by: 'rkt test fixture'})),
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...put(Buffer.from(JSON.stringify(config)))},
    layers: layerDescs,
  }
  const m = put(Buffer.from(JSON.stringify(manifest)))
  const indexFile = path.join(dir, 'index.json')
  const index = fs.existsSync(indexFile)
    ? (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as {schemaVersion: number; manifests: object[]})
    : {schemaVersion: 2, manifests: []}
  index.manifests = index.manifests.filter(
    (d) => (d as {annotations?: Record<string, string>}).annotations?.['org.opencontainers.image.ref.name'] !== tag,
  )
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...m,
    annotations: {'org.opencontainers.image.ref.name': tag},
  })
  fs.writeFileSync(indexFile, JSON.stringify(index))
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}))
  return `${dir}:${tag}`
}

/** A harmless first layer for hostile images: /etc/motd, /bin/busybox and /bin/sh. */
export function plainLayerTar(): Buffer {
  return rawLayerTar([
    {name: 'bin/', type: '5'},
    {name: 'bin/busybox', data: fs.readFileSync(BUSYBOX), mode: 0o755},
    {name: 'bin/sh', type: '2', linkname: 'busybox'},
    {name: 'etc/', type: '5'},
    {name: 'etc/motd', data: `${MOTD_TEXT}\n`},
  ])
}

/**
 * The hostile images of the docker tests: a harmless first layer, then a layer with one bad entry; `entry`
 * is what a refusal must name. A whiteout `.wh.NAME` deletes NAME: `.wh..` names `.` (the directory
 * itself), `.wh...` names `..` (its parent).
 */
export const HOSTILE = {
  /** An entry `../escape`: outside the rootfs. */
  dotdot: {entry: '../escape', layers: () => [plainLayerTar(), rawLayerTar([{name: '../escape', data: 'pwned\n'}])]},
  /** `etc/.wh..`: a whiteout of `etc/.`, the directory itself. */
  whiteoutDot: {entry: 'etc/.wh..', layers: () => [plainLayerTar(), rawLayerTar([{name: 'etc/.wh..'}])]},
  /** `etc/.wh...`: a whiteout of `etc/..`, the rootfs. */
  whiteoutParent: {entry: 'etc/.wh...', layers: () => [plainLayerTar(), rawLayerTar([{name: 'etc/.wh...'}])]},
  /** `.wh..` at the top: a whiteout of the rootfs itself. */
  whiteoutRoot: {entry: '.wh..', layers: () => [plainLayerTar(), rawLayerTar([{name: '.wh..'}])]},
  /** `.wh...` at the top: a whiteout of `..`, the rootfs's parent. */
  whiteoutAbove: {entry: '.wh...', layers: () => [plainLayerTar(), rawLayerTar([{name: '.wh...'}])]},
} as const

/** Writes the hostile image `kind` into the OCI layout `dir` under the tag `kind`. Returns `DIR:TAG`. */
export function hostileImage(dir: string, kind: keyof typeof HOSTILE): LayoutRef {
  return rawImage(dir, kind, HOSTILE[kind].layers())
}

// ---------------------------------------------------------------------------------------------------------
// The bench's ~100 MiB images

const MiB = 1024 * 1024

/**
 * Copies regular files and symlinks from the host trees `from`, in sorted order, into `rootfs` until
 * `budget` bytes are taken from each (real shared libraries and /usr/share data: compresses about 2-3×).
 */
function copyHostFiles(rootfs: string, from: readonly string[], budget: number): number {
  let total = 0
  for (const top of from) {
    let taken = 0
    const walk = (dir: string): void => {
      let entries: fs.Dirent[]
      try {
        entries = fs.readdirSync(dir, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))
      } catch {
        return
      }
      for (const e of entries) {
        if (taken >= budget) return
        const src = path.join(dir, e.name)
        const dst = path.join(rootfs, src)
        if (e.isDirectory()) {
          walk(src)
        } else if (e.isSymbolicLink()) {
          fs.mkdirSync(path.dirname(dst), {recursive: true})
          fs.symlinkSync(fs.readlinkSync(src), dst)
        } else if (e.isFile()) {
          const st = fs.statSync(src)
          if (st.size > 16 * MiB) continue
          fs.mkdirSync(path.dirname(dst), {recursive: true})
          fs.copyFileSync(src, dst)
          fs.chmodSync(dst, st.mode & 0o7777)
          taken += st.size
        }
      }
    }
    walk(top)
    total += taken
  }
  return total
}

/** The bench's images: the layout and its tags. */
export interface BigImages {
  readonly layout: string
  /** `big`: busybox + ~95 MiB of host files in one layer; `big2`: big + a small layer. */
  readonly refs: {readonly big: LayoutRef; readonly big2: LayoutRef}
  /** Bytes of file content in the base layer. */
  readonly contentBytes: number
}

/**
 * Builds (once: reused when `dir/oci` is complete) the bench's ~100 MiB image and a second image sharing
 * its base layer, with umoci and fixed mtimes (stable digests on one machine; the content comes from the
 * host's /usr/lib/x86_64-linux-gnu and /usr/share).
 */
export function buildBigImages(dir: string): BigImages {
  const layout = path.join(dir, 'oci')
  const done = path.join(dir, 'done.json')
  const refs = {big: `${layout}:big`, big2: `${layout}:big2`} as const
  if (fs.existsSync(done)) {
    const {contentBytes} = JSON.parse(fs.readFileSync(done, 'utf8')) as {contentBytes: number}
    return {layout, refs, contentBytes}
  }
  fs.rmSync(layout, {recursive: true, force: true})
  fs.mkdirSync(dir, {recursive: true})
  let contentBytes = 0
  newBase(layout, 'big', (r) => {
    busyboxRootfs(r)
    contentBytes = copyHostFiles(r, ['/usr/lib/x86_64-linux-gnu', '/usr/share'], (95 * MiB) / 2)
  })
  layerOn(
    layout,
    'big',
    'big2',
    (r) => {
      fs.mkdirSync(path.join(r, 'srv'))
      fs.writeFileSync(path.join(r, 'srv', 'index.html'), '<p>hello from the second image</p>\n')
      fs.writeFileSync(path.join(r, 'srv', 'blob.bin'), crypto.createHash('sha512').update('big2').digest())
    },
    ['--config.cmd', '/bin/cat', '--config.cmd', '/srv/index.html'],
  )
  umoci('gc', '--layout', layout)
  fs.writeFileSync(done, JSON.stringify({contentBytes}))
  return {layout, refs, contentBytes}
}
