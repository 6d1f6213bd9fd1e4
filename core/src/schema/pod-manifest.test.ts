/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   fixtures are loose JSON on purpose: the tests feed the parser shapes its types forbid. */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {test} from 'node:test'

import {parseManifest} from './manifest.js'
import {parsePodManifest, serializePodManifest} from './pod-manifest.js'
import {SchemaError} from './schema-error.js'

// Compiled tests run from dist/: fixtures are read from the source tree.
const TESTDATA = new URL('../../src/schema/testdata/', import.meta.url)
const ID = `sha512-${'0123456789abcdef'.repeat(8)}`

type Json = Record<string, any>

function pod(patch: (m: Json) => void = () => {}): Json {
  const m: Json = {
    acKind: 'PodManifest',
    acVersion: '0.8.11',
    apps: [{name: 'web', image: {name: 'example.com/web', id: ID}}],
    volumes: [],
  }
  patch(m)
  return m
}

function rejects(m: Json, path: string, message?: string): void {
  for (const strict of [false, true]) {
    assert.throws(
      () => parsePodManifest(m, {strict}),
      (err: unknown) => {
        assert.ok(err instanceof SchemaError, String(err))
        assert.equal(err.path, path, err.message)
        if (message !== undefined) assert.equal(err.message, message)
        return true
      },
    )
  }
}

function accepts(m: Json): void {
  assert.deepEqual(parsePodManifest(m, {strict: true}).warnings, [])
}

function warns(m: Json, path: string): void {
  assert.deepEqual(
    parsePodManifest(m).warnings.map((w) => w.path),
    [path],
  )
  assert.throws(
    () => parsePodManifest(m, {strict: true}),
    (err: unknown) => err instanceof SchemaError && err.path === path,
  )
}

const hostVolume = {name: 'data', kind: 'host', source: '/srv/data'}

// Pod manifests appc rejects (its schema code, or its spec text where the code is laxer).

test('✗ duplicate app', () =>
  rejects(
    pod((m) => m.apps.push({name: 'web', image: {id: ID}})),
    'apps[1].name',
    'apps[1].name: duplicate app name "web"',
  ))
test('✗ app name a.b', () =>
  rejects(
    pod((m) => (m.apps[0].name = 'a.b')),
    'apps[0].name',
  ))
test('✗ duplicate volume', () =>
  rejects(
    pod((m) => (m.volumes = [hostVolume, hostVolume])),
    'volumes[1].name',
    'volumes[1].name: duplicate volume name "data"',
  ))
test('✗ empty volume with source', () =>
  rejects(
    pod((m) => (m.volumes = [{name: 'v', kind: 'empty', source: '/x'}])),
    'volumes[0].source',
    'volumes[0].source: must not be set for an empty volume',
  ))
test('✗ host volume without source', () =>
  rejects(
    pod((m) => (m.volumes = [{name: 'v', kind: 'host'}])),
    'volumes[0].source',
  ))
test('✗ host volume with a relative source', () =>
  rejects(
    pod((m) => (m.volumes = [{name: 'v', kind: 'host', source: 'srv/data'}])),
    'volumes[0].source',
    'volumes[0].source: must be an absolute path, got "srv/data"',
  ))
test('✗ host volume with mode', () =>
  rejects(
    pod((m) => (m.volumes = [{...hostVolume, mode: '0755'}])),
    'volumes[0].mode',
  ))
test('✗ host volume with uid', () =>
  rejects(
    pod((m) => (m.volumes = [{...hostVolume, uid: 0}])),
    'volumes[0].uid',
  ))
test('✗ kind tmpfs', () =>
  rejects(
    pod((m) => (m.volumes = [{name: 'v', kind: 'tmpfs'}])),
    'volumes[0].kind',
    'volumes[0].kind: "tmpfs" is not a volume kind (valid: empty, host)',
  ))
test('✗ numeric mode', () =>
  rejects(
    pod((m) => (m.volumes = [{name: 'v', kind: 'empty', mode: 755}])),
    'volumes[0].mode',
    'volumes[0].mode: must be a string, got a number',
  ))
test('✗ bad hostIP', () =>
  rejects(
    pod((m) => (m.ports = [{name: 'www', hostPort: 8080, hostIP: '300.1.2.3'}])),
    'ports[0].hostIP',
    'ports[0].hostIP: "300.1.2.3" is not an IP address (e.g. "203.0.113.23")',
  ))
test('✗ podPort with port 0', () =>
  rejects(
    pod((m) => (m.ports = [{name: 'www', hostPort: 8080, podPort: {name: 'www', protocol: 'tcp', port: 0}}])),
    'ports[0].podPort.port',
  ))

// Pod manifests appc accepts, including forms a stricter reader might wrongly refuse.

test('✓ no acVersion (compat: warning; strict: error)', () =>
  warns(
    pod((m) => delete m.acVersion),
    'acVersion',
  ))
test('✓ app without image id (a template)', () => accepts(pod((m) => delete m.apps[0].image.id)))
test('✓ mount with an undefined volume', () =>
  accepts(pod((m) => (m.apps[0].mounts = [{volume: 'nowhere', path: '/x'}]))))
test('✓ mount with a missing volume (warning)', () =>
  warns(
    pod((m) => (m.apps[0].mounts = [{path: '/x'}])),
    'apps[0].mounts[0].volume',
  ))
test('✓ app name a--b (warning)', () =>
  warns(
    pod((m) => (m.apps[0].name = 'a--b')),
    'apps[0].name',
  ))
