// Building a stage1 image from an engine package: the package declares its image in `image.mjs` beside its
// code (what it is, its entrypoints, the helpers to copy, what it supports), and buildStage1Image turns that
// into `stage1-<name>.aci`. The repository's build and a scaffolded engine's build both call it, so every
// engine's image has the same layout (docs/stage1.md, "Adding a stage1 package").
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import * as esbuild from 'esbuild'

import {buildAci} from '../aci/build.js'
import {RktError} from '../errors.js'
import {ANNOTATION, ENTRYPOINT_ANNOTATIONS, SUPPORT_VOCABULARY, type Behaviour} from '../contract/entrypoints.js'
import {getDistDir} from '../sys/dist.js'

/** What `image.mjs` exports as its default. */
export interface Stage1ImageDeclaration {
  /** The engine's name: the image is `rkt-ts/stage1-<name>`, its file `stage1-<name>.aci`. */
  readonly name: string
  /** The contract version the entrypoints speak (docs/stage1.md). */
  readonly interfaceVersion: number
  /** Each is bundled from `src/<entrypoint>.ts` into `/<entrypoint>.cjs`; `run` is required. */
  readonly entrypoints: readonly string[]
  /** `[from, to]`: the file `from` (relative to the package, or absolute) copied to `to` in the rootfs, 0755. */
  readonly helpers: readonly (readonly [string, string])[]
  /** Extra empty directories of the rootfs. */
  readonly dirs?: readonly string[]
  /** Files of the rootfs by path, with their text. */
  readonly files?: Readonly<Record<string, string>>
  /** The installation's default stage1. */
  readonly default?: boolean
  /** The behaviours the engine claims (the support vocabulary), written as the ANNOTATION.supports annotation. */
  readonly supports: readonly Behaviour[]
}

export interface BuiltStage1Image {
  readonly declaration: Stage1ImageDeclaration
  /** The image's name (`rkt-ts/stage1-<name>`) and version label (the package's version + a content hash). */
  readonly name: string
  readonly version: string
  /** The file name in outDir. */
  readonly file: string
}

// For image declarations: `supports: [...SUPPORT_VOCABULARY.required, 'limits']`.
export {SUPPORT_VOCABULARY}

/** The entrypoints the contract names: run, enter, gc, stop, export, attach and app/add|start|stop|rm. */
const ENTRYPOINT_NAMES = Object.keys(ENTRYPOINT_ANNOTATIONS)
const BEHAVIOURS: readonly string[] = [...SUPPORT_VOCABULARY.required, ...SUPPORT_VOCABULARY.optional]
/** Directories every stage1 rootfs has: the SDK's addon, the pod's status and env records, stage2's mount. */
const BASE_DIRS = ['native', 'rkt/status', 'rkt/env', 'etc', 'opt/stage2']

/** Reads and checks `<pkgDir>/image.mjs`. */
export async function loadImageDeclaration(pkgDir: string): Promise<Stage1ImageDeclaration> {
  const file = path.join(pkgDir, 'image.mjs')
  if (!fs.existsSync(file)) {
    throw new RktError(`${file} does not exist: ${pkgDir} declares no stage1 image`, {
      hint: 'an engine package declares its image in image.mjs (see docs/stage1.md, "Adding a stage1 package")',
    })
  }
  const mod = (await import(pathToFileURL(file).href)) as {default?: unknown}
  return checkDeclaration(mod.default, file)
}

function checkDeclaration(d: unknown, file: string): Stage1ImageDeclaration {
  const bad = (what: string): never => {
    throw new RktError(`${file}: ${what}`, {
      hint: 'image.mjs exports default {name, interfaceVersion, entrypoints, helpers, dirs?, files?, default?, supports}',
    })
  }
  if (typeof d !== 'object' || d === null) return bad('no default export of the image declaration')
  const o = d as Record<string, unknown>
  if (typeof o['name'] !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(o['name']))
    bad('name must be lower-case letters, digits and dashes (the image is rkt-ts/stage1-<name>)')
  if (!Number.isInteger(o['interfaceVersion']) || (o['interfaceVersion'] as number) < 1)
    bad('interfaceVersion must be a positive integer')
  const entrypoints = o['entrypoints']
  if (!Array.isArray(entrypoints) || !entrypoints.includes('run')) bad('entrypoints must list at least "run"')
  for (const e of entrypoints as unknown[])
    if (!ENTRYPOINT_NAMES.includes(e as string))
      bad(`unknown entrypoint ${JSON.stringify(e)} (the contract has ${ENTRYPOINT_NAMES.join(', ')})`)
  const helpers = o['helpers']
  if (
    !Array.isArray(helpers) ||
    !helpers.every((h) => Array.isArray(h) && h.length === 2 && h.every((s) => typeof s === 'string'))
  )
    bad('helpers must be a list of [from, to] file pairs')
  const inRootfs = [
    ...(helpers as string[][]).map((h) => h[1]),
    ...((o['dirs'] as string[] | undefined) ?? []),
    ...Object.keys((o['files'] as object | undefined) ?? {}),
  ]
  for (const p of inRootfs)
    if (typeof p !== 'string' || path.isAbsolute(p) || path.normalize(p).startsWith('..'))
      bad(`${JSON.stringify(p)} is not a relative path inside the rootfs`)
  const supports = o['supports']
  if (!Array.isArray(supports)) return bad('supports must list the behaviours the engine claims')
  for (const s of supports as unknown[])
    if (!BEHAVIOURS.includes(s as string))
      bad(`unknown behaviour ${JSON.stringify(s)} in supports (the vocabulary has ${BEHAVIOURS.join(', ')})`)
  return d as Stage1ImageDeclaration
}

