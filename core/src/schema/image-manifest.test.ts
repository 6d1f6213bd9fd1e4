/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   fixtures are loose JSON on purpose: the tests feed the parser shapes its types forbid. */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {test} from 'node:test'

import fc from 'fast-check'

import {MAX_MANIFEST_SIZE} from './decode.js'
import {parseImageManifest, serializeImageManifest} from './image-manifest.js'
import {SchemaError} from './schema-error.js'
import {AC_IDENTIFIER_PATTERN} from './types.js'

// Compiled tests run from dist/: fixtures are read from the source tree.
const TESTDATA = new URL('../../src/schema/testdata/', import.meta.url)
const FC = {numRuns: 100, seed: 7}

type Json = Record<string, any>

function manifest(patch: (m: Json) => void = () => {}): Json {
  const m: Json = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'example.com/app',
    app: {exec: ['/bin/sh'], user: '0', group: '0'},
  }
  patch(m)
  return m
}

function withIsolators(...isolators: unknown[]): Json {
  return manifest((m) => (m.app.isolators = isolators))
}

/** Asserts the manifest is rejected in both modes, at `path`. */
function rejects(m: Json, path: string, message?: RegExp): void {
  for (const strict of [false, true]) {
    assert.throws(
      () => parseImageManifest(m, {strict}),
      (err: unknown) => {
        assert.ok(err instanceof SchemaError, String(err))
        assert.equal(err.code, 'ESCHEMA')
        assert.equal(err.path, path, err.message)
        assert.ok(err.message.startsWith(`${path}: `), err.message)
        if (message) assert.match(err.message, message)
        return true
      },
    )
  }
}

/** Asserts the manifest is valid with no warnings, even in strict mode. */
function accepts(m: Json): void {
  assert.deepEqual(parseImageManifest(m, {strict: true}).warnings, [])
}

/** Asserts compat mode accepts with exactly one warning at `path` and strict mode rejects there. */
function warns(m: Json, path: string): void {
  const {warnings} = parseImageManifest(m)
  assert.deepEqual(
    warnings.map((w) => w.path),
    [path],
  )
  assert.ok(warnings[0]?.message.startsWith(`${path}: `))
  assert.throws(
    () => parseImageManifest(m, {strict: true}),
    (err: unknown) => err instanceof SchemaError && err.path === path,
  )
}

// Image manifests appc rejects (its schema code, or its spec text where the code is laxer).

test('✗ acVersion 1.0', () =>
  rejects(
    manifest((m) => (m.acVersion = '1.0')),
    'acVersion',
    /not a SemVer 2\.0\.0/,
  ))
test('✗ missing acVersion', () =>
  rejects(
    manifest((m) => delete m.acVersion),
    'acVersion',
    /must be set/,
  ))
test('✗ uppercase name', () =>
  rejects(
    manifest((m) => (m.name = 'Example.com/app')),
    'name',
  ))
test('✗ trailing-/ name', () =>
  rejects(
    manifest((m) => (m.name = 'example.com/app/')),
    'name',
  ))
test('✗ label "name"', () =>
  rejects(
    manifest((m) => (m.labels = [{name: 'name', value: 'x'}])),
    'labels[0].name',
  ))
test('✗ duplicate label', () => {
  const labels = [
    {name: 'version', value: '1'},
    {name: 'version', value: '2'},
  ]
  rejects(
    manifest((m) => (m.labels = labels)),
    'labels[1].name',
    /duplicate label "version"/,
  )
})
test('✗ os=windows', () =>
  rejects(
    manifest((m) => (m.labels = [{name: 'os', value: 'windows'}])),
    'labels[0].value',
  ))
test('✗ linux + x86_64', () => {
  const m = manifest(
    (m) =>
      (m.labels = [
        {name: 'os', value: 'linux'},
        {name: 'version', value: '1'},
        {name: 'arch', value: 'x86_64'},
      ]),
  )
  assert.throws(() => parseImageManifest(m), {
    message:
      'labels[2].value: arch "x86_64" is not valid for os "linux" (valid: amd64, i386, aarch64, aarch64_be, armv6l, armv7l, armv7b, ppc64, ppc64le, s390x)',
  })
})
test('✗ missing user', () =>
  rejects(
    manifest((m) => delete m.app.user),
    'app.user',
  ))
