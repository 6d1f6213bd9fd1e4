#!/usr/bin/env node
// Builds one engine package's stage1 image, as its `npm run build` (what `rkt stage1 new` writes) does:
//
//   node scripts/stage1-image.mjs PACKAGE_DIR [OUT_DIR]    (OUT_DIR defaults to PACKAGE_DIR)
//
// first its native/*.c helpers (buildNativeHelpers, which scripts/build.mjs uses too), then the image from its
// image.mjs with core's stage1 builder (core/src/stage1-build/image.ts), into OUT_DIR/stage1-<name>.aci.
import {fileURLToPath} from 'node:url'
import {$, fs, path} from 'zx'

const root = path.resolve(import.meta.dirname, '..')

/**
 * Compiles each native/X.c of an engine package into dist/X, static: an engine's own helpers run inside the pod,
 * on the app's root, where there is no libc of ours.
 */
export async function buildNativeHelpers(pkgDir) {
  const cflags = ['-O2', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-static']
  const sources = (await fs.readdir(path.join(pkgDir, 'native')).catch(() => [])).filter((f) => f.endsWith('.c'))
  await fs.mkdir(path.join(pkgDir, 'dist'), {recursive: true})
  for (const c of sources)
    await $`gcc ${cflags} -o ${path.join(pkgDir, 'dist', c.slice(0, -2))} ${path.join(pkgDir, 'native', c)}`
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [pkgArg, outArg] = process.argv.slice(2)
  if (!pkgArg) {
    console.error('usage: node scripts/stage1-image.mjs PACKAGE_DIR [OUT_DIR]')
    process.exit(2)
  }
  const pkgDir = path.resolve(pkgArg)
  await buildNativeHelpers(pkgDir)
  const {buildStage1Image} = await import(path.join(root, 'core', 'dist', 'stage1-build', 'image.js'))
  const outDir = path.resolve(outArg ?? pkgDir)
  const {file} = await buildStage1Image({pkgDir, outDir})
  console.log(path.join(outDir, file))
}
