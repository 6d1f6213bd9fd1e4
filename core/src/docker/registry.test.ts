import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {causeChain} from '../errors.js'
import {httpClientFor} from '../http/client.js'
import {TreeStore} from '../store/tree-store.js'
import {fetchDockerImage} from './import.js'
import {parseChallenge} from './registry.js'
import {makeLayer, requireTools, startRegistry, tempDir, testGlobals, testStore, writeOciLayout} from './testing.js'

describe('registry client', () => {
  test('parseChallenge', () => {
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"'),
      {
        scheme: 'bearer',
        params: {realm: 'https://auth.example/token', service: 'registry', scope: 'repository:a/b:pull'},
      },
    )
    assert.deepEqual(parseChallenge('Basic realm="test-realm"'), {scheme: 'basic', params: {realm: 'test-realm'}})
  })

  test('pulls OCI and schema 2 images from docker-registry, converting shared layers once', async (t) => {
    requireTools(['docker-registry', 'skopeo'])
    const dir = tempDir(t)
    const host = await startRegistry(dir, t)
    const base = await makeLayer([
      {name: 'etc/'},
      {name: 'etc/motd', data: 'base\n'},
      {name: 'etc/removeme', data: 'x'},
    ])
    const app = await makeLayer([
      {name: 'etc/'},
      {name: 'etc/app.txt', data: 'app\n'},
      {name: 'etc/.wh.removeme', data: ''},
    ])
    const layout = path.join(dir, 'oci')
    writeOciLayout(layout, 'base', [base])
    writeOciLayout(layout, 'app', [base, app], {
      config: {Cmd: ['/bin/cat', '/etc/app.txt'], ExposedPorts: {'80/tcp': {}}},
    })
    const env = {...process.env, REGISTRY_AUTH_FILE: path.join(dir, 'auth.json')}
    const copy = (src: string, dest: string, ...extra: string[]): void => {
      execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...extra, src, dest], {
        env,
        stdio: 'pipe',
      })
    }
    copy(`oci:${layout}:base`, `docker://${host}/base:1`)
    copy(`oci:${layout}:app`, `docker://${host}/app:1`)
    copy(`oci:${layout}:app`, `docker://${host}/app:2`, '--format', 'v2s2')

    const store = testStore(dir)
    // Plain http needs --insecure-options=http, and says so.
    await assert.rejects(
      fetchDockerImage(store, `docker://${host}/base:1`, {globals: testGlobals(dir, ['image'])}),
      (e: unknown) =>
        causeChain(e).some(
          (c) =>
            c instanceof Error && /insecure-options=http/.test(`${c.message} ${(c as {hint?: string}).hint ?? ''}`),
        ),
    )

    const globals = testGlobals(dir, ['image', 'http'])
    const http = httpClientFor(globals)
    t.after(() => http.close())
    const infos: string[] = []
    const rec = await fetchDockerImage(store, `docker://${host}/base:1`, {
      globals,
      http,
      onInfo: (m) => infos.push(m),
    })
    assert.equal(rec.name, `127.0.0.1_${host.split(':')[1]}/base`)
    assert.match(infos.at(-1)!, /1 converted/)
    const oci = await fetchDockerImage(store, `docker://${host}/app:1`, {globals, http, onInfo: (m) => infos.push(m)})
    assert.match(infos.at(-1)!, /2 layers, 1 converted, 1 already stored/)
    const v2 = await fetchDockerImage(store, `docker://${host}/app:2`, {globals, http, onInfo: (m) => infos.push(m)})
    assert.match(infos.at(-1)!, /0 converted/)
    assert.equal(v2.labels.find((l) => l.name === 'version')?.value, '2')
    assert.notEqual(v2.id, oci.id) // another tag, another manifest digest annotation

    const tree = new TreeStore(store).render(v2.key).rootfs
    assert.equal(fs.readFileSync(path.join(tree, 'etc/app.txt'), 'utf8'), 'app\n')
    assert.ok(!fs.existsSync(path.join(tree, 'etc/removeme')))

    // By digest: verified, and the version label is the digest.
    const digest = execFileSync(
      'skopeo',
      ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${host}/app:1`],
      {env},
    )
      .toString()
      .trim()
    const byDigest = await fetchDockerImage(store, `docker://${host}/app@${digest}`, {globals, http})
    assert.equal(byDigest.labels.find((l) => l.name === 'version')?.value, digest)

    await assert.rejects(fetchDockerImage(store, `docker://${host}/nope:1`, {globals, http}), (e: unknown) =>
      causeChain(e).some((c) => c instanceof Error && /404/.test(c.message)),
    )
  })
})