test('✗ relative workingDirectory', () =>
  rejects(
    manifest((m) => (m.app.workingDirectory = 'opt/app')),
    'app.workingDirectory',
  ))
test('✗ env name 1X', () =>
  rejects(
    manifest((m) => (m.app.environment = [{name: '1X', value: ''}])),
    'app.environment[0].name',
  ))
test('✗ duplicate env', () => {
  const env = [
    {name: 'A', value: '1'},
    {name: 'A', value: '2'},
  ]
  rejects(
    manifest((m) => (m.app.environment = env)),
    'app.environment[1].name',
  )
})
test('✗ handler post-start', () => {
  const m = manifest((m) => (m.app.eventHandlers = [{name: 'post-start', exec: ['/x']}]))
  assert.throws(() => parseImageManifest(m), {
    message: 'app.eventHandlers[0].name: "post-start" is not an event handler name (valid: pre-start, post-stop)',
  })
})
test('✗ two pre-start handlers', () => {
  const h = {name: 'pre-start', exec: ['/x']}
  rejects(
    manifest((m) => (m.app.eventHandlers = [h, h])),
    'app.eventHandlers[1].name',
  )
})
test('✗ port 0', () => {
  const ports = [
    {name: 'a', protocol: 'tcp', port: 80},
    {name: 'b', protocol: 'tcp', port: 0},
  ]
  assert.throws(() => parseImageManifest(manifest((m) => (m.app.ports = ports))), {
    message: 'app.ports[1].port: must be between 1 and 65535, got 0',
  })
})
test('✗ port 65535 with count 2', () => {
  const ports = [{name: 'a', protocol: 'udp', port: 65535, count: 2}]
  assert.throws(() => parseImageManifest(manifest((m) => (m.app.ports = ports))), {
    message: 'app.ports[0].count: the range 65535-65536 goes past port 65535',
  })
})
test('✗ port name p.x', () =>
  rejects(
    manifest((m) => (m.app.ports = [{name: 'p.x', protocol: 'tcp', port: 1}])),
    'app.ports[0].name',
  ))
test('✗ mountPoint name a/b', () =>
  rejects(
    manifest((m) => (m.app.mountPoints = [{name: 'a/b', path: '/a'}])),
    'app.mountPoints[0].name',
  ))
test('✗ unknown app isolator: Go rejects it; we parse it as opaque with a warning, and strict refuses', () => {
  const m = withIsolators({name: 'vendor.com/gpu', value: {count: 1}})
  warns(m, 'app.isolators[0].name')
  assert.deepEqual(parseImageManifest(m).manifest.app?.isolators[0], {
    name: 'vendor.com/gpu',
    value: {count: 1},
    opaque: true,
  })
})
test('✗ memory 1GB', () =>
  rejects(withIsolators({name: 'resource/memory', value: {limit: '1GB'}}), 'app.isolators[0].value.limit'))
test('✗ memory default:true', () => {
  assert.throws(
    () => parseImageManifest(withIsolators({name: 'resource/memory', value: {default: true, limit: '1G'}})),
    {
      message: 'app.isolators[0].value.default: must be false or absent for resource/memory',
    },
  )
})
test('✗ bandwidth without default:true', () =>
  rejects(withIsolators({name: 'resource/network-bandwidth', value: {limit: '1G'}}), 'app.isolators[0].value.default'))
test('✗ block-iops with a request', () =>
  rejects(
    withIsolators({name: 'resource/block-iops', value: {default: true, request: '10', limit: '100'}}),
    'app.isolators[0].value.request',
  ))
test('✗ empty capability set', () =>
  rejects(withIsolators({name: 'os/linux/capabilities-retain-set', value: {set: []}}), 'app.isolators[0].value.set'))
test('✗ two seccomp sets', () => {
  const s = {name: 'os/linux/seccomp-remove-set', value: {set: ['reboot']}}
  assert.throws(() => parseImageManifest(withIsolators(s, s)), {
    message: 'app.isolators[1].name: only one os/linux/seccomp-remove-set isolator is allowed per app',
  })
})
test('✗ seccomp retain + remove', () => {
  const m = withIsolators(
    {name: 'os/linux/seccomp-retain-set', value: {set: ['read']}},
    {name: 'os/linux/seccomp-remove-set', value: {set: ['reboot']}},
  )
  assert.throws(() => parseImageManifest(m), {
    message: 'app.isolators[1].name: os/linux/seccomp-remove-set cannot be combined with os/linux/seccomp-retain-set',
  })
})
test('✗ errno eperm', () =>
  rejects(
    withIsolators({name: 'os/linux/seccomp-remove-set', value: {set: ['reboot'], errno: 'eperm'}}),
    'app.isolators[0].value.errno',
  ))
