import assert from 'node:assert/strict'
import {test} from 'node:test'

import {RktError} from '../errors.js'
import {DEFAULT_LIMITS, formatByteSize, limitError, limitsFromEnv, parseByteSize, resolveLimits} from './limits.js'

test('byte sizes: plain, binary units, coreutils-style, decimal units', () => {
  assert.equal(parseByteSize('1048576'), 1 << 20)
  assert.equal(parseByteSize('16GiB'), 16 * 2 ** 30)
  assert.equal(parseByteSize('500MiB'), 500 * 2 ** 20)
  assert.equal(parseByteSize('2G'), 2 * 2 ** 30)
  assert.equal(parseByteSize('2gb'), 2e9)
  assert.equal(parseByteSize('1.5KiB'), 1536)
  for (const bad of ['', 'abc', '-1', '1XB', '1 2', '9999999999TiB']) assert.equal(parseByteSize(bad), undefined, bad)
  assert.equal(formatByteSize(32 * 2 ** 30), '32GiB')
  assert.equal(formatByteSize(1000), '1000')
})

test('limits from the environment', () => {
  assert.deepEqual(limitsFromEnv({}), {})
  assert.deepEqual(
    limitsFromEnv({RKT_MAX_IMAGE_SIZE: '32GiB', RKT_MAX_IMAGE_ENTRIES: '2000000', RKT_MAX_TAR_HEADER_SIZE: '4M'}),
    {
      maxUncompressedBytes: 32 * 2 ** 30,
      maxEntries: 2_000_000,
      maxHeaderBytes: 4 * 2 ** 20,
    },
  )
  assert.throws(
    () => limitsFromEnv({RKT_MAX_IMAGE_SIZE: 'lots'}),
    (e: unknown) => e instanceof RktError && e.code === 'ECONFIG' && /RKT_MAX_IMAGE_SIZE/.test(e.message),
  )
  assert.throws(() => limitsFromEnv({RKT_MAX_IMAGE_ENTRIES: '1e6'}), /RKT_MAX_IMAGE_ENTRIES/)
})

test('a violation names the limit, its value and how to raise it', () => {
  const e = limitError('maxUncompressedBytes', resolveLimits(), 'the uncompressed image')
  assert.equal(e.code, 'ELIMIT')
  assert.equal(e.message, 'the uncompressed image exceeds the limit maxUncompressedBytes = 16GiB')
  assert.equal(e.hint, 'if the image is legitimate, raise the limit: RKT_MAX_IMAGE_SIZE=32GiB')
  assert.match(limitError('maxPathDepth', resolveLimits(), 'x').hint ?? '', /fixed safety limit/)
})

test('overrides apply per call and are checked', () => {
  assert.equal(resolveLimits({maxEntries: 5}).maxEntries, 5)
  assert.equal(resolveLimits({}).maxEntries, DEFAULT_LIMITS.maxEntries)
  assert.throws(() => resolveLimits({maxEntries: -1}), RangeError)
})
