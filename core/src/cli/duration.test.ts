import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {UsageError} from '../errors.js'
import {parseDuration} from './duration.js'

const S = 1000
const M = 60 * S
const H = 60 * M

describe('parseDuration (Go time.ParseDuration)', () => {
  test('the forms rkt flags take', () => {
    const cases: [string, number][] = [
      ['24h', 24 * H],
      ['1h30m', H + 30 * M],
      ['30m', 30 * M],
      ['0', 0],
      ['0s', 0],
      ['1.5h', 1.5 * H],
      ['.5h', 0.5 * H],
      ['1.h', H],
      ['10s', 10 * S],
      ['500ms', 500],
      ['2h45m30.5s', 2 * H + 45 * M + 30.5 * S],
      ['1m1m', 2 * M],
      ['1000us', 1],
      ['1000\u00b5s', 1], // micro sign
      ['1000\u03bcs', 1], // Greek mu: Go takes both
      ['1000000ns', 1],
    ]
    for (const [text, ms] of cases) assert.equal(parseDuration('grace-period', text), ms, text)
  })

  test('anything else is a usage error naming the flag, the value and Go duration syntax', () => {
    for (const bad of ['', 'bad', '5', '1d', '1 h', 'h', '1h30', '24H', '1.5.5h', '--1h', '1e3s', 'infinity']) {
      assert.throws(
        () => parseDuration('grace-period', bad),
        (err: unknown) => {
          assert.ok(err instanceof UsageError, `${JSON.stringify(bad)}: ${String(err)}`)
          assert.equal(err.exitCode, 2)
          assert.equal(err.message, `--grace-period: invalid duration "${bad}"`)
          assert.match(err.hint ?? '', /Go duration syntax/)
          assert.match(err.hint ?? '', /24h/)
          return true
        },
      )
    }
  })
})
