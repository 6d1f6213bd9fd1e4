#!/usr/bin/env node
// npm run build: type-check and compile every package, build the native helpers, bundle the CLIs and
// snapshot them. Each step prints one line with its duration; any failure stops the build.
import crypto from 'node:crypto'
import {$, chalk, fs, path} from 'zx'
import * as esbuild from 'esbuild'

import {machineCacheDir, pruneCache} from './cache-dir.mjs'
import {buildNativeHelpers} from './stage1-image.mjs'

$.verbose = false
const root = path.resolve(import.meta.dirname, '..')

// One build at a time per checkout: concurrent tsc -b runs corrupt each other's output.
if (!process.env.RKT_BUILD_LOCKED) {
  const {spawnSync} = await import('node:child_process')
  const r = spawnSync('flock', [path.join(root, '.build.lock'), process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: {...process.env, RKT_BUILD_LOCKED: '1'},
  })
  process.exit(r.status ?? 1)
}
const dist = path.join(root, 'core', 'dist')
$.cwd = root

async function step(name, fn) {
  const t0 = performance.now()
  try {
    await fn()
  } catch (err) {
    console.error(chalk.red(`build: ${name} failed`))
    console.error(err.stderr || err.stdout || err.message || err)
    process.exit(1)
  }
  console.log(`build: ${name} (${Math.round(performance.now() - t0)} ms)`)
}

await step('typescript (tsc -b)', () => $`npx tsc -b`)

