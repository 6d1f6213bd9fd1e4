#!/usr/bin/env node
// npm run build: type-check and compile every package, build the native helpers, bundle the CLIs and
// snapshot them. Each step prints one line with its duration; any failure stops the build.
import {$, chalk, fs, path} from 'zx'
import * as esbuild from 'esbuild'

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
})

await step('CLI bundles (esbuild)', async () => {
  await fs.mkdir(path.join(dist, 'cli'), {recursive: true})
  for (const name of ['rkt', 'actool']) {
    await esbuild.build({
      entryPoints: [path.join(root, 'core', 'src', 'cli', `${name}.ts`)],
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
  for (const name of ['rkt', 'actool']) {
    const cli = path.join(dist, 'cli')
    const blob = path.join(cli, `${name}.blob`)
    await fs.rm(`${blob}.stamp`, {force: true})
    await $({cwd: cli})`${node} --no-warnings --snapshot-blob ${blob}.tmp --build-snapshot ${name}.cjs`
    await fs.rename(`${blob}.tmp`, blob)
    await fs.writeFile(`${blob}.stamp`, stamp)
  }
})