/**
 * Builds `<outDir>/stage1-<name>.aci` from the engine package in pkgDir: each entrypoint bundled into a single
 * CommonJS file (no node_modules at run time), the helpers, files and directories its declaration lists, and
 * the SDK's rktsys.node. The layout is left in `<pkgDir>/dist/aci`. The version label carries a hash of the
 * contents, so a rebuilt stage1 is never mistaken for the one already in a store.
 */
export async function buildStage1Image(opts: {pkgDir: string; outDir: string}): Promise<BuiltStage1Image> {
  const pkgDir = path.resolve(opts.pkgDir)
  const d = await loadImageDeclaration(pkgDir)
  const layout = path.join(pkgDir, 'dist', 'aci')
  const rootfs = path.join(layout, 'rootfs')
  fs.rmSync(layout, {recursive: true, force: true})
  for (const dir of [...BASE_DIRS, ...(d.dirs ?? [])]) fs.mkdirSync(path.join(rootfs, dir), {recursive: true})
  for (const e of d.entrypoints)
    await bundleEntrypoint(path.join(pkgDir, 'src', `${e}.ts`), path.join(rootfs, `${e}.cjs`))
  fs.copyFileSync(path.join(getDistDir(), 'native', 'rktsys.node'), path.join(rootfs, 'native', 'rktsys.node'))
  for (const [file, text] of Object.entries(d.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(rootfs, file)), {recursive: true})
    fs.writeFileSync(path.join(rootfs, file), text)
  }
  for (const [from, to] of d.helpers) {
    fs.mkdirSync(path.dirname(path.join(rootfs, to)), {recursive: true})
    fs.copyFileSync(path.resolve(pkgDir, from), path.join(rootfs, to))
    fs.chmodSync(path.join(rootfs, to), 0o755)
  }

  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {version?: string}
  const name = `rkt-ts/stage1-${d.name}`
  const version = `${pkg.version ?? '0.0.0'}+${treeHash(rootfs)}`
  const manifest = Buffer.from(
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name,
      labels: [
        {name: 'version', value: version},
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
      annotations: [
        ...d.entrypoints.map((e) => ({name: ENTRYPOINT_ANNOTATIONS[e]!, value: `/${e}.cjs`})),
        {name: ANNOTATION.interfaceVersion, value: String(d.interfaceVersion)},
        {name: ANNOTATION.supports, value: d.supports.join(',')},
      ],
    }),
  )
  fs.writeFileSync(path.join(layout, 'manifest'), manifest)
  const file = `stage1-${d.name}.aci`
  fs.mkdirSync(opts.outDir, {recursive: true})
  await buildAci({
    layoutDir: layout,
    outFile: path.join(opts.outDir, file),
    manifest,
    compression: 'none',
    overwrite: true,
    ownerRoot: true,
  })
  return {declaration: d, name, version, file}
}

async function bundleEntrypoint(source: string, outfile: string): Promise<void> {
  await esbuild.build({
    entryPoints: [source],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // An engine package outside the repository (rkt stage1 new NAME DIR) finds the SDK in the repository's.
    nodePaths: [path.resolve(getDistDir(), '..', '..', 'node_modules')],
    banner: {js: "#!/usr/bin/env node\nvar __bundle_url = require('node:url').pathToFileURL(__filename).href;"},
    define: {'import.meta.url': '__bundle_url'},
    // Executed directly, the bundle runs its entrypoint; loaded by stage0 in-process, stage0 calls main.
    footer: {
      js: 'if (require.main === module) module.exports.main(process.argv.slice(2)).then((c) => { process.exitCode = c })',
    },
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
  })
  fs.chmodSync(outfile, 0o755)
}

/** 12 hex digits of a SHA-256 over the tree's file names and contents, in sorted order. */
function treeHash(dir: string): string {
  const hash = crypto.createHash('sha256')
  for (const f of fs.readdirSync(dir, {recursive: true, encoding: 'utf8'}).sort()) {
    const p = path.join(dir, f)
    if (fs.statSync(p).isFile()) hash.update(f).update('\0').update(fs.readFileSync(p))
  }
  return hash.digest('hex').slice(0, 12)
}
