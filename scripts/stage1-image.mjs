#!/usr/bin/env node
// Building an engine package's stage1 image: its entrypoints (src/<entrypoint>.ts) bundled by esbuild into
// single CommonJS files (no node_modules at run time), the SDK's native addon, the helpers it lists and the
// files it declares, packed into stage1-<name>.aci. The version label carries a hash of the contents, so a
// rebuilt stage1 is never mistaken for the one already in a store. scripts/build.mjs builds every engine with
// it; an engine made by `rkt stage1 new` builds itself with it (its `npm run build`):
//
//   node scripts/stage1-image.mjs PACKAGE_DIR [OUT_DIR]    (OUT_DIR defaults to PACKAGE_DIR)
//
// which first compiles the package's native/*.c helpers (buildNativeHelpers) and reads its image.mjs.
import {Buffer} from 'node:buffer'
import crypto from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {$, fs, path} from 'zx'
import * as esbuild from 'esbuild'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'core', 'dist')

/** Compiles each native/X.c of an engine package into dist/X, static: such helpers run inside the pod, on the app's root (no libc of ours there). */
export async function buildNativeHelpers(pkgDir) {
  const cflags = ['-O2', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-static']
  const sources = (await fs.readdir(path.join(pkgDir, 'native')).catch(() => [])).filter((f) => f.endsWith('.c'))
  await fs.mkdir(path.join(pkgDir, 'dist'), {recursive: true})
  for (const c of sources)
    await $`gcc ${cflags} -o ${path.join(pkgDir, 'dist', c.slice(0, -2))} ${path.join(pkgDir, 'native', c)}`
}

/**
 * Builds stage1-<decl.name>.aci in outDir from the package at pkgDir. decl: {name, interfaceVersion, entrypoints,
 * helpers ([from, to], from relative to the package or absolute), dirs?, files?, supports?}.
 */
export async function buildStage1Image({pkgDir, decl, outDir}) {
  const {buildAci} = await import(path.join(dist, 'aci', 'index.js'))
  await fs.mkdir(outDir, {recursive: true})
  const layout = path.join(pkgDir, 'dist', 'aci')
  const rootfs = path.join(layout, 'rootfs')
  await fs.rm(layout, {recursive: true, force: true})
  for (const d of ['native', 'rkt/status', 'rkt/env', 'etc', 'opt/stage2', ...(decl.dirs ?? [])])
    await fs.mkdir(path.join(rootfs, d), {recursive: true})
  for (const e of decl.entrypoints) {
    await esbuild.build({
      entryPoints: [path.join(pkgDir, 'src', `${e}.ts`)],
      // An engine outside the repository finds the SDK (@rkt/core) in the repository's node_modules.
      nodePaths: [path.join(root, 'node_modules')],
      outfile: path.join(rootfs, `${e}.cjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
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
    await fs.chmod(path.join(rootfs, `${e}.cjs`), 0o755)
  }
  await fs.copyFile(path.join(dist, 'native', 'rktsys.node'), path.join(rootfs, 'native', 'rktsys.node'))
  for (const [file, text] of Object.entries(decl.files ?? {})) {
    await fs.mkdir(path.dirname(path.join(rootfs, file)), {recursive: true})
    await fs.writeFile(path.join(rootfs, file), text)
  }
  for (const [from, to] of decl.helpers) {
    await fs.mkdir(path.dirname(path.join(rootfs, to)), {recursive: true})
    await fs.copyFile(path.resolve(pkgDir, from), path.join(rootfs, to))
    await fs.chmod(path.join(rootfs, to), 0o755)
  }
  const hash = crypto.createHash('sha256')
  for (const f of (await fs.readdir(rootfs, {recursive: true})).sort()) {
    const p = path.join(rootfs, f)
    if ((await fs.stat(p)).isFile())
      hash
        .update(f)
        .update('\0')
        .update(await fs.readFile(p))
  }
  const name = `rkt-ts/stage1-${decl.name}`
  const version = `1.30.0+${hash.digest('hex').slice(0, 12)}`
  const annotations = [
    ...decl.entrypoints.map((e) => ({name: `coreos.com/rkt/stage1/${e}`, value: `/${e}.cjs`})),
    {name: 'coreos.com/rkt/stage1/interface-version', value: String(decl.interfaceVersion)},
    ...(decl.supports ? [{name: 'rkt-ts/stage1/supports/v1', value: decl.supports.join(',')}] : []),
  ]
  const manifest = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name,
    labels: [
      {name: 'version', value: version},
      {name: 'os', value: 'linux'},
      {name: 'arch', value: 'amd64'},
    ],
    annotations,
  }
  const text = Buffer.from(JSON.stringify(manifest))
  await fs.writeFile(path.join(layout, 'manifest'), text)
  const file = `stage1-${decl.name}.aci`
  await buildAci({
    layoutDir: layout,
    outFile: path.join(outDir, file),
    manifest: text,
    compression: 'none',
    overwrite: true,
    ownerRoot: true,
  })
  return {name, version, file}
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [pkgArg, outArg] = process.argv.slice(2)
  if (!pkgArg) {
    console.error('usage: node scripts/stage1-image.mjs PACKAGE_DIR [OUT_DIR]')
    process.exit(2)
  }
  const pkgDir = path.resolve(pkgArg)
  await buildNativeHelpers(pkgDir)
  const decl = (await import(path.join(pkgDir, 'image.mjs'))).default
  const {file} = await buildStage1Image({pkgDir, decl, outDir: path.resolve(outArg ?? pkgDir)})
  console.log(path.join(path.resolve(outArg ?? pkgDir), file))
}
