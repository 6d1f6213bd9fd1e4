import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {Deframer, frame} from './enter.js'

describe('agent framing', () => {
  test('a type byte, a big-endian length, the payload', () => {
    assert.deepEqual([...frame('X', '7')], [0x58, 0, 0, 0, 1, 0x37])
  })
  test('frames split anywhere come back whole and in order', () => {
    const stream = Buffer.concat([frame('O', 'hello'), frame('e', ''), frame('X', '0')])
    const d = new Deframer()
    const got = [...stream].flatMap((b) => d.push(Buffer.from([b])))
    assert.deepEqual(
      got.map((f) => [f.type, f.payload.toString()]),
      [
        ['O', 'hello'],
        ['e', ''],
        ['X', '0'],
      ],
    )
  })
})