test('✓ unknown and duplicate pod isolators', () => {
  const sysctl = {name: 'os/unix/sysctl', value: {'net.ipv4.ip_forward': '1'}}
  accepts(pod((m) => (m.isolators = [sysctl, sysctl, {name: 'vendor.com/x', value: 1}])))
})
test('✓ hostPort 0', () => accepts(pod((m) => (m.ports = [{name: 'www', hostPort: 0}]))))
test('✓ mode "rwx" (Go does not check it; a warning here)', () =>
  warns(
    pod((m) => (m.volumes = [{name: 'v', kind: 'empty', mode: 'rwx'}])),
    'volumes[0].mode',
  ))

// Other rules.

test('pod image IDs: non-canonical warns, other algorithms fail', () => {
  warns(
    pod((m) => (m.apps[0].image.id = 'sha512-...')),
    'apps[0].image.id',
  )
  rejects(
    pod((m) => (m.apps[0].image.id = `sha384-${'a'.repeat(96)}`)),
    'apps[0].image.id',
  )
})

test('the app override uses the image manifest app rules', () => {
  rejects(
    pod((m) => (m.apps[0].app = {user: '0', group: '0', ports: [{name: 'a', protocol: 'tcp', port: 70000}]})),
    'apps[0].app.ports[0].port',
  )
  warns(
    pod((m) => (m.apps[0].app = {user: '0', group: '0', isolators: [{name: 'x/y', value: 1}]})),
    'apps[0].app.isolators[0].name',
  )
})

test('empty volumes get Go defaults; hostIP accepts IPv4 and warns on IPv6', () => {
  const {manifest} = parsePodManifest(pod((m) => (m.volumes = [{name: 'v', kind: 'empty', readOnly: true}])))
  assert.deepEqual(manifest.volumes, [{name: 'v', kind: 'empty', readOnly: true, mode: '0755', uid: 0, gid: 0}])
  accepts(pod((m) => (m.ports = [{name: 'www', hostPort: 80, hostIP: '203.0.113.23'}])))
  warns(
    pod((m) => (m.ports = [{name: 'www', hostPort: 80, hostIP: '::1'}])),
    'ports[0].hostIP',
  )
  rejects(
    pod((m) => (m.ports = [{name: 'www', hostPort: 80, hostIP: 'fe80::1%eth0'}])),
    'ports[0].hostIP',
  )
})

test('appVolume inline volumes are validated and round-trip', () => {
  const m = pod(
    (m) => (m.apps[0].mounts = [{volume: 'scratch', path: '/tmp', appVolume: {name: 'scratch', kind: 'empty'}}]),
  )
  const {manifest} = parsePodManifest(m, {strict: true})
  assert.deepEqual(parsePodManifest(serializePodManifest(manifest)).manifest, manifest)
  rejects(
    pod((m) => (m.apps[0].mounts = [{volume: 'x', path: '/x', appVolume: {name: 'x', kind: 'host'}}])),
    'apps[0].mounts[0].appVolume.source',
  )
})

test('serialization writes empty pod lists as [] (the metadata service must serve [] not null)', () => {
  const {manifest} = parsePodManifest(pod((m) => delete m.volumes))
  const json = JSON.parse(serializePodManifest(manifest)) as Json
  assert.deepEqual([json.volumes, json.isolators, json.annotations, json.ports], [[], [], [], []])
  assert.equal(Object.keys(json).join(','), 'acKind,acVersion,apps,volumes,isolators,annotations,ports')
})

// testdata/pod-runtime.json: a reified pod of three apps with full image IDs, one overriding its image's app,
// host and empty volumes, pod isolators and an annotation. testdata/pod-template.json: a template, where two
// apps name their image without an ID, at an older 0.x acVersion; valid, though not runnable as is.
for (const file of ['pod-runtime.json', 'pod-template.json']) {
  test(`testdata ${file} parses strictly and round-trips exactly`, () => {
    const first = parsePodManifest(readFileSync(new URL(file, TESTDATA), 'utf8'), {strict: true})
    assert.deepEqual(first.warnings, [])
    const out = serializePodManifest(first.manifest)
    const second = parsePodManifest(out, {strict: true})
    assert.deepEqual(second.manifest, first.manifest)
    assert.equal(serializePodManifest(second.manifest), out)
  })
}

test('testdata pod-runtime.json exposes typed values', () => {
  const {manifest} = parsePodManifest(readFileSync(new URL('pod-runtime.json', TESTDATA), 'utf8'))
  assert.equal(manifest.apps.length, 3)
  assert.deepEqual(manifest.volumes[0], {
    name: 'media',
    kind: 'host',
    source: '/srv/media',
    readOnly: true,
  })
  const memory = manifest.isolators[0]
  assert.ok(memory?.name === 'resource/memory' && !('opaque' in memory))
  assert.equal(memory.value.limit?.value, 2_000_000_000n)
})

test('parseManifest picks the schema from acKind', () => {
  const image = parseManifest(readFileSync(new URL('image.json', TESTDATA), 'utf8'))
  assert.equal(image.kind, 'ImageManifest')
  const p = parseManifest(readFileSync(new URL('pod-template.json', TESTDATA)))
  assert.equal(p.kind, 'PodManifest')
  assert.throws(() => parseManifest('{"acKind":"Thing"}'), {
    message: 'acKind: "Thing" is not a manifest kind (valid: ImageManifest, PodManifest)',
  })
  assert.throws(() => parseManifest('{}'), {message: 'acKind: must be set to "ImageManifest" or "PodManifest"'})
})