test('✗ oom-score-adj 1001', () => {
  assert.throws(() => parseImageManifest(withIsolators({name: 'os/linux/oom-score-adj', value: 1001})), {
    message: 'app.isolators[0].value: must be between -1000 and 1000, got 1001',
  })
})
test('✗ cpu-shares 1', () => rejects(withIsolators({name: 'os/linux/cpu-shares', value: 1}), 'app.isolators[0].value'))
test('✗ selinux without level', () =>
  rejects(
    withIsolators({name: 'os/linux/selinux-context', value: {user: 'u', role: 'r', type: 't'}}),
    'app.isolators[0].value.level',
  ))
test('✗ empty apparmor profile', () =>
  rejects(withIsolators({name: 'os/linux/apparmor-profile', value: {profile: ''}}), 'app.isolators[0].value.profile'))
test('✗ two sysctl isolators in an app', () => {
  const s = {name: 'os/unix/sysctl', value: {'net.ipv4.ip_forward': '1'}}
  rejects(withIsolators(s, s), 'app.isolators[1].name')
})
test('✗ sysctl number value', () => {
  assert.throws(
    () => parseImageManifest(withIsolators({name: 'os/unix/sysctl', value: {'net.core.somaxconn': 1024}})),
    {
      message: 'app.isolators[0].value["net.core.somaxconn"]: must be a string, got a number',
    },
  )
})
test('✗ no-new-privileges "true"', () => {
  assert.throws(() => parseImageManifest(withIsolators({name: 'os/linux/no-new-privileges', value: 'true'})), {
    message: 'app.isolators[0].value: must be a boolean (true or false), got a string',
  })
})
test('✗ created with a space', () => {
  const m = manifest((m) => (m.annotations = [{name: 'created', value: '2024-01-01 00:00:00Z'}]))
  assert.throws(() => parseImageManifest(m), {
    message:
      'annotations[0].value: created must be an RFC 3339 timestamp like "2006-01-02T15:04:05Z", got "2024-01-01 00:00:00Z"',
  })
})
test('✗ homepage ftp://', () => {
  const m = manifest((m) => (m.annotations = [{name: 'homepage', value: 'ftp://example.com'}]))
  assert.throws(() => parseImageManifest(m), {
    message: 'annotations[0].value: homepage must be an http or https URL, got "ftp://example.com"',
  })
})
test('✗ duplicate annotation', () => {
  const a = {name: 'authors', value: 'x'}
  rejects(
    manifest((m) => (m.annotations = [a, a])),
    'annotations[1].name',
  )
})
test('✗ uppercase annotation name', () =>
  rejects(
    manifest((m) => (m.annotations = [{name: 'Authors', value: 'x'}])),
    'annotations[0].name',
  ))
test('✗ dependency without imageName', () =>
  rejects(
    manifest((m) => (m.dependencies = [{imageID: `sha512-${'a'.repeat(128)}`}])),
    'dependencies[0].imageName',
  ))
test('✗ sha256 image ID', () => {
  const m = manifest((m) => (m.dependencies = [{imageName: 'example.com/base', imageID: `sha256-${'a'.repeat(64)}`}]))
  assert.throws(() => parseImageManifest(m), {
    message: 'dependencies[0].imageID: hash algorithm "sha256" is not supported (only sha512)',
  })
})

// Image manifests appc accepts, including forms a stricter reader might wrongly refuse.

test('✓ example.com//app (compat: warning; strict: error)', () =>
  warns(
    manifest((m) => (m.name = 'example.com//app')),
    'name',
  ))
test('✓ example.com/~user/app (compat: warning, the spec regex rejects "/~")', () =>
  warns(
    manifest((m) => (m.name = 'example.com/~user/app')),
    'name',
  ))
