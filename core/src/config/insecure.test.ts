import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {UsageError} from '../errors.js'
import {INSECURE_OPTION_VALUES, parseInsecureOptions, rewriteInsecureSkipVerify} from './insecure.js'

const sorted = (s: ReadonlySet<string>): string[] => [...s].sort()

describe('parseInsecureOptions (rkt --insecure-options)', () => {
  test('single values turn off one protection each; none and empty turn off nothing', () => {
    for (const v of ['image', 'tls', 'ondisk', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp']) {
      assert.deepEqual(sorted(parseInsecureOptions([v])), [v])
    }
    assert.deepEqual(sorted(parseInsecureOptions(['none'])), [])
    assert.deepEqual(sorted(parseInsecureOptions([])), [])
    assert.deepEqual(sorted(parseInsecureOptions([''])), [])
    assert.deepEqual(sorted(parseInsecureOptions([',,'])), [])
  })

  test('all-fetch, all-run and all expand as in rkt', () => {
    assert.deepEqual(sorted(parseInsecureOptions(['all-fetch'])), ['http', 'image', 'pubkey', 'tls'])
    assert.deepEqual(sorted(parseInsecureOptions(['all-run'])), ['capabilities', 'paths', 'seccomp'])
    assert.deepEqual(sorted(parseInsecureOptions(['all'])), [
      'capabilities',
      'http',
      'image',
      'ondisk',
      'paths',
      'pubkey',
      'seccomp',
      'tls',
    ])
    assert.deepEqual(
      sorted(parseInsecureOptions(['all-fetch', 'all-run', 'ondisk'])),
      sorted(parseInsecureOptions(['all'])),
    )
  })

  test('comma lists, repeated flags, spaces and case combine into one set', () => {
    assert.deepEqual(sorted(parseInsecureOptions(['image,tls', 'tls', ' Seccomp , paths '])), [
      'image',
      'paths',
      'seccomp',
      'tls',
    ])
    assert.deepEqual(sorted(parseInsecureOptions(['none,image'])), ['image'])
  })

  test('an unknown value is a usage error naming it and listing every valid value', () => {
    for (const bad of [['images'], ['image,bogus'], ['all-fetch', 'ssl']]) {
      assert.throws(
        () => parseInsecureOptions(bad),
        (err: unknown) => {
          assert.ok(err instanceof UsageError)
          assert.equal(err.exitCode, 2)
          assert.match(err.message, /--insecure-options: unknown value "(images|bogus|ssl)"/)
          for (const v of INSECURE_OPTION_VALUES) assert.ok(err.hint?.includes(v), `${v} in ${err.hint}`)
          return true
        },
      )
    }
    assert.deepEqual([...INSECURE_OPTION_VALUES].sort(), [
      'all',
      'all-fetch',
      'all-run',
      'capabilities',
      'http',
      'image',
      'none',
      'ondisk',
      'paths',
      'pubkey',
      'seccomp',
      'tls',
    ])
  })
})

test('--insecure-skip-verify (rkt 0.x) becomes --insecure-options=image with a warning, before "--" only', () => {
  const warnings: string[] = []
  const warn = (m: string): number => warnings.push(m)
  assert.deepEqual(rewriteInsecureSkipVerify(['--insecure-skip-verify', 'fetch', 'x.aci'], warn), [
    '--insecure-options=image',
    'fetch',
    'x.aci',
  ])
  assert.deepEqual(rewriteInsecureSkipVerify(['fetch', '--insecure-skip-verify=false', 'x.aci'], warn), [
    'fetch',
    'x.aci',
  ])
  assert.equal(warnings.length, 2)
  assert.match(warnings[0]!, /deprecated: use --insecure-options=image/)
  const app = ['run', 'img', '--', '--insecure-skip-verify']
  assert.deepEqual(rewriteInsecureSkipVerify(app, warn), app, "an app's own arguments are left alone")
  assert.throws(() => rewriteInsecureSkipVerify(['--insecure-skip-verify=maybe'], warn), /not a boolean/)
})
