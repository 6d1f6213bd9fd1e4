import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {parseImageManifest, serializeImageManifest} from '../schema/index.js'
import {dockerImageName, imageManifest, layerImageName, sanitizeACName} from './convert.js'
import type {ImageConfig} from './source.js'

const config: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  author: 'someone',
  created: '2000-01-01T00:00:00Z',
  config: {
    User: 'www',
    Env: ['PATH=/usr/bin:/bin', 'A=1=2', 'NOEQUALS', 'A=3'],
    Entrypoint: ['/docker-entrypoint.sh'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    WorkingDir: '/srv',
    ExposedPorts: {'80/tcp': {}, '53/udp': {}, '8080': {}},
    Volumes: {'/var/cache/nginx': {}, '/Data': {}},
  },
  rootfs: {type: 'layers', diff_ids: []},
}

describe('Docker config → image manifest', () => {
  test('names follow docker2aci', () => {
    assert.equal(dockerImageName('registry-1.docker.io', 'library/nginx'), 'registry-1.docker.io/library/nginx')
    assert.equal(dockerImageName('127.0.0.1:5000', 'app'), '127.0.0.1_5000/app')
    assert.equal(layerImageName(`sha256:${'b'.repeat(64)}`), `docker-layer/sha256-${'b'.repeat(64)}`)
    assert.equal(sanitizeACName('volume//var/cache'), 'volume-var-cache')
  })

  test('app, labels and annotations', () => {
    const id = `sha512-${'c'.repeat(128)}`
    const m = imageManifest(
      config,
      {
        name: 'registry-1.docker.io/library/nginx',
        version: '1.25',
        originalName: 'nginx:1.25',
        registry: 'registry-1.docker.io',
        repository: 'library/nginx',
        configDigest: `sha256:${'d'.repeat(64)}`,
        manifestDigest: `sha256:${'e'.repeat(64)}`,
      },
      {name: 'docker-layer/sha256-x', id},
    )
    // It serialises, so it is a valid manifest.
    const parsed = parseImageManifest(serializeImageManifest(m)).manifest
    assert.deepEqual(parsed.labels, [
      {name: 'version', value: '1.25'},
      {name: 'os', value: 'linux'},
      {name: 'arch', value: 'amd64'},
    ])
    const app = parsed.app!
    assert.deepEqual(app.exec, ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'])
    assert.equal(app.user, 'www')
    assert.equal(app.group, 'www')
    assert.equal(app.workingDirectory, '/srv')
    assert.deepEqual(app.environment, [
      {name: 'PATH', value: '/usr/bin:/bin'},
      {name: 'A', value: '3'},
    ])
    assert.deepEqual(
      app.ports.map((p) => [p.name, p.protocol, p.port]),
      [
        ['53-udp', 'udp', 53],
        ['80-tcp', 'tcp', 80],
        ['8080', 'tcp', 8080],
      ],
    )
    assert.deepEqual(
      app.mountPoints.map((p) => [p.name, p.path]),
      [
        ['volume-data', '/Data'],
        ['volume-var-cache-nginx', '/var/cache/nginx'],
      ],
    )
    const ann = Object.fromEntries(parsed.annotations.map((a) => [a.name, a.value]))
    assert.equal(ann['appc.io/docker/registryurl'], 'registry-1.docker.io')
    assert.equal(ann['appc.io/docker/repository'], 'library/nginx')
    assert.equal(ann['appc.io/docker/imageid'], `sha256:${'d'.repeat(64)}`)
    assert.equal(ann['appc.io/docker/entrypoint'], '["/docker-entrypoint.sh"]')
    assert.equal(ann['appc.io/docker/cmd'], '["nginx","-g","daemon off;"]')
    assert.equal(ann['appc.io/docker/originalname'], 'nginx:1.25')
    assert.deepEqual(parsed.dependencies, [{imageName: 'docker-layer/sha256-x', imageID: id, labels: []}])
  })

  test('user defaults: none is 0:0, u:g is kept', () => {
    const o = {name: 'x', configDigest: `sha256:${'d'.repeat(64)}`}
    const none = imageManifest({...config, config: {Cmd: ['/x']}}, o, undefined).app!
    assert.deepEqual([none.user, none.group], ['0', '0'])
    const both = imageManifest({...config, config: {Cmd: ['/x'], User: '1000:50'}}, o, undefined).app!
    assert.deepEqual([both.user, both.group], ['1000', '50'])
  })

  test('arm64 is aarch64 in appc', () => {
    const m = imageManifest({...config, architecture: 'arm64'}, {name: 'x', configDigest: 'sha256:0'}, undefined)
    assert.equal(m.labels.find((l) => l.name === 'arch')?.value, 'aarch64')
  })
})