await step('native helpers (gcc)', async () => {
  await fs.mkdir(path.join(dist, 'native'), {recursive: true})
  await fs.mkdir(path.join(dist, 'bin'), {recursive: true})
  const cflags = ['-O2', '-Wall', '-Wextra', '-Werror', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong']
  await $`gcc ${cflags} -shared -fPIC -I/usr/include/node -o ${dist}/native/rktsys.node core/native/rktsys.c`
  await $`gcc ${cflags} -o ${dist}/bin/launch core/native/launch.c`
  await fs.mkdir(path.join(root, 'stage1-fly', 'dist'), {recursive: true})
  await $`gcc ${cflags} -o stage1-fly/dist/fly-exec stage1-fly/native/fly-exec.c`
  // The supervisor and enter helper (nspawn's and kvm's) run inside the pod, whose root has no libc: linked
  // statically (libseccomp too). isolate.c is the app set-up both share, so `rkt enter` gets exactly the app's
  // isolation.
  await fs.mkdir(path.join(root, 'stage1-supervisor', 'dist'), {recursive: true})
  for (const name of ['supervisor', 'enter']) {
    const sources = [`stage1-supervisor/native/${name}.c`, 'stage1-supervisor/native/isolate.c']
    if (name === 'supervisor') sources.push('stage1-supervisor/native/logger.c')
    await $`gcc ${cflags} -static -o stage1-supervisor/dist/${name} ${sources} -lseccomp`
  }
  // iomux: each app's logger (stdout and stderr to its CRI log file and on to the pod's), run by the supervisor.
  await $`gcc ${cflags} -static -o stage1-supervisor/dist/iomux stage1-supervisor/native/iomux.c`
  // fly runs the same logger beside fly-exec (fly does not depend on the supervisor's package).
  await $`gcc ${cflags} -o stage1-fly/dist/iomux stage1-supervisor/native/iomux.c`
  // kvm: kvm-exec runs on the host; kvm-init is the guest's PID 1, on a root with no libc (static).
  await fs.mkdir(path.join(root, 'stage1-kvm', 'dist'), {recursive: true})
  await $`gcc ${cflags} -o stage1-kvm/dist/kvm-exec stage1-kvm/native/kvm-exec.c`
  await $`gcc ${cflags} -static -o stage1-kvm/dist/kvm-init stage1-kvm/native/kvm-init.c -lutil`
  // Every other engine (stage1-bwrap, engines made by `rkt stage1 new`): each native/X.c into dist/X, static.
  const {workspaces} = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8'))
  for (const ws of workspaces.filter((w) => !['stage1-fly', 'stage1-nspawn', 'stage1-kvm'].includes(w)))
    if (fs.existsSync(path.join(root, ws, 'image.mjs'))) await buildNativeHelpers(path.join(root, ws))
})

// The kvm stage1's guest kernel, built from Debian's linux-source with the project's configuration
// (stage1-kvm/kernel/README.md): minutes on a fresh machine, so the result is cached outside the checkout
// (scripts/cache-dir.mjs: every clone on the machine shares it) by the hash of what it is built from.
await step('guest kernel (linux-source, cached)', async () => {
  const dir = path.join(root, 'stage1-kvm', 'kernel')
  const tarballs = (await fs.readdir('/usr/src').catch(() => [])).filter((f) => /^linux-source-.*\.tar\.xz$/.test(f))
  if (tarballs.length === 0)
    throw new Error('no /usr/src/linux-source-*.tar.xz: run scripts/setup (Debian: linux-source-6.1)')
  const tarball = path.join('/usr/src', tarballs.sort().at(-1))
  const stat = await fs.stat(tarball)
  const key = crypto
    .createHash('sha256')
    .update(await fs.readFile(path.join(dir, 'guest.config')))
    .update(await fs.readFile(path.join(dir, 'build.sh')))
    .update(`${tarball}\0${stat.size}\0${stat.mtimeMs}`)
    .digest('hex')
    .slice(0, 16)
  const cache = path.join(machineCacheDir(), 'guest-kernel', key)
  if (!fs.existsSync(path.join(cache, 'vmlinux'))) {
    await fs.mkdir(path.dirname(cache), {recursive: true})
    console.log(`build: making the guest kernel from ${tarball} (minutes; cached in ${cache})`)
    // Under a lock: every checkout on the machine builds into the one cache. The entry appears whole (rename).
    const make = '[ -f "$1/vmlinux" ] || { rm -rf "$1" "$1.tmp" && "$2" "$3" "$1.tmp" && mv "$1.tmp" "$1"; }'
    await $`flock ${cache}.lock sh -c ${make} sh ${cache} ${path.join(dir, 'build.sh')} ${tarball}`
    await pruneCache(path.dirname(cache), 3)
  }
  await fs.copyFile(path.join(cache, 'vmlinux'), path.join(root, 'stage1-kvm', 'dist', 'vmlinux'))
})

await step('CLI bundles (esbuild)', async () => {
  await fs.mkdir(path.join(dist, 'cli'), {recursive: true})
  for (const name of ['rkt', 'actool', 'docker2aci']) {
    await esbuild.build({
      entryPoints: [path.join(root, 'core', 'src', 'commands', name, 'main.ts')],
      outfile: path.join(dist, 'cli', `${name}.cjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // oclif loads typescript only to run uncompiled commands in development; never here.
      external: ['typescript'],
      // ESM dependencies (openpgp) call createRequire(import.meta.url) at load time; give them the bundle's URL.
      banner: {js: "var __bundle_url = require('node:url').pathToFileURL(__filename).href;"},
      define: {'import.meta.url': '__bundle_url'},
      sourcemap: 'linked',
      legalComments: 'none',
      // The snapshot's size is start-up time (about 3 ms per MB here): drop whitespace and simplify syntax,
      // but keep identifiers so --debug stack traces stay readable.
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'warning',
    })
  }
})

// A V8 startup snapshot per CLI, plus a stamp naming the exact node binary that built it: a blob used by
// any other node crashes it, so core/native/launch.c checks the stamp and otherwise runs the bundle.
await step('CLI snapshots (node --build-snapshot)', async () => {
  const node = fs.realpathSync(process.execPath)
  const st = fs.statSync(node, {bigint: true})
  const mtimeSec = st.mtimeNs / 1_000_000_000n
  const stamp = `${node}\n${st.dev} ${st.ino} ${st.size} ${mtimeSec} ${st.mtimeNs - mtimeSec * 1_000_000_000n}\n`
  for (const name of ['rkt', 'actool', 'docker2aci']) {
    const cli = path.join(dist, 'cli')
    const blob = path.join(cli, `${name}.blob`)
    await fs.rm(`${blob}.stamp`, {force: true})
    await $({cwd: cli})`${node} --no-warnings --snapshot-blob ${blob}.tmp --build-snapshot ${name}.cjs`
    await fs.rename(`${blob}.tmp`, blob)
    await fs.writeFile(`${blob}.stamp`, stamp)
  }
})

// Stage1 images: every workspace with an image.mjs is an engine; core's stage1 builder packs it into
// stage1-<name>.aci in core/dist/stage1-images/, where rkt finds its default stage1 (beside the CLI, as rkt did).
await step('stage1 images (esbuild + actool build)', async () => {
  const {buildStage1Image} = await import(path.join(dist, 'stage1-build', 'image.js'))
  const out = path.join(dist, 'stage1-images')
  const {workspaces} = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8'))
  const defaults = []
  for (const ws of workspaces) {
    if (!fs.existsSync(path.join(root, ws, 'image.mjs'))) continue
    const image = await buildStage1Image({pkgDir: path.join(root, ws), outDir: out})
    if (image.declaration.default) defaults.push(image)
  }
  if (defaults.length !== 1) throw new Error(`${defaults.length} stage1 images declare default: true; one must`)
  const {name, version, file} = defaults[0]
  await fs.writeFile(path.join(out, 'defaults.json'), `${JSON.stringify({name, version, file})}\n`)
})
