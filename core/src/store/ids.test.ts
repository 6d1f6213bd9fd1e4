import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import {describe, test} from 'node:test'

import {RktError, UsageError} from '../errors.js'
import {isCanonicalId, isStoreKey, looksLikeId, parseIdPrefix, shortId, storeKey} from './ids.js'

const HEX = crypto.createHash('sha512').update('an image').digest('hex')
const ID = `sha512-${HEX}`

describe('image ID forms', () => {
  test('canonical = sha512- + 128 hex, key = first 64 hex, short = first 32 hex', () => {
    assert.equal(HEX.length, 128)
    assert.ok(isCanonicalId(ID))
    const key = storeKey(ID)
    assert.equal(key, `sha512-${HEX.slice(0, 64)}`)
    assert.ok(isStoreKey(key))
    assert.ok(!isCanonicalId(key))
    assert.ok(!isStoreKey(ID))
    assert.equal(shortId(ID), `sha512-${HEX.slice(0, 32)}`)
    assert.equal(shortId(key), shortId(ID))
  })

  test('storeKey refuses anything but a canonical ID', () => {
    for (const bad of [
      `sha512-${HEX.slice(0, 64)}`,
      ID.toUpperCase(),
      `sha256-${HEX}`,
      `${ID}0`,
      `sha512-${HEX.slice(0, 127)}g`,
    ]) {
      assert.throws(
        () => storeKey(bad),
        (err: unknown) => err instanceof RktError && err.code === 'EBADID',
        bad,
      )
    }
  })

  test('looksLikeId: only the sha512- prefix marks an ID', () => {
    assert.ok(looksLikeId('sha512-ab'))
    assert.ok(!looksLikeId('example.com/app'))
    assert.ok(!looksLikeId('./sha512-ab.aci'))
  })
})

describe('parseIdPrefix (SEC-41)', () => {
  test('accepts any lowercase-hex prefix from 1 to 128 digits', () => {
    for (const ok of ['sha512-a', 'sha512-0123456789abcdef', `sha512-${HEX.slice(0, 64)}`, ID]) {
      assert.equal(parseIdPrefix(ok), ok)
    }
  })

  test('rejects path tricks, upper case, NUL, empty and too long, with a usage error saying what an ID is', () => {
    for (const bad of [
      '../../etc',
      'sha512-../x',
      'sha512-../../etc/passwd',
      'sha512-/etc',
      'sha512-ab/cd',
      'sha512-ABCDEF',
      `sha512-${HEX.slice(0, 10).toUpperCase()}`,
      'sha512-ab\0',
      'sha512-\0ab',
      'sha512-',
      'sha512-ab ',
      ' sha512-ab',
      'sha512-ab\n',
      `${ID}0`,
      `sha512-${'a'.repeat(200)}`,
      'sha256-abcd',
      'SHA512-abcd',
    ]) {
      assert.throws(
        () => parseIdPrefix(bad),
        (err: unknown) => {
          assert.ok(err instanceof UsageError, JSON.stringify(bad))
          assert.equal(err.code, 'EUSAGE')
          assert.equal(err.exitCode, 2)
          assert.match(err.hint ?? '', /"sha512-" followed by lowercase hex/)
          return true
        },
      )
    }
  })
})
