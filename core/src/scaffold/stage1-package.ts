// `rkt stage1 new NAME [DIR]`: writes a new stage1 engine package, started from the repository's worked example
// (stage1-bwrap: one source file per entrypoint, a static helper, docs/ in docs/stage1.md). By default it
// is a new workspace `stage1-NAME/` of the repository (added to its workspaces and TypeScript references);
// given DIR, it goes there, and its build finds the SDK in the repository's node_modules. Its `npm run build`
// makes stage1-NAME.aci in the package (scripts/stage1-image.mjs), its `npm test` runs the conformance suite on it.
import fs from 'node:fs'
import path from 'node:path'

import {RktError} from '../errors.js'
import {getDistDir} from '../sys/dist.js'

/** The engine the scaffold copies: its entrypoints, shared module and native helper. */
const TEMPLATE = 'stage1-bwrap'
/** The behaviours every engine must claim (the support vocabulary's required set). */
const REQUIRED = ['exit-codes', 'status', 'env', 'user-group', 'volumes', 'event-handlers', 'stop', 'enter', 'gc-clean']

export interface NewStage1 {
  /** The package's directory. */
  readonly dir: string
  /** True when it was added to the repository's workspaces. */
  readonly workspace: boolean
}

/** The repository this rkt was built in (core/dist/../..), which holds the template and the image builder. */
export function repositoryRoot(dist: string = getDistDir()): string {
  const root = path.resolve(dist, '..', '..')
  if (!fs.existsSync(path.join(root, TEMPLATE, 'src', 'run.ts')) || !fs.existsSync(path.join(root, 'package.json')))
    throw new RktError(`${root} is not a checkout of the rkt repository: rkt stage1 new copies ${TEMPLATE} from it`, {
      hint: 'run the rkt built in a clone of the repository (bin/rkt there)',
    })
  return root
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`

/** Writes the package `stage1-NAME` into `dir` (default: a new workspace of the repository `repo`). */
export function newStage1Package(name: string, dir: string | undefined, repo: string = repositoryRoot()): NewStage1 {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name) || name.endsWith('-'))
    throw new RktError(`invalid stage1 name ${JSON.stringify(name)}`, {
      hint: 'use lower-case letters, digits and dashes, starting with a letter (the image is rkt-ts/stage1-NAME)',
    })
  const target = path.resolve(dir ?? path.join(repo, `stage1-${name}`))
  if (fs.existsSync(target))
    throw new RktError(`${target} already exists: rkt stage1 new writes a new package and never overwrites`, {
      hint: 'choose another NAME, or a DIR that does not exist yet',
    })
  // Paths into the repository: relative from a workspace, absolute from elsewhere.
  const inRepo = !path.relative(repo, target).startsWith('..')
  const rel = (p: string): string => (inRepo ? path.relative(target, path.join(repo, p)) : path.join(repo, p))
  const rename = (text: string): string =>
    text.replace(/the bwrap stage1/g, `the ${name} stage1`).replace(/^\/\/ bwrap's /m, `// ${name}'s (from bwrap's) `)
  const files: Record<string, string> = {
    'package.json': json({
      name: `@rkt/stage1-${name}`,
      version: '0.1.0',
      private: true,
      description: `The ${name} stage1 (made by rkt stage1 new from the bwrap engine)`,
      type: 'module',
      scripts: {build: `node ${rel('scripts/stage1-image.mjs')} .`, test: 'node --test test/'},
      dependencies: {'@rkt/core': '*', '@rkt/net-plugins': '*'},
    }),
    'tsconfig.json': json({
      extends: rel('tsconfig.base.json'),
      compilerOptions: {rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo'},
      include: ['src'],
      references: [{path: rel('core')}, {path: rel('net-plugins')}],
    }),
    'image.mjs': `// The ${name} stage1's image: built into stage1-${name}.aci by npm run build (scripts/stage1-image.mjs).
export default {
  name: '${name}',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop'],
  helpers: [['dist/app-exec', 'app-exec']],
  // The behaviours it claims (docs/stage1.md): the required set; add what you make it do.
  supports: ${JSON.stringify(REQUIRED)},
}
`,
    '.gitignore': `dist/\nstage1-${name}.aci\n`,
    'test/run.test.mjs': testFile(name, rel('bin')),
  }
  for (const sub of ['src', 'native'])
    for (const f of fs.readdirSync(path.join(repo, TEMPLATE, sub)).filter((f) => /^[^.]+\.(ts|c)$/.test(f)))
      files[`${sub}/${f}`] = rename(fs.readFileSync(path.join(repo, TEMPLATE, sub, f), 'utf8'))
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(target, file)), {recursive: true})
    fs.writeFileSync(path.join(target, file), text)
  }
  const workspace = dir === undefined
  if (workspace) addWorkspace(repo, `stage1-${name}`)
  return {dir: target, workspace}
}

/** Adds the package to the repository's workspaces and to its TypeScript build (before the tests). */
function addWorkspace(repo: string, pkg: string): void {
  const pj = path.join(repo, 'package.json')
  const p = JSON.parse(fs.readFileSync(pj, 'utf8')) as {workspaces: string[]}
  p.workspaces.splice(p.workspaces.indexOf('test') < 0 ? p.workspaces.length : p.workspaces.indexOf('test'), 0, pkg)
  fs.writeFileSync(pj, json(p))
  const tj = path.join(repo, 'tsconfig.json')
  const t = JSON.parse(fs.readFileSync(tj, 'utf8')) as {references: {path: string}[]}
  const at = t.references.findIndex((r) => r.path === 'test')
  t.references.splice(at < 0 ? t.references.length : at, 0, {path: pkg})
  fs.writeFileSync(tj, json(t))
}

/** The package's test: the conformance suite (`rkt stage1 test`) on the image its build made. */
function testFile(name: string, bin: string): string {
  return `// Runs the conformance suite on stage1-${name}.aci (npm run build first): every behaviour its image.mjs claims
// must pass.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {test} from 'node:test'

const pkg = path.resolve(import.meta.dirname, '..')
const rkt = path.resolve(pkg, ${JSON.stringify(bin)}, 'rkt')

test('stage1-${name} passes the conformance suite for what it claims', () => {
  const r = spawnSync(rkt, ['stage1', 'test', path.join(pkg, 'stage1-${name}.aci')], {encoding: 'utf8'})
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
`
}
