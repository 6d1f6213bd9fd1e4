#!/usr/bin/env node
// npm test: runs the compiled tests with node:test. Node 20 does not expand globs given to --test (and then
// passes having run nothing), so the files are listed here explicitly, and an empty list is a failure.
//
//   node scripts/test.mjs            unit tests (in parallel), then end-to-end tests (serially, as root)
//   node scripts/test.mjs --unit     unit tests only
//   node scripts/test.mjs --e2e      end-to-end tests only
//   node scripts/test.mjs FILE…      just these compiled test files
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

function findTests(dir) {
  const out = []
  if (!fs.existsSync(dir)) return out
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...findTests(p))
    else if (entry.name.endsWith('.test.js')) out.push(p)
  }
  return out.sort()
}

function run(label, files, extraArgs) {
  if (files.length === 0) {
    console.error(`test: no ${label} test files found — run 'npm run build' first (tests run from the compiled dist/)`)
    process.exit(1)
  }
  console.error(`test: ${label}: ${files.length} files`)
  const r = spawnSync(process.execPath, ['--test', ...extraArgs, ...files], {stdio: 'inherit', cwd: root})
  if (r.status !== 0) {
    console.error(`test: ${label} failed`)
    process.exit(r.status ?? 1)
  }
}

const args = process.argv.slice(2)
const explicit = args.filter((a) => !a.startsWith('--'))
if (explicit.length > 0) {
  run(
    'selected',
    explicit.map((f) => path.resolve(f)),
    ['--test-concurrency=1'],
  )
  process.exit(0)
}
const unitOnly = args.includes('--unit')
const e2eOnly = args.includes('--e2e')
// Every workspace's compiled tests are unit tests, but the test workspace's own e2e ones.
const {workspaces} = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const unit = [
  ...workspaces.filter((w) => w !== 'test').flatMap((w) => findTests(path.join(root, w, 'dist'))),
  ...findTests(path.join(root, 'test', 'dist', 'unit')),
]
const e2e = findTests(path.join(root, 'test', 'dist', 'e2e'))

if (!e2eOnly) run('unit', unit, [])
// The images of Debian packages the real-application tests run: built here, before any test's clock starts
// (minutes the first time on a machine; then found in the machine cache, as by CI's fresh clone).
if (!unitOnly) {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'test-images.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (r.status !== 0) process.exit(r.status ?? 1)
  console.error(`test: test images ready (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}
// End-to-end tests change global state (mounts, network, /etc): one file at a time, each test with a timeout.
if (!unitOnly) run('e2e', e2e, ['--test-concurrency=1', '--test-timeout=240000'])