test('✓ my_app', () => accepts(manifest((m) => (m.name = 'my_app'))))
test('✓ arch without os', () => accepts(manifest((m) => (m.labels = [{name: 'arch', value: 'sparc'}]))))
test('✓ no exec', () => {
  const {manifest: parsed} = parseImageManifest(manifest((m) => delete m.app.exec))
  assert.equal(parsed.app?.exec, undefined)
})
test('✓ app: null', () => {
  const {manifest: parsed} = parseImageManifest(
    manifest((m) => (m.app = null)),
    {strict: true},
  )
  assert.equal('app' in parsed, false)
})
test('✓ acVersion 0.1.0', () => accepts(manifest((m) => (m.acVersion = '0.1.0'))))
test('✓ acVersion 9.0.0 (compat: the major differs from 0, a warning)', () =>
  warns(
    manifest((m) => (m.acVersion = '9.0.0')),
    'acVersion',
  ))
test('✓ a port without protocol (warning: the spec requires one)', () =>
  warns(
    manifest((m) => (m.app.ports = [{name: 'www', port: 80}])),
    'app.ports[0].protocol',
  ))
test('✓ a mountPoint without path (warning)', () =>
  warns(
    manifest((m) => (m.app.mountPoints = [{name: 'data'}])),
    'app.mountPoints[0].path',
  ))
test('✓ capabilities retain + remove (warning)', () =>
  warns(
    withIsolators(
      {name: 'os/linux/capabilities-retain-set', value: {set: ['CAP_KILL']}},
      {name: 'os/linux/capabilities-remove-set', value: {set: ['CAP_MKNOD']}},
    ),
    'app.isolators[1].name',
  ))
test('✓ NOT_A_CAP', () =>
  accepts(withIsolators({name: 'os/linux/capabilities-retain-set', value: {set: ['NOT_A_CAP']}})))
test('✓ imageID sha512-zz (warning)', () =>
  warns(
    manifest((m) => (m.dependencies = [{imageName: 'example.com/base', imageID: 'sha512-zz'}])),
    'dependencies[0].imageID',
  ))
test('✓ relative pathWhitelist entry (warning)', () =>
  warns(
    manifest((m) => (m.pathWhitelist = ['/bin/sh', 'etc/passwd'])),
    'pathWhitelist[1]',
  ))
test('✓ mixed-case keys: ACKIND warns, supplementaryGids is silent', () => {
  const m = manifest((m) => {
    delete m.acKind
    m.ACKIND = 'ImageManifest'
    m.app.supplementaryGids = [10, 20]
  })
  const {manifest: parsed, warnings} = parseImageManifest(m)
  assert.deepEqual(warnings, [{path: 'acKind', message: 'acKind: key "ACKIND" should be spelled "acKind"'}])
  assert.deepEqual(parsed.app?.supplementaryGIDs, [10, 20])
  assert.throws(() => parseImageManifest(m, {strict: true}), {
    message: 'acKind: key "ACKIND" should be spelled "acKind"',
  })
  accepts(manifest((m) => (m.app.supplementaryGids = [10])))
})
test('✓ unknown top-level keys are ignored and dropped on serialize', () => {
  const m = manifest((m) => (m.vendorExtension = {x: 1}))
  const {manifest: parsed} = parseImageManifest(m, {strict: true})
  assert.equal(serializeImageManifest(parsed).includes('vendorExtension'), false)
})
test('✓ memory limit as a bare number', () => {
  const {manifest: parsed} = parseImageManifest(withIsolators({name: 'resource/memory', value: {limit: 1073741824}}))
  const memory = parsed.app?.isolators[0]
  assert.ok(memory?.name === 'resource/memory' && !('opaque' in memory))
  assert.equal(memory.value.limit?.value, 1073741824n)
  assert.match(serializeImageManifest(parsed), /"limit":"1073741824"/)
})

// Compat-versus-strict for the remaining warning categories.

