// End-to-end test harness: each test gets a fresh data directory and fresh config directories under
// /tmp/rkt-test-*, and drives the built CLIs (bin/rkt, bin/actool) as a user would.
import {skippingAllowed} from '@rkt/core/testing'
import {unmountTree} from '@rkt/core/sys/mounts'
import {execa} from 'execa'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {fileURLToPath} from 'node:url'

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const RKT = path.join(ROOT, 'bin', 'rkt')
export const ACTOOL = path.join(ROOT, 'bin', 'actool')

/** What a CLI run produced. */
export interface Run {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Fails a test whose prerequisite tool is missing. Skipping is allowed only outside CI and only when asked
 * for (RKT_TEST_ALLOW_SKIP=1): a skipped check must never pass as a passing one.
 */
export async function requireTool(t: TestContext, tool: string): Promise<boolean> {
  const found = await execa('sh', ['-c', `command -v ${tool}`], {reject: false})
  if (found.exitCode === 0) return true
  if (skippingAllowed()) {
    t.skip(`${tool} is not installed`)
    return false
  }
  throw new Error(`${tool} is required by this test and is not installed (run scripts/setup)`)
}

/** A throwaway rkt installation: data dir, config dirs, a work dir. */
export class Sandbox {
  readonly dir: string
  readonly data: string
  readonly localConfig: string
  readonly systemConfig: string
  readonly work: string

  private constructor(root: string) {
    this.dir = root
    this.data = path.join(root, 'data')
    this.localConfig = path.join(root, 'etc')
    this.systemConfig = path.join(root, 'lib')
    this.work = path.join(root, 'work')
    for (const d of [this.localConfig, this.systemConfig, this.work]) fs.mkdirSync(d, {recursive: true})
  }

