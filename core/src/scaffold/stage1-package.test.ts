import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {newStage1Package} from './stage1-package.js'

/** A stand-in for the repository: its workspaces, TypeScript references and the template engine. */
function fakeRepo(t: {after: (fn: () => void) => void}): string {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-scaffold-'))
  t.after(() => fs.rmSync(repo, {recursive: true, force: true}))
  fs.writeFileSync(path.join(repo, 'package.json'), JSON.stringify({workspaces: ['core', 'stage1-bwrap', 'test']}))
  fs.writeFileSync(path.join(repo, 'tsconfig.json'), JSON.stringify({references: [{path: 'core'}, {path: 'test'}]}))
  for (const [f, text] of [
    ['src/run.ts', "// bwrap's run entrypoint: hostTool('bwrap'), the bwrap stage1\n"],
    ['src/run.test.ts', 'not copied\n'],
    ['native/app-exec.c', '/* app-exec */\n'],
  ] as const) {
    fs.mkdirSync(path.dirname(path.join(repo, 'stage1-bwrap', f)), {recursive: true})
    fs.writeFileSync(path.join(repo, 'stage1-bwrap', f), text)
  }
  return repo
}

test('without DIR: a new workspace of the repository, listed before the tests, with the template’s sources', (t) => {
  const repo = fakeRepo(t)
  const made = newStage1Package('demo', undefined, repo)
  assert.deepEqual(made, {dir: path.join(repo, 'stage1-demo'), workspace: true})
  const read = (f: string): string => fs.readFileSync(path.join(repo, f), 'utf8')
  const pkg = JSON.parse(read('package.json')) as {workspaces: string[]}
  assert.deepEqual(pkg.workspaces, ['core', 'stage1-bwrap', 'stage1-demo', 'test'])
  const ts = JSON.parse(read('tsconfig.json')) as {references: {path: string}[]}
  assert.deepEqual(ts.references, [{path: 'core'}, {path: 'stage1-demo'}, {path: 'test'}])
  assert.equal(
    read('stage1-demo/src/run.ts'),
    "// demo's (from bwrap's) run entrypoint: hostTool('bwrap'), the demo stage1\n",
  )
  assert.equal(fs.existsSync(path.join(repo, 'stage1-demo/src/run.test.ts')), false, 'tests of the template stay')
  assert.equal(read('stage1-demo/native/app-exec.c'), '/* app-exec */\n')
  const own = JSON.parse(read('stage1-demo/package.json')) as {name: string; scripts: {build: string}}
  assert.equal(own.name, '@rkt/stage1-demo')
  assert.equal(own.scripts.build, 'node ../scripts/stage1-image.mjs .', 'the repository’s builder, relative')
  assert.match(read('stage1-demo/image.mjs'), /name: 'demo'/)
})

test('a bad name or an existing directory: refused, nothing written', (t) => {
  const repo = fakeRepo(t)
  for (const name of ['', 'Demo', 'de_mo', '1demo', 'demo-', 'a'.repeat(40)])
    assert.throws(() => newStage1Package(name, undefined, repo), /invalid stage1 name/)
  assert.throws(() => newStage1Package('bwrap', undefined, repo), /stage1-bwrap already exists/)
  assert.deepEqual(
    (JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {workspaces: string[]}).workspaces,
    ['core', 'stage1-bwrap', 'test'],
  )
})