test('warning: port protocol other than tcp/udp', () => {
  const ports = [
    {name: 'a', protocol: 'tcp', port: 80},
    {name: 'b', protocol: 'sctp', port: 81},
  ]
  const m = manifest((m) => (m.app.ports = ports))
  assert.deepEqual(parseImageManifest(m).warnings, [
    {path: 'app.ports[1].protocol', message: 'app.ports[1].protocol: should be tcp or udp'},
  ])
  assert.throws(() => parseImageManifest(m, {strict: true}), {message: 'app.ports[1].protocol: should be tcp or udp'})
})
test('warning: AC Name a--b in a port name', () =>
  warns(
    manifest((m) => (m.app.ports = [{name: 'a--b', protocol: 'tcp', port: 1}])),
    'app.ports[0].name',
  ))
test('warning: port count 0 (Go reads it as 1)', () => {
  const m = manifest((m) => (m.app.ports = [{name: 'a', protocol: 'tcp', port: 1, count: 0}]))
  warns(m, 'app.ports[0].count')
  assert.equal(parseImageManifest(m).manifest.app?.ports[0]?.count, 1)
})
test('warning: negative supplementary GID', () =>
  warns(
    manifest((m) => (m.app.supplementaryGIDs = [-1])),
    'app.supplementaryGIDs[0]',
  ))
test('warning: nested key in another case', () =>
  warns(
    manifest((m) => (m.app.ports = [{NAME: 'www', protocol: 'tcp', port: 80}])),
    'app.ports[0].name',
  ))

// Defaults, field shapes and serialization.

test('serialization fills actool defaults and uses spec key order', () => {
  const m = manifest((m) => {
    m.annotations = [{name: 'authors', value: 'me'}]
    m.pathWhitelist = ['/bin/sh']
    m.dependencies = [{imageName: 'example.com/base', size: 0}]
    m.labels = [{name: 'os', value: 'linux'}]
    m.app.ports = [{name: 'www', protocol: 'tcp', port: 80}]
  })
  const text = serializeImageManifest(parseImageManifest(m).manifest)
  assert.equal(
    text,
    '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/app","labels":[{"name":"os","value":"linux"}],' +
      '"app":{"exec":["/bin/sh"],"user":"0","group":"0","ports":[{"name":"www","protocol":"tcp","port":80,"count":1,"socketActivated":false}]},' +
      '"dependencies":[{"imageName":"example.com/base","size":0}],"pathWhitelist":["/bin/sh"],"annotations":[{"name":"authors","value":"me"}]}',
  )
})

test('serialize refuses a manifest that would not parse back', () => {
  const {manifest: parsed} = parseImageManifest(manifest())
  assert.throws(() => serializeImageManifest({...parsed, name: 'Bad Name'}), {
    message: /^name: "Bad Name" is not a valid AC Identifier/,
  })
})

test('type errors name the field, the expected type and what was found', () => {
  assert.throws(() => parseImageManifest(manifest((m) => (m.app.user = 0))), {
    message: 'app.user: must be a string, got a number',
  })
  assert.throws(() => parseImageManifest(manifest((m) => (m.labels = {os: 'linux'}))), {
    message: 'labels: must be a list, got an object',
  })
  assert.throws(() => parseImageManifest(manifest((m) => (m.acKind = 'PodManifest'))), {
    message: 'acKind: must be "ImageManifest", got "PodManifest"',
  })
  rejects(
    manifest((m) => (m.app.userLabels = {team: 5})),
    'app.userLabels["team"]',
  )
  rejects(
    manifest((m) => (m.acVersion = '0.0.0')),
    'acVersion',
  )
})

// Hostile input.

test('hostile input: size limit, non-objects, bad JSON and bad bytes all give SchemaError', () => {
  const big = JSON.stringify(
    manifest((m) => (m.annotations = [{name: 'authors', value: 'x'.repeat(MAX_MANIFEST_SIZE)}])),
  )
  assert.throws(() => parseImageManifest(big), {
    message: `manifest: is ${Buffer.byteLength(big)} bytes, larger than the 1048576-byte limit`,
  })
  assert.throws(() => parseImageManifest('[1]'), {message: 'manifest: must be a JSON object, got an array'})
  assert.throws(() => parseImageManifest('null'), {message: 'manifest: must be a JSON object, got null'})
  assert.throws(() => parseImageManifest('{"acKind":'), {message: /^manifest: invalid JSON: /})
  assert.throws(() => parseImageManifest(new Uint8Array([0x7b, 0xff, 0x7d])), {message: 'manifest: is not valid UTF-8'})
  assert.throws(() => parseImageManifest(42), {message: 'manifest: must be a JSON object, got a number'})
  assert.throws(() => parseImageManifest(undefined), /^SchemaError|manifest: invalid JSON/)
  const cyclic: Json = manifest()
  cyclic.self = cyclic
  assert.throws(() => parseImageManifest(cyclic), {message: /^manifest: is not JSON-serializable/})
  const getter = Object.defineProperty(manifest(), 'name', {
    enumerable: true,
    get() {
      throw new Error('boom')
    },
  })
  assert.throws(() => parseImageManifest(getter), SchemaError)
  const deep = `{"acKind":"ImageManifest","x":${'['.repeat(5000)}${']'.repeat(5000)}}`
  assert.throws(() => parseImageManifest(deep), {message: 'manifest: JSON is nested deeper than 100 levels'})
  const ok = parseImageManifest(new TextEncoder().encode(JSON.stringify(manifest())))
  assert.equal(ok.manifest.name, 'example.com/app')
})

