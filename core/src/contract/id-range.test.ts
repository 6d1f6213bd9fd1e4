// The `--private-users=FIRST:COUNT` value: what the run entrypoint accepts, and range overlaps.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {formatIdRange, idRangesOverlap, parseIdRange} from './id-range.js'

describe('id ranges', () => {
  test('FIRST:COUNT round-trips', () => {
    assert.deepEqual(parseIdRange('524288:65536'), {first: 524288, count: 65536})
    assert.equal(formatIdRange({first: 524288, count: 65536}), '524288:65536')
    assert.deepEqual(parseIdRange(' 65536:1\n'), {first: 65536, count: 1}, 'a file’s trailing newline is fine')
  })

  test('refused: host root as the first id, an empty range, one past 32 bits, anything but two numbers', () => {
    for (const bad of [
      '0:65536',
      '65536:0',
      '4294901760:65536',
      '65536',
      '65536:',
      'a:1',
      '-1:5',
      '1:2:3',
      '',
      '1e5:1',
    ]) {
      assert.throws(() => parseIdRange(bad), /invalid uid range/, bad)
    }
  })

  test('overlap: sharing one id is enough; adjacent ranges do not overlap', () => {
    const a = {first: 65536, count: 65536}
    assert.ok(idRangesOverlap(a, {first: 131071, count: 10}))
    assert.ok(idRangesOverlap(a, {first: 0, count: 65537}))
    assert.ok(!idRangesOverlap(a, {first: 131072, count: 65536}))
    assert.ok(!idRangesOverlap(a, {first: 0, count: 65536}))
  })
})
