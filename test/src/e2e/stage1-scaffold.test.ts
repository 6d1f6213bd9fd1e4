// `rkt stage1 new NAME [DIR]` (core/src/scaffold/stage1-package.ts), as an engine author uses it: scaffold a
// package, build it, run a pod on the image it made; the package's own test (the conformance suite) passes; a bad name or an existing
// directory is refused with exit 254 and nothing written.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RKT, ROOT} from '../util/harness.js'
import {buildAci, PodSandbox} from '../util/pods.js'

describe('rkt stage1 new', () => {
  test('scaffold -> npm run build -> rkt run --stage1-image=./stage1-demo.aci hello.aci prints the app’s output, exit 0', async (t) => {
    const ps = PodSandbox.create(t)
    const dir = path.join(ps.s.work, 'stage1-demo')
    const made = await ps.rkt(['stage1', 'new', 'demo', dir])
    assert.equal(made.exitCode, 0, made.stderr)
    for (const f of ['src/run.ts', 'src/enter.ts', 'src/gc.ts', 'src/stop.ts', 'image.mjs', 'test/run.test.mjs'])
      assert.ok(fs.existsSync(path.join(dir, f)), `the package has ${f}`)
    const build = await execa('npm', ['run', 'build'], {cwd: dir, reject: false})
    assert.equal(build.exitCode, 0, String(build.stderr))
    assert.ok(fs.existsSync(path.join(dir, 'stage1-demo.aci')), 'the build made stage1-demo.aci')

    const hello = await buildAci({name: 'example.com/hello', version: '1', files: {}})
    fs.copyFileSync(hello, path.join(dir, 'hello.aci'))
    const r = await execa(
      RKT,
      [...ps.s.globals, '--insecure-options=image', 'run', '--stage1-image=./stage1-demo.aci', 'hello.aci'].concat([
        '--exec=/bin/busybox',
        '--',
        'echo',
        'hello from demo',
      ]),
      {cwd: dir, reject: false, stdin: 'ignore'},
    )
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.equal(String(r.stdout), 'hello from demo')
    const manifest = await ps.s.actool(['cat-manifest', path.join(dir, 'stage1-demo.aci')])
    assert.match(manifest.stdout, /"rkt-ts\/stage1-demo"/)

    const own = await execa('npm', ['test'], {cwd: dir, reject: false})
    assert.equal(own.exitCode, 0, `the package's own test, the conformance suite: ${String(own.stdout)}`)
  })

  test('a bad NAME or an existing DIR: exit 254 naming the problem, nothing written', async (t) => {
    const ps = PodSandbox.create(t)
    const bad = await ps.rkt(['stage1', 'new', 'Bad_Name', path.join(ps.s.work, 'x')])
    assert.equal(bad.exitCode, 254)
    assert.match(bad.stderr, /invalid stage1 name "Bad_Name"/)
    assert.equal(fs.existsSync(path.join(ps.s.work, 'x')), false)
    fs.mkdirSync(path.join(ps.s.work, 'taken'))
    const taken = await ps.rkt(['stage1', 'new', 'demo', path.join(ps.s.work, 'taken')])
    assert.equal(taken.exitCode, 254)
    assert.match(taken.stderr, /taken already exists: rkt stage1 new writes a new package and never overwrites/)
    assert.deepEqual(fs.readdirSync(path.join(ps.s.work, 'taken')), [])
    // Without DIR, the package would be the repository's stage1-fly: taken too.
    const workspaces = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')
    const fly = await ps.rkt(['stage1', 'new', 'fly'])
    assert.equal(fly.exitCode, 254)
    assert.match(fly.stderr, new RegExp(`${path.join(ROOT, 'stage1-fly')} already exists`))
    assert.equal(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'), workspaces, 'the workspaces are unchanged')
  })
})