test('property: arbitrary JSON never makes parse throw anything but SchemaError', () => {
  const mutated = fc.tuple(
    fc.constantFrom('acKind', 'acVersion', 'name', 'labels', 'app', 'dependencies'),
    fc.jsonValue(),
  )
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        mutated.map(([k, v]) => ({...manifest(), [k]: v})),
      ),
      (input) => {
        try {
          parseImageManifest(input)
        } catch (err) {
          assert.ok(err instanceof SchemaError, String(err))
        }
      },
    ),
    {numRuns: 300, seed: 99},
  )
})

// testdata/image.json sets every image manifest field, with two values a compatible reader must accept: a
// placeholder dependency imageID (only its format is checked, with a warning) and a well-formed errno that
// names no real error.

test('testdata image.json parses, round-trips exactly, and fails strict on the placeholder imageID', () => {
  const text = readFileSync(new URL('image.json', TESTDATA), 'utf8')
  const first = parseImageManifest(text)
  assert.deepEqual(
    first.warnings.map((w) => w.path),
    ['dependencies[0].imageID'],
  )
  const out = serializeImageManifest(first.manifest)
  const second = parseImageManifest(out)
  assert.deepEqual(second.manifest, first.manifest)
  assert.equal(serializeImageManifest(second.manifest), out)
  assert.equal(serializeImageManifest(first.manifest, {pretty: true}), JSON.stringify(JSON.parse(out), null, 4))
  assert.throws(() => parseImageManifest(text, {strict: true}), {
    message:
      'dependencies[0].imageID: "sha512-pending" is not a canonical image ID ("sha512-" followed by 128 lowercase hex digits)',
  })
  const app = first.manifest.app
  assert.equal(app?.ports[0]?.count, 1)
  assert.equal(app?.isolators.length, 5)
})

test('property: an image name is accepted in strict mode iff it matches the AC Identifier grammar', () => {
  const chars = fc.constantFrom('a', '0', '-', '.', '_', '~', '/', 'B', '%')
  fc.assert(
    fc.property(fc.oneof(fc.string({unit: chars, maxLength: 10}), fc.stringMatching(AC_IDENTIFIER_PATTERN)), (name) => {
      let accepted = true
      try {
        parseImageManifest(
          manifest((m) => (m.name = name)),
          {strict: true},
        )
      } catch (err) {
        assert.ok(err instanceof SchemaError && err.path === 'name', String(err))
        accepted = false
      }
      assert.equal(accepted, AC_IDENTIFIER_PATTERN.test(name), name)
    }),
    FC,
  )
})

// Generated manifests round-trip.

const identifier = fc
  .stringMatching(/^[a-z0-9]{1,8}([-._~/][a-z0-9]{1,8}){0,3}$/)
  .filter((s) => /^[a-z0-9]+([-._~/][a-z0-9]+)*$/.test(s))
