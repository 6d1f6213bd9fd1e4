import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RktError} from '../errors.js'
import {stage1Info} from '../pod/stage1-image.js'
import {parseImageManifest} from '../schema/index.js'
import {buildStage1Image} from './image.js'

/** An engine package in a temp dir: package.json, image.mjs with `declaration`, src/<e>.ts per entrypoint. */
function makePackage(t: {after(fn: () => void): void}, declaration: string, entrypoints = ['run']): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-stage1-build-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name": "stage1-demo", "version": "2.1.0"}')
  fs.writeFileSync(path.join(dir, 'image.mjs'), `export default ${declaration}\n`)
  fs.mkdirSync(path.join(dir, 'src'))
  for (const e of entrypoints) {
    // The exit code tells which entrypoint ran and with what argv.
    fs.writeFileSync(
      path.join(dir, 'src', `${e}.ts`),
      `export async function main(argv: string[]): Promise<number> { return ${entrypoints.indexOf(e) * 10} + argv.length }\n`,
    )
  }
  fs.writeFileSync(path.join(dir, 'helper.sh'), '#!/bin/sh\necho helper\n', {mode: 0o644})
  return dir
}

const DEMO = `{
  name: 'demo',
  interfaceVersion: 5,
  entrypoints: ['run', 'gc'],
  helpers: [['helper.sh', 'bin/helper']],
  dirs: ['kvm'],
  files: {'etc/os-release': 'ID=demo\\n'},
  supports: ['exit-codes', 'status', 'limits'],
}`

describe('buildStage1Image', () => {
  test('packs the declared entrypoints, helpers, files and claims into stage1-<name>.aci', async (t) => {
    const pkg = makePackage(t, DEMO, ['run', 'gc'])
    const out = path.join(pkg, 'out')
    const built = await buildStage1Image({pkgDir: pkg, outDir: out})
    assert.equal(built.file, 'stage1-demo.aci')
    assert.equal(built.name, 'rkt-ts/stage1-demo')
    assert.match(built.version, /^2\.1\.0\+[0-9a-f]{12}$/)

    const aci = path.join(out, built.file)
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', aci, 'manifest'], {encoding: 'utf8'})) as {
      name: string
      labels: {name: string; value: string}[]
      annotations: {name: string; value: string}[]
    }
    assert.equal(manifest.name, 'rkt-ts/stage1-demo')
    assert.deepEqual(manifest.labels.find((l) => l.name === 'version')?.value, built.version)
    assert.deepEqual(manifest.annotations, [
      {name: 'coreos.com/rkt/stage1/run', value: '/run.cjs'},
      {name: 'coreos.com/rkt/stage1/gc', value: '/gc.cjs'},
      {name: 'coreos.com/rkt/stage1/interface-version', value: '5'},
      {name: 'rkt-ts/stage1/supports/v1', value: 'exit-codes,status,limits'},
    ])

    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', aci], {encoding: 'utf8'})
    for (const entry of ['rootfs/run.cjs', 'rootfs/gc.cjs', 'rootfs/bin/helper', 'rootfs/native/rktsys.node'])
      assert.match(listing, new RegExp(`^-rwxr-xr-x 0/0 .* ${entry}$`, 'm'), entry)
    for (const dir of ['rootfs/kvm', 'rootfs/rkt/status', 'rootfs/opt/stage2'])
      assert.match(listing, new RegExp(`^d.* ${dir}/?$`, 'm'), dir)

    // The bundles run as programs: gc is entrypoint 1 (exit 10 + its two arguments).
    const rootfs = path.join(pkg, 'dist', 'aci', 'rootfs')
    assert.equal(spawnSync(path.join(rootfs, 'gc.cjs'), ['a', 'b']).status, 12)
    assert.equal(fs.readFileSync(path.join(rootfs, 'etc/os-release'), 'utf8'), 'ID=demo\n')

    // Same contents, same version; another helper, another version.
    assert.equal((await buildStage1Image({pkgDir: pkg, outDir: out})).version, built.version)
    fs.appendFileSync(path.join(pkg, 'helper.sh'), 'echo changed\n')
    assert.notEqual((await buildStage1Image({pkgDir: pkg, outDir: out})).version, built.version)
  })

  test('an export entrypoint is named by its own annotation, rkt-ts/stage1/export, which stage0 reads back', async (t) => {
    const pkg = makePackage(t, DEMO.replace("['run', 'gc']", "['run', 'export']"), ['run', 'export'])
    const out = path.join(pkg, 'out')
    const built = await buildStage1Image({pkgDir: pkg, outDir: out})
    const manifest = parseImageManifest(execFileSync('tar', ['-xOf', path.join(out, built.file), 'manifest'])).manifest
    assert.ok(manifest.annotations.some((a) => a.name === 'rkt-ts/stage1/export' && a.value === '/export.cjs'))
    assert.deepEqual(stage1Info(manifest).entrypoints, {run: '/run.cjs', export: '/export.cjs'})
  })

  const refusals: [string, string, RegExp][] = [
    ['an unknown behaviour', DEMO.replace("'limits'", "'teleport'"), /unknown behaviour "teleport" in supports/],
    ['no run entrypoint', DEMO.replace("['run', 'gc']", "['gc']"), /entrypoints must list at least "run"/],
    ['an unknown entrypoint', DEMO.replace("['run', 'gc']", "['run', 'exec']"), /unknown entrypoint "exec"/],
    [
      'a helper outside the rootfs',
      DEMO.replace("'bin/helper'", "'../helper'"),
      /"\.\.\/helper" is not a relative path/,
    ],
    ['no supports', DEMO.replace("supports: ['exit-codes', 'status', 'limits'],", ''), /supports must list/],
  ]
  for (const [what, declaration, message] of refusals) {
    test(`refuses a declaration with ${what}, naming image.mjs`, async (t) => {
      const pkg = makePackage(t, declaration, ['run', 'gc'])
      await assert.rejects(buildStage1Image({pkgDir: pkg, outDir: path.join(pkg, 'out')}), (err: unknown) => {
        assert.ok(err instanceof RktError)
        assert.match(err.message, message)
        assert.ok(err.message.startsWith(path.join(pkg, 'image.mjs')), err.message)
        assert.match(err.hint ?? '', /image\.mjs exports default/)
        return true
      })
      assert.ok(!fs.existsSync(path.join(pkg, 'out')), 'nothing built')
    })
  }

  test('refuses a package without image.mjs', async (t) => {
    const pkg = makePackage(t, DEMO)
    fs.rmSync(path.join(pkg, 'image.mjs'))
    await assert.rejects(buildStage1Image({pkgDir: pkg, outDir: path.join(pkg, 'out')}), /declares no stage1 image/)
  })
})
