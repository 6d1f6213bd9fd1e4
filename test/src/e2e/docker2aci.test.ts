// docker2aci as the walkthroughs use it: a `docker save` archive and an image of a real registry (Debian's
// docker-registry on a loopback port, plain http) into .aci files, which rkt fetches and runs on nspawn.
// Squashed by default (one ACI, whiteouts applied, no dependencies); --nosquash gives one ACI per layer.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import {describe, test} from 'node:test'

import {DOCKER2ACI} from '../util/harness.js'
import {PodSandbox, sh} from '../util/pods.js'
import {
  APP_TEXT,
  exportDockerArchive,
  MOTD_TEXT,
  push,
  requireRegistryTools,
  sharedImages,
  startRegistry,
} from '../util/registry.js'

/** The files docker2aci lists after "Generated ACI(s):". */
function generated(stdout: string): string[] {
  const at = stdout.indexOf('Generated ACI(s):\n')
  assert.ok(at >= 0, stdout)
  return stdout
    .slice(at + 'Generated ACI(s):\n'.length)
    .trim()
    .split('\n')
}

/** The manifest stored in an ACI file (gzip or plain). */
function manifestOf(file: string): Record<string, unknown> {
  let tar = fs.readFileSync(file)
  if (tar[0] === 0x1f && tar[1] === 0x8b) tar = zlib.gunzipSync(tar)
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar.toString('latin1', off, off + 100).replace(/\0.*$/s, '')
    const size = parseInt(
      tar
        .toString('latin1', off + 124, off + 136)
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    )
    if (name === 'manifest')
      return JSON.parse(tar.toString('utf8', off + 512, off + 512 + size)) as Record<string, unknown>
    off += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`no manifest in ${file}`)
}

describe('docker2aci', () => {
  test('a docker save archive becomes one squashed ACI in the working directory, which rkt runs', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    if (!(await requireRegistryTools(t))) return
    const archive = exportDockerArchive(sharedImages().refs.app, path.join(ps.s.work, 'app.tar'), 'team/app:1.2')

    const r = await ps.s.docker2aci(['app.tar'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(generated(r.stdout), ['team-app-1.2.aci'])
    assert.match(r.stdout, /^Converted volumes:\n\tname: "volume-data", path: "\/data", readOnly: false$/m)
    assert.match(r.stdout, /^Converted ports:\n\tname: "8080-tcp", protocol: "tcp", port: 8080, count: 1/m)
    const file = path.join(ps.s.work, 'team-app-1.2.aci')
    const m = manifestOf(file)
    assert.deepEqual([m['dependencies'] ?? [], m['pathWhitelist'] ?? []], [[], []], 'squashed: stands alone')
    assert.match(String(m['name']), /team\/app$/)
    assert.deepEqual(
      fs.readdirSync(ps.s.work).sort(),
      ['app.tar', 'team-app-1.2.aci'],
      'nothing else is left in the working directory',
    )

    // A second run refuses to overwrite the file.
    const again = await ps.s.docker2aci([archive])
    assert.equal(again.exitCode, 1)
    assert.match(again.stderr, /team-app-1\.2\.aci already exists/)

    const f = await ps.rkt(['--insecure-options=image', 'fetch', file])
    assert.equal(f.exitCode, 0, f.stderr)
    const id = f.stdout.trim()
    const run = await ps.rkt(['run', id])
    assert.equal(run.exitCode, 0, run.stderr)
    assert.equal(run.stdout.trim(), APP_TEXT)
    // The upper layer's whiteout removed /etc/removeme from the squashed tree.
    const wh = await ps.rkt(['run', id, ...sh('test ! -e /etc/removeme && cat /etc/motd')])
    assert.equal(wh.exitCode, 0, wh.stderr)
    assert.equal(wh.stdout.trim(), MOTD_TEXT)
  })

  test('--nosquash --output DIR: a registry image becomes one ACI per layer and the image on top', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const reg = await startRegistry(t)
    if (!reg) return
    push(sharedImages().refs.app, 'app:latest', reg.host)
    const out = path.join(ps.s.work, 'out')
    fs.mkdirSync(out)

    const plain = await ps.s.docker2aci(['--output', out, `docker://${reg.host}/app:latest`])
    assert.equal(plain.exitCode, 1, 'a plain-http registry needs --insecure-allow-http')
    assert.deepEqual(fs.readdirSync(out), [])

    // Go's single-dash spelling, as appc's docker2aci took it.
    const r = await ps.s.docker2aci(['-nosquash', '-insecure-allow-http', '--output', out, `docker://${reg.host}/app`])
    assert.equal(r.exitCode, 0, r.stderr)
    const files = generated(r.stdout)
    assert.equal(files.length, 3, r.stdout)
    assert.match(files[0]!, /\/out\/app-layer1-[0-9a-f]{12}\.aci$/)
    assert.match(files[2]!, /\/out\/app-latest\.aci$/)
    const top = manifestOf(files[2]!)
    assert.equal((top['dependencies'] as unknown[]).length, 1, 'the image depends on its top layer')

    let id = ''
    for (const file of files) {
      const f = await ps.rkt(['--insecure-options=image', 'fetch', file])
      assert.equal(f.exitCode, 0, `${file}: ${f.stderr}`)
      id = f.stdout.trim()
    }
    const run = await ps.rkt(['run', id])
    assert.equal(run.exitCode, 0, run.stderr)
    assert.equal(run.stdout.trim(), APP_TEXT)
  })

  test('bad input: a missing file, an unknown compression, an archive without the asked image; squashing as non-root', async (t) => {
    const ps = PodSandbox.create(t)
    if (!(await requireRegistryTools(t))) return
    const missing = await ps.s.docker2aci(['nope.tar'])
    assert.equal(missing.exitCode, 2)
    assert.match(missing.stderr, /nope\.tar: no such file[\s\S]*docker save/)
    const comp = await ps.s.docker2aci(['--compression=xz', 'nope.tar'])
    assert.equal(comp.exitCode, 2)
    exportDockerArchive(sharedImages().refs.app, path.join(ps.s.work, 'app.tar'), 'app:latest')
    const other = await ps.s.docker2aci(['--image', 'other:9', 'app.tar'])
    assert.equal(other.exitCode, 1)
    assert.match(other.stderr, /other:9/)
    assert.deepEqual(fs.readdirSync(ps.s.work), ['app.tar'])

    // Not root (in a directory of its own: the sandbox is root's): squashing would lose the files' owners, so
    // it is refused; --nosquash keeps them.
    const mine = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-docker2aci-'))
    t.after(() => fs.rmSync(mine, {recursive: true, force: true}))
    fs.copyFileSync(path.join(ps.s.work, 'app.tar'), path.join(mine, 'app.tar'))
    fs.chmodSync(mine, 0o777)
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', DOCKER2ACI]
    const squash = await execa('setpriv', [...asNobody, 'app.tar'], {cwd: mine, reject: false})
    assert.equal(squash.exitCode, 1)
    assert.match(String(squash.stderr), /needs root[\s\S]*--nosquash/)
    const layers = await execa('setpriv', [...asNobody, '--nosquash', 'app.tar'], {cwd: mine, reject: false})
    assert.equal(layers.exitCode, 0, String(layers.stderr))
    const files = generated(String(layers.stdout))
    // The archive's tag app:latest is Docker Hub's library/app, named as appc's docker2aci named it.
    assert.equal(files.at(-1), 'library-app-latest.aci')
    const f = await ps.rkt(['--insecure-options=image', 'fetch', ...files.map((x) => path.join(mine, x))])
    assert.equal(f.exitCode, 0, f.stderr)
  })
})