const acName = fc.stringMatching(/^[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}$/)
const text = fc.string({maxLength: 12})
const quantity = fc.oneof(
  fc.constantFrom('250m', '1G', '128Mi', '1e3', '0.5', '2Ki'),
  fc.bigInt(0n, 10n ** 12n).map(String),
)
const isolator = fc.oneof(
  fc.record({name: fc.constant('resource/memory'), value: fc.record({limit: quantity}, {requiredKeys: []})}),
  fc.record({name: fc.constant('resource/cpu'), value: fc.record({request: quantity, limit: quantity})}),
  fc.record({
    name: fc.constant('resource/block-iops'),
    value: fc.record({default: fc.constant(true), limit: quantity}),
  }),
  fc.record({name: fc.constant('os/linux/no-new-privileges'), value: fc.boolean()}),
  fc.record({
    name: fc.constant('os/linux/capabilities-remove-set'),
    value: fc.record({set: fc.array(text, {minLength: 1})}),
  }),
)
const labels = fc
  .uniqueArray(fc.record({name: identifier.filter((n) => !['name', 'os', 'arch'].includes(n)), value: text}), {
    selector: (l) => l.name,
    maxLength: 3,
  })
  .chain((ls) =>
    fc
      .option(fc.constantFrom(['linux', 'amd64'], ['freebsd', 'arm'], ['darwin', 'x86_64']), {nil: undefined})
      .map((osArch) =>
        osArch === undefined ? ls : [...ls, {name: 'os', value: osArch[0]}, {name: 'arch', value: osArch[1]}],
      ),
  )
const app = fc.record(
  {
    exec: fc.array(text, {maxLength: 3}),
    user: text.filter((s) => s !== ''),
    group: text.filter((s) => s !== ''),
    supplementaryGIDs: fc.array(fc.nat(65535), {maxLength: 2}),
    eventHandlers: fc.subarray([
      {name: 'pre-start', exec: ['/pre']},
      {name: 'post-stop', exec: ['/post', '-v']},
    ]),
    workingDirectory: fc.constantFrom('/', '/opt/app'),
    environment: fc.uniqueArray(fc.record({name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), value: text}), {
      selector: (e) => e.name,
      maxLength: 3,
    }),
    isolators: fc.array(isolator, {maxLength: 3}),
    mountPoints: fc.array(fc.record({name: acName, path: fc.constant('/data'), readOnly: fc.boolean()}), {
      maxLength: 2,
    }),
    ports: fc.array(
      fc.record(
        {
          name: acName,
          protocol: fc.constantFrom('tcp', 'udp'),
          port: fc.integer({min: 1, max: 60000}),
          count: fc.integer({min: 1, max: 100}),
          socketActivated: fc.boolean(),
        },
        {requiredKeys: ['name', 'protocol', 'port']},
      ),
      {maxLength: 2},
    ),
    userAnnotations: fc.dictionary(text, text, {maxKeys: 2}),
    userLabels: fc.dictionary(text, text, {maxKeys: 2}),
  },
  {requiredKeys: ['user', 'group']},
)
const imageManifest = fc.record(
  {
    acKind: fc.constant('ImageManifest'),
    acVersion: fc.constantFrom('0.8.11', '0.1.0', '0.8.11+git', '0.9.0-rc.1'),
    name: identifier,
    labels,
    app,
    dependencies: fc.array(
      fc.record(
        {
          imageName: identifier,
          imageID: fc.stringMatching(/^[0-9a-f]{128}$/).map((h) => `sha512-${h}`),
          labels,
          size: fc.nat(),
        },
        {requiredKeys: ['imageName']},
      ),
      {maxLength: 2},
    ),
    pathWhitelist: fc.array(fc.constantFrom('/bin/sh', '/etc/', '/usr/lib/x.so'), {maxLength: 3}),
    annotations: fc.uniqueArray(
      fc.oneof(
        fc.record({name: identifier.filter((n) => !['created', 'homepage', 'documentation'].includes(n)), value: text}),
        fc.constant({name: 'created', value: '2014-10-27T19:32:27.67021798Z'}),
        fc.constant({name: 'homepage', value: 'https://example.com'}),
      ),
      {selector: (a) => a.name, maxLength: 3},
    ),
  },
  {requiredKeys: ['acKind', 'acVersion', 'name']},
)

test('property: generated valid image manifests parse strictly and round-trip', () => {
  fc.assert(
    fc.property(imageManifest, (raw) => {
      const first = parseImageManifest(raw, {strict: true})
      const out = serializeImageManifest(first.manifest)
      const second = parseImageManifest(out, {strict: true})
      assert.deepEqual(second.manifest, first.manifest)
      assert.equal(serializeImageManifest(second.manifest), out)
    }),
    FC,
  )
})
