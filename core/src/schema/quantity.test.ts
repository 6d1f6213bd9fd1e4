import assert from 'node:assert/strict'
import {test} from 'node:test'

import fc from 'fast-check'

import {MAX_QUANTITY_VALUE, formatMilliQuantity, formatQuantity, parseQuantity} from './quantity.js'
import {SchemaError} from './schema-error.js'

const FC = {numRuns: 200, seed: 424242}

test('quantities: decimal and binary suffixes, exponents and bare numbers give exact base units', () => {
  const cases: [string | number, bigint][] = [
    ['0', 0n],
    ['1', 1n],
    ['1k', 1000n],
    ['1M', 1_000_000n],
    ['1G', 1_000_000_000n],
    ['1T', 10n ** 12n],
    ['1P', 10n ** 15n],
    ['1E', 10n ** 18n],
    ['1Ki', 1024n],
    ['125952Ki', 128974848n],
    ['123Mi', 128974848n],
    ['128974848', 128974848n],
    ['1Gi', 2n ** 30n],
    ['1e3', 1000n],
    ['1E3', 1000n],
    ['1.5e+3', 1500n],
    ['2.5G', 2_500_000_000n],
    ['0.5Ki', 512n],
    [1073741824, 1073741824n],
    ['+5', 5n],
    ['-5', -5n],
    [' 1G ', 1_000_000_000n],
  ]
  for (const [input, value] of cases) assert.equal(parseQuantity(input).value, value, String(input))
})

test('quantities: sub-unit values round up away from zero, at most 3 decimal places kept as milli', () => {
  assert.equal(parseQuantity('250m').milli, 250n)
  assert.equal(parseQuantity('250m').value, 1n)
  assert.equal(parseQuantity('0.1m').milli, 1n)
  assert.equal(parseQuantity('0.0001').milli, 1n)
  assert.equal(parseQuantity('0.3').milli, 300n)
  assert.equal(parseQuantity('1.5').value, 2n)
  assert.equal(parseQuantity('-1.5').value, -2n)
  assert.equal(parseQuantity('1e-999999999').milli, 1n)
  assert.equal(parseQuantity('20m').text, '20m')
  assert.equal(parseQuantity('1').milli, 1000n)
})

test('quantities: values beyond int64 saturate', () => {
  assert.equal(parseQuantity('8Ei').value, MAX_QUANTITY_VALUE)
  assert.equal(parseQuantity('1e999999999').value, MAX_QUANTITY_VALUE)
  assert.equal(parseQuantity('9223372036854775807').value, MAX_QUANTITY_VALUE)
})

test('quantities: malformed input is a SchemaError naming the accepted forms', () => {
  assert.throws(() => parseQuantity('1GB', 'limit'), {
    message: 'limit: "1GB" is not a valid resource quantity (e.g. "500m", "1G", "128Mi" or "1e3")',
  })
  assert.throws(() => parseQuantity('1Mk'), {
    message:
      'quantity: "1Mk" has an unknown suffix "Mk" (use m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<N>; e.g. "500m", "1G", "128Mi" or "1e3")',
  })
  for (const bad of ['', 'abc', '1.2.3', '1K', '1e', '1Mi5', '+', '.', '1 G', 'x'.repeat(300)]) {
    assert.throws(() => parseQuantity(bad), SchemaError, bad)
  }
})

test('property: formatQuantity output parses back to the same value (decimal and binary)', () => {
  fc.assert(
    fc.property(fc.bigInt(-MAX_QUANTITY_VALUE, MAX_QUANTITY_VALUE), fc.boolean(), (value, binary) => {
      const text = formatQuantity(value, {binary})
      assert.equal(parseQuantity(text).value, value, text)
    }),
    FC,
  )
  fc.assert(
    fc.property(fc.bigInt(0n, 64n), fc.constantFrom(1n, 1000n, 1024n, 10n ** 9n, 2n ** 30n), (n, unit) => {
      const value = n * unit
      assert.equal(parseQuantity(formatQuantity(value, {binary: unit % 1024n === 0n})).value, value)
    }),
    FC,
  )
})

test('property: formatMilliQuantity output parses back to the same milli-units', () => {
  fc.assert(
    fc.property(fc.bigInt(-MAX_QUANTITY_VALUE, MAX_QUANTITY_VALUE), (milli) => {
      assert.equal(parseQuantity(formatMilliQuantity(milli)).milli, milli)
    }),
    FC,
  )
  assert.equal(formatMilliQuantity(250n), '250m')
  assert.equal(formatMilliQuantity(2000n), '2')
  assert.equal(formatQuantity(2n ** 30n, {binary: true}), '1Gi')
  assert.equal(formatQuantity(1_500_000n), '1500k')
})
