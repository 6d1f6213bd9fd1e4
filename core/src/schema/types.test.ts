import assert from 'node:assert/strict'
import {posix} from 'node:path'
import {test} from 'node:test'

import fc from 'fast-check'

import {SchemaError} from './schema-error.js'
import {
  AC_IDENTIFIER_PATTERN,
  compareSemVer,
  isACIdentifier,
  isACName,
  isCanonicalImageId,
  isHttpUrl,
  isTimestamp,
  parseSemVer,
  parseTimestamp,
  validateACIdentifier,
  validateACName,
} from './types.js'

const FC = {numRuns: 200, seed: 20240101}

test('AC Identifier: spec examples pass, Go-only forms warn, and Go rejects stay errors', () => {
  for (const id of ['database', 'example.com/ourapp', 'sub-domain.example.com/org/product/release', 'my_app']) {
    assert.deepEqual(validateACIdentifier(id, {strict: true}), [], id)
  }
  // spec/types.md lists it as an example, yet "/~" breaks the spec's own regex: compat warns, strict refuses.
  assert.equal(validateACIdentifier('example.com/~user/app_v1').length, 1)
  assert.throws(() => validateACIdentifier('example.com/~user/app_v1', {strict: true}), SchemaError)
  const warnings = validateACIdentifier('example.com//app')
  assert.deepEqual(warnings, [
    {
      path: 'name',
      message:
        'name: "example.com//app" is not a valid AC Identifier: each separator ("-._~/") must sit between two letters or digits',
    },
  ])
  assert.throws(() => validateACIdentifier('example.com//app', {strict: true}), SchemaError)
  assert.throws(() => validateACIdentifier('Example.com/app'), {
    message:
      'name: "Example.com/app" is not a valid AC Identifier: only lowercase letters, digits and "-._~/" are allowed',
  })
  assert.throws(() => validateACIdentifier('example.com/app/'), {
    message:
      'name: "example.com/app/" is not a valid AC Identifier: it must start and end with a lowercase letter or digit',
  })
  assert.throws(() => validateACIdentifier(''), {message: 'name: must not be empty'})
})

test('AC Identifier: a ".." segment is refused even though Go accepts it (names become paths)', () => {
  assert.throws(() => validateACIdentifier('a/../b'), /must not contain a "\.\." path segment/)
})

test('AC Name: a--b warns (Go accepts), dots and slashes are errors', () => {
  assert.equal(isACName('product-database'), true)
  assert.equal(validateACName('a--b').length, 1)
  assert.throws(() => validateACName('a--b', {strict: true}), /"a--b" is not a valid AC Name/)
  assert.throws(() => validateACName('p.x'), /only lowercase letters, digits and "-" are allowed/)
  assert.throws(() => validateACName('a/b'), SchemaError)
})

const identifierish = fc.string({
  unit: fc.constantFrom('a', 'z', '0', '9', '-', '.', '_', '~', '/', 'A', ' '),
  maxLength: 12,
})

test('property: strict mode accepts an identifier iff it matches the spec grammar', () => {
  fc.assert(
    fc.property(fc.oneof(identifierish, fc.stringMatching(AC_IDENTIFIER_PATTERN)), (s) => {
      let accepted = true
      try {
        validateACIdentifier(s, {strict: true})
      } catch (err) {
        assert.ok(err instanceof SchemaError)
        accepted = false
      }
      assert.equal(accepted, AC_IDENTIFIER_PATTERN.test(s))
    }),
    FC,
  )
})

test('property: any accepted identifier joined under a base path stays under it (compat and strict)', () => {
  const base = '/var/lib/rkt/images'
  fc.assert(
    fc.property(fc.oneof(identifierish, fc.stringMatching(AC_IDENTIFIER_PATTERN)), fc.boolean(), (s, strict) => {
      try {
        validateACIdentifier(s, {strict})
      } catch {
        return
      }
      const joined = posix.join(base, s)
      assert.ok(joined.startsWith(`${base}/`), `${s} -> ${joined}`)
    }),
    FC,
  )
})

test('isACIdentifier mirrors the regex', () => {
  assert.equal(isACIdentifier('a.b'), true)
  assert.equal(isACIdentifier('a..b'), false)
})

test('SemVer: parse, reject non-SemVer, and order by precedence', () => {
  assert.deepEqual(parseSemVer('0.8.11'), {major: 0, minor: 8, patch: 11, prerelease: [], build: []})
  assert.deepEqual(parseSemVer('1.0.0-rc.1+build.5')?.prerelease, ['rc', '1'])
  for (const bad of ['1.0', '01.2.3', '1.2.3-', 'v1.2.3', '']) assert.equal(parseSemVer(bad), undefined, bad)
  const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11']
  const more = ['1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0']
  const versions = [...order, ...more].map((v) => parseSemVer(v) as NonNullable<ReturnType<typeof parseSemVer>>)
  for (let i = 1; i < versions.length; i++) {
    assert.ok(compareSemVer(versions[i - 1]!, versions[i]!) < 0, `${i}`)
    assert.ok(compareSemVer(versions[i]!, versions[i - 1]!) > 0, `${i}`)
  }
  assert.equal(compareSemVer(parseSemVer('1.0.0+a')!, parseSemVer('1.0.0+b')!), 0)
})

test('timestamps: RFC 3339 with T only, real calendar dates', () => {
  assert.equal(isTimestamp('2014-10-27T19:32:27.67021798Z'), true)
  assert.equal(isTimestamp('2015-05-18T13:49:28.351729952-04:00'), true)
  assert.equal(isTimestamp('2024-02-29T00:00:00Z'), true)
  for (const bad of ['2024-01-01 00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00']) {
    assert.equal(isTimestamp(bad), false, bad)
  }
  assert.equal(parseTimestamp('2024-01-01T00:00:00Z').toISOString(), '2024-01-01T00:00:00.000Z')
  assert.throws(() => parseTimestamp('yesterday'), SchemaError)
})

test('URLs: only http and https schemes', () => {
  assert.equal(isHttpUrl('https://example.com'), true)
  assert.equal(isHttpUrl('HTTP://example.com/docs'), true)
  assert.equal(isHttpUrl('ftp://example.com'), false)
  assert.equal(isHttpUrl('example.com'), false)
  assert.equal(isHttpUrl('http://exa\nmple.com'), false)
})

test('image IDs: only sha512 + 128 lowercase hex is canonical', () => {
  const hex = 'a'.repeat(128)
  assert.equal(isCanonicalImageId(`sha512-${hex}`), true)
  assert.equal(isCanonicalImageId(`sha512-${hex.slice(0, 32)}`), false)
  assert.equal(isCanonicalImageId(`sha512-${hex.toUpperCase()}`), false)
  assert.equal(isCanonicalImageId('sha512-...'), false)
  assert.equal(isCanonicalImageId(`sha256-${hex.slice(0, 64)}`), false)
})