  /**
   * Creates a sandbox, removed after the test (unless RKT_TEST_KEEP=1). Pods leave mounts in it (the host's
   * /dev, /proc and /sys among them): they are detached first, and the deletion never crosses into another
   * filesystem, so a mount that survived can never make it delete host files.
   */
  static create(t: TestContext): Sandbox {
    const s = new Sandbox(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-')))
    t.after(() => {
      if (process.env['RKT_TEST_KEEP'] === '1') return
      const left = unmountTree(s.dir)
      if (left.length > 0) throw new Error(`cannot unmount ${left.map((m) => m.mountPoint).join(', ')}; ${s.dir} kept`)
      execFileSync('rm', ['-rf', '--one-file-system', s.dir])
    })
    return s
  }

  /**
   * Makes one of the build's stage1 images this sandbox's default (a stage1.d configuration in its local
   * config): for suites that check one engine's behaviour, whatever the build's default is.
   */
  selectStage1(engine: 'fly' | 'nspawn' | 'kvm' | 'bwrap'): void {
    const aci = path.join(ROOT, 'core', 'dist', 'stage1-images', `stage1-${engine}.aci`)
    const m = JSON.parse(execFileSync(ACTOOL, ['cat-manifest', aci], {encoding: 'utf8'})) as {
      name: string
      labels: {name: string; value: string}[]
    }
    const version = m.labels.find((l) => l.name === 'version')?.value
    const conf = {rktKind: 'stage1', rktVersion: 'v1', name: m.name, version, location: aci}
    fs.mkdirSync(path.join(this.localConfig, 'stage1.d'), {recursive: true})
    fs.writeFileSync(path.join(this.localConfig, 'stage1.d', `${engine}.json`), JSON.stringify(conf))
  }

  /** The global flags that point rkt at this sandbox. */
  get globals(): string[] {
    return [`--dir=${this.data}`, `--local-config=${this.localConfig}`, `--system-config=${this.systemConfig}`]
  }

  /** Starts rkt with this sandbox's globals (for tests that signal or race it). */
  spawnRkt(args: readonly string[], opts: {env?: Record<string, string>} = {}) {
    return execa(RKT, [...this.globals, ...args], {reject: false, cwd: this.work, env: {...opts.env}, stdin: 'ignore'})
  }

  /** Runs rkt to completion. */
  async rkt(args: readonly string[], opts: {env?: Record<string, string>; input?: string} = {}): Promise<Run> {
    const r = await execa(RKT, [...this.globals, ...args], {
      reject: false,
      cwd: this.work,
      env: {...opts.env},
      ...(opts.input === undefined ? {stdin: 'ignore' as const} : {input: opts.input}),
    })
    return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
  }

  /** Runs actool to completion. */
  async actool(args: readonly string[]): Promise<Run> {
    const r = await execa(ACTOOL, args, {reject: false, cwd: this.work, stdin: 'ignore'})
    return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
  }

  /** `rkt image list --format=json`, parsed. */
  async images(): Promise<{id: string; name: string; size: number}[]> {
    const r = await this.rkt(['image', 'list', '--format=json'])
    if (r.exitCode !== 0) throw new Error(`image list failed: ${r.stderr}`)
    return JSON.parse(r.stdout) as {id: string; name: string; size: number}[]
  }

  /** Every file under the store's blob and staging directories (for "nothing was left behind" checks). */
  storeFiles(): string[] {
    const out: string[] = []
    const walk = (d: string): void => {
      if (!fs.existsSync(d)) return
      for (const e of fs.readdirSync(d, {withFileTypes: true})) {
        const p = path.join(d, e.name)
        if (e.isDirectory()) walk(p)
        else out.push(path.relative(this.data, p))
      }
    }
    walk(path.join(this.data, 'cas', 'blob'))
    walk(path.join(this.data, 'cas', 'tmp'))
    return out
  }
}

/** Busybox-static: the userland of every test image. */
export const BUSYBOX = '/bin/busybox'

export interface LayoutSpec {
  readonly name: string
  readonly version?: string
  readonly exec?: readonly string[]
  readonly labels?: Readonly<Record<string, string>>
  readonly dependencies?: readonly {
    imageName: string
    imageID?: string
    labels?: readonly {name: string; value: string}[]
  }[]
  readonly pathWhitelist?: readonly string[]
  /** The image's annotations: name → value. */
  readonly annotations?: Readonly<Record<string, string>>
  /** Extra files: rootfs path → content. */
  readonly files?: Readonly<Record<string, string | Buffer>>
  /** Executables copied in: rootfs path → host file (e.g. a test program, see util/native.ts). */
  readonly programs?: Readonly<Record<string, string>>
  /** Leave busybox out (dependency images bring it). */
  readonly noBusybox?: boolean
}

/** Writes an image layout (manifest + rootfs/) with busybox-static as /bin/busybox and /bin/sh. */
export function makeLayout(dir: string, spec: LayoutSpec): string {
  const rootfs = path.join(dir, 'rootfs')
  fs.mkdirSync(path.join(rootfs, 'bin'), {recursive: true})
  if (!spec.noBusybox) {
    fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'))
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755)
    fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'))
  }
  for (const [p, content] of Object.entries(spec.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(rootfs, p)), {recursive: true})
    fs.writeFileSync(path.join(rootfs, p), content)
  }
  for (const [p, from] of Object.entries(spec.programs ?? {})) {
    fs.mkdirSync(path.dirname(path.join(rootfs, p)), {recursive: true})
    fs.copyFileSync(from, path.join(rootfs, p))
    fs.chmodSync(path.join(rootfs, p), 0o755)
  }
  const labels = [
    ...(spec.version ? [{name: 'version', value: spec.version}] : []),
    {name: 'os', value: 'linux'},
    {name: 'arch', value: 'amd64'},
    ...Object.entries(spec.labels ?? {}).map(([name, value]) => ({name, value})),
  ]
  const manifest = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: spec.name,
    labels,
    app: {exec: spec.exec ?? ['/bin/sh', '-c', 'echo hello'], user: '0', group: '0'},
    ...(spec.dependencies ? {dependencies: spec.dependencies} : {}),
    ...(spec.pathWhitelist ? {pathWhitelist: spec.pathWhitelist} : {}),
    ...(spec.annotations
      ? {annotations: Object.entries(spec.annotations).map(([name, value]) => ({name, value}))}
      : {}),
  }
  fs.writeFileSync(path.join(dir, 'manifest'), JSON.stringify(manifest, null, 2))
  return dir
}
