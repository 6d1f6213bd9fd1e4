// Test support for the Docker module: layer tars, hand-made OCI layouts, and a scratch store.
import {execFileSync, spawn, type ChildProcessByStdio} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {Readable} from 'node:stream'
import zlib from 'node:zlib'

import type {Globals} from '../config/globals.js'
import type {EntrySpec} from '../aci/testing.js'

import {packTar} from '../aci/testing.js'
import {ImageStore} from '../store/image-store.js'

export function sha256(b: Buffer | string): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`
}

/** A layer: its tar, gzip blob and digests. */
export interface TestLayer {
  tar: Buffer
  blob: Buffer
  diffId: string
  digest: string
}

export async function makeLayer(entries: EntrySpec[], gzip = true): Promise<TestLayer> {
  const tar = await packTar(entries.map((e) => ({mtime: new Date(946684800000), ...e})))
  const blob = gzip ? zlib.gzipSync(tar, {level: 1}) : tar
  return {tar, blob, diffId: sha256(tar), digest: sha256(blob)}
}

/** Writes (or adds to) an OCI layout holding an image of these layers under a ref name. */
export function writeOciLayout(
  dir: string,
  ref: string,
  layers: TestLayer[],
  config: Record<string, unknown> = {},
): string {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), {recursive: true})
  const put = (b: Buffer): string => {
    const d = sha256(b)
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)), b)
    return d
  }
  for (const l of layers) put(l.blob)
  const cfg = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {Cmd: ['/bin/sh'], Env: ['PATH=/bin']},
      ...config,
      rootfs: {type: 'layers', diff_ids: layers.map((l) => l.diffId)},
    }),
  )
  const cfgDigest = put(cfg)
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: cfg.length},
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  )
  const mDigest = put(manifest)
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  const indexFile = path.join(dir, 'index.json')
  const index = fs.existsSync(indexFile)
    ? (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as {manifests: unknown[]})
    : {schemaVersion: 2, manifests: [] as unknown[]}
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: mDigest,
    size: manifest.length,
    annotations: {'org.opencontainers.image.ref.name': ref},
  })
  fs.writeFileSync(indexFile, JSON.stringify(index))
  return mDigest
}

export function tempDir(t: {after: (fn: () => void) => void}, prefix = 'rkt-docker-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  return dir
}

export function testGlobals(dir: string, insecure: string[] = ['image']): Globals {
  return {
    dir,
    localConfig: path.join(dir, 'etc'),
    systemConfig: path.join(dir, 'usr'),
    userConfig: '',
    debug: false,
    insecure: new Set(insecure) as Globals['insecure'],
    trustKeysFromHttps: false,
  }
}

export function testStore(dir: string): ImageStore {
  return ImageStore.open(path.join(dir, 'data'))
}

/**
 * Fails the calling test, naming them, when any of these programs is missing: these tests never skip (a
 * skipped check is not a pass), so a machine without them shows a failure, not a green run.
 */
export function requireTools(names: readonly string[]): void {
  const missing = missingTools(names)
  if (missing.length > 0) {
    throw new Error(`this test needs ${missing.join(', ')}, which is not installed (run scripts/setup)`)
  }
}

/** The programs of `names` that are not on PATH. */
export function missingTools(names: readonly string[]): string[] {
  return names.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], {stdio: 'ignore'})
      return false
    } catch {
      return true
    }
  })
}

/** Options of a test registry: TLS (PEM files), an `auth:` section (YAML lines under it), the access log. */
export interface TestRegistryOptions {
  readonly tls?: {certFile: string; keyFile: string}
  readonly auth?: readonly string[]
  /** Keep the Apache-style access log (one line per request, on the child's stdout) for the caller. */
  readonly accessLog?: boolean
}

/** A running docker-registry. */
export interface LaunchedRegistry {
  /** 127.0.0.1:PORT */
  readonly host: string
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>
}

/** Starts docker-registry (storage in `dir`) on a loopback port the kernel picks; resolves once it listens. */
export async function launchRegistry(dir: string, opts: TestRegistryOptions = {}): Promise<LaunchedRegistry> {
  fs.mkdirSync(dir, {recursive: true})
  const cfg = path.join(dir, 'registry.yml')
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    `    disabled: ${opts.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    '  secret: test',
    ...(opts.tls ? ['  tls:', `    certificate: ${opts.tls.certFile}`, `    key: ${opts.tls.keyFile}`] : []),
    ...(opts.auth ? ['auth:', ...opts.auth.map((l) => `  ${l}`)] : []),
    '',
  ]
  fs.writeFileSync(cfg, lines.join('\n'))
  const child = spawn('docker-registry', ['serve', cfg], {stdio: ['ignore', 'pipe', 'pipe']})
  if (!opts.accessLog) child.stdout.resume()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const host = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start: ${buf}`)), 10_000)
    child.stderr.on('data', (c: Buffer) => {
      buf += c.toString()
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(buf)
      if (m) {
        clearTimeout(timer)
        child.stderr.removeAllListeners('data').resume()
        resolve(m[1]!)
      }
    })
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`docker-registry exited (${code}): ${buf}`))
    })
  })
  return {
    host,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** launchRegistry for one test, stopped after it; returns its host:port. */
export async function startRegistry(
  dir: string,
  t: {after: (fn: () => void | Promise<void>) => void},
  opts: TestRegistryOptions = {},
): Promise<string> {
  const reg = await launchRegistry(dir, opts)
  t.after(() => reg.stop())
  return reg.host
}
