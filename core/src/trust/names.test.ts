import assert from 'node:assert/strict'
import path from 'node:path'
import {test} from 'node:test'

import fc from 'fast-check'

import {UsageError} from '../errors.js'
import {coveringPrefixes, isACIdentifier, prefixCovers, validatePrefix} from './names.js'

// Random AC identifiers, biased towards shared components and letters so siblings like app/application occur.
const acIdentifier = fc
  .array(fc.array(fc.constantFrom('a', 'p', 'b', '1', '.', '-', 'app', 'lication'), {minLength: 1, maxLength: 4}), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) => parts.map((p) => p.join('')).join('/'))
  .filter(isACIdentifier)

test('AC identifiers: the appc syntax, nothing that could escape a directory (SEC-55, FZ-03)', () => {
  for (const ok of ['example.com', 'example.com/app', 'coreos.com/etcd', 'a', 'a-b_c~d.e/f', '1/2/3']) {
    assert.equal(isACIdentifier(ok), true, ok)
  }
  for (const bad of [
    '',
    'Example.com',
    '/x',
    'x/',
    'a//b',
    'example.com/../../etc',
    '..',
    '.',
    'a/./b',
    '-a',
    'a-',
    'a b',
    'a\0b',
    'a\nb',
    'x'.repeat(513),
  ]) {
    assert.equal(isACIdentifier(bad), false, JSON.stringify(bad))
  }
})

test('every accepted identifier is a safe relative path (FZ-03)', () => {
  fc.assert(
    fc.property(fc.string({unit: fc.constantFrom('a', '.', '/', '-', '_', '~', 'Z', '\\')}), (s) => {
      if (!isACIdentifier(s)) return
      const base = '/base/prefix.d'
      const joined = path.join(base, ...s.split('/'))
      assert.ok(joined.startsWith(base + '/'), joined)
      assert.equal(path.relative(base, joined).split(path.sep).join('/'), s)
    }),
    {numRuns: 2000},
  )
})

test('prefix covers a name iff equal or a leading run of whole components (SEC-42, FZ-08)', () => {
  assert.equal(prefixCovers('example.com/app', 'example.com/app'), true)
  assert.equal(prefixCovers('example.com/app', 'example.com/app/sub'), true)
  assert.equal(prefixCovers('example.com/app', 'example.com/application'), false)
  assert.equal(prefixCovers('example.com/app', 'example.com/apps'), false)
  assert.equal(prefixCovers('example.com/app', 'example.com'), false)
  fc.assert(
    fc.property(acIdentifier, acIdentifier, (p, n) => {
      const oracle = n === p || n.startsWith(p + '/')
      assert.equal(prefixCovers(p, n), oracle)
      assert.equal(coveringPrefixes(n).includes(p), oracle)
    }),
    {numRuns: 2000},
  )
})

test('coveringPrefixes walks up by components', () => {
  assert.deepEqual(coveringPrefixes('a.com/b/c'), ['a.com', 'a.com/b', 'a.com/b/c'])
  assert.deepEqual(coveringPrefixes('a'), ['a'])
})

test('validatePrefix rejects bad prefixes as usage errors with the fix (SEC-55)', () => {
  for (const bad of ['example.com/../../etc', 'Example.com', '/x', '', 'a//b']) {
    assert.throws(
      () => validatePrefix(bad),
      (err: unknown) => {
        assert.ok(err instanceof UsageError)
        assert.match(err.message, /invalid trust prefix/)
        assert.match(err.hint ?? '', /rkt trust --prefix=/)
        return true
      },
    )
  }
  assert.throws(() => validatePrefix('Example.com'), /did you mean example\.com\?/)
  assert.doesNotThrow(() => validatePrefix('example.com/app'))
})
