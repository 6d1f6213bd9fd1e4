import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import fc from 'fast-check'

import {goTime, humanBytes, humanTime, jsonWithBigInts, msToNs, tabTable} from './format.js'

/**
 * Go's text/tabwriter as rkt configures it, NewWriter(out, 0, 8, 1, '\t', 0), transcribed from
 * tabwriter.go (format, writeLines, writePadding): a column block is a run of consecutive lines that have
 * a tab-terminated cell in that column; its width is the widest cell + padding, rounded up to a multiple of
 * the tab width; padding is ceil((width - text) / 8) tabs. The last cell of a line is not in any column.
 */
function goTabwriter(rows: readonly (readonly string[])[]): string {
  const minwidth = 0
  const tabwidth = 8
  const padding = 1
  const widths: number[] = []
  let out = ''
  const runeWidth = (s: string): number => [...s].length
  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = rows[i]!
      line.forEach((cell, j) => {
        out += cell
        if (j < widths.length) {
          const cellw = Math.ceil(widths[j]! / tabwidth) * tabwidth
          out += '\t'.repeat(Math.ceil((cellw - runeWidth(cell)) / tabwidth))
        }
      })
      out += '\n'
    }
  }
  const format = (line0: number, line1: number): void => {
    const column = widths.length
    for (let cur = line0; cur < line1; cur++) {
      if (column >= rows[cur]!.length - 1) continue
      writeLines(line0, cur)
      line0 = cur
      let width = minwidth
      for (; cur < line1; cur++) {
        const line = rows[cur]!
        if (column >= line.length - 1) break
        width = Math.max(width, runeWidth(line[column]!) + padding)
      }
      widths.push(width)
      format(line0, cur)
      widths.pop()
      line0 = cur
    }
    writeLines(line0, line1)
  }
  format(0, rows.length)
  return out
}

describe('tabTable (Go text/tabwriter, minwidth 0, tabwidth 8, padding 1, tabs)', () => {
  test('rkt image list', () => {
    const rows = [
      ['ID', 'NAME', 'SIZE', 'IMPORT TIME', 'LAST USED'],
      ['sha512-91e98d7f1679', 'coreos.com/etcd:v3.1.7', '35 MiB', '1 week ago', '1 week ago'],
      ['sha512-d9f7f4ee5eb0', 'example.com/app', '2.0 KiB', 'now', 'now'],
    ]
    // ID: widest 19 + 1 = 20 → 24; NAME: 22 + 1 → 24; SIZE: 7 + 1 → 8; IMPORT TIME: 11 + 1 → 16.
    const expected =
      'ID\t\t\tNAME\t\t\tSIZE\tIMPORT TIME\tLAST USED\n' +
      'sha512-91e98d7f1679\tcoreos.com/etcd:v3.1.7\t35 MiB\t1 week ago\t1 week ago\n' +
      'sha512-d9f7f4ee5eb0\texample.com/app\t\t2.0 KiB\tnow\t\tnow\n'
    assert.equal(tabTable(rows), expected)
    assert.equal(goTabwriter(rows), expected)
  })

  test('a cell of exactly 7, 8 and 15 characters', () => {
    const rows = [
      ['1234567', '12345678', '123456789012345', 'end'],
      ['a', 'b', 'c', 'd'],
    ]
    // 7 + 1 = 8 → one tab after 7 chars, 8 after 'a'; 8 + 1 = 9 → 16: one tab after 8 chars, two after 'b'.
    const expected = '1234567\t12345678\t123456789012345\tend\n' + 'a\tb\t\tc\t\td\n'
    assert.equal(tabTable(rows), expected)
    assert.equal(goTabwriter(rows), expected)
  })

  test('empty cells, a single column, a header only, no rows', () => {
    for (const rows of [
      [
        ['UUID', 'APP', 'STATE'],
        ['5bc080ca', 'etcd', 'running'],
        ['', 'redis', ''],
      ],
      [['one'], ['two']],
      [['A', 'B']],
      [],
    ]) {
      assert.equal(tabTable(rows), goTabwriter(rows), JSON.stringify(rows))
    }
    assert.equal(tabTable([]), '')
  })

  test('lines with fewer cells end a column block, as in Go', () => {
    const rows = [
      ['a', 'bbbbbbbbbbbbbbbbbbbb', 'c'],
      ['x', 'y'],
      ['q', 'r', 's'],
    ]
    assert.equal(goTabwriter(rows), 'a\tbbbbbbbbbbbbbbbbbbbb\tc\nx\ty\nq\tr\ts\n')
    assert.equal(tabTable(rows), goTabwriter(rows))
  })

  test('widths count characters, not UTF-16 units', () => {
    const rows = [
      ['𝒳𝒳𝒳𝒳𝒳𝒳𝒳', 'b'],
      ['ünï', 'c'],
    ]
    assert.equal(tabTable(rows), goTabwriter(rows))
  })

  test('matches the Go algorithm on random tables', () => {
    const cell = fc.string({unit: fc.constantFrom('a', 'b', ' ', '-', 'é'), maxLength: 20})
    const table = fc.array(fc.array(cell, {minLength: 1, maxLength: 5}), {maxLength: 6})
    fc.assert(
      fc.property(table, (rows) => tabTable(rows) === goTabwriter(rows)),
      {numRuns: 500},
    )
  })
})

describe('humanBytes (go-humanize IBytes)', () => {
  test('boundary values', () => {
    const cases: [number, string][] = [
      [0, '0 B'],
      [9, '9 B'],
      [10, '10 B'],
      [1023, '1023 B'],
      [1024, '1.0 KiB'],
      [1536, '1.5 KiB'],
      [10 * 1024 - 1, '10 KiB'],
      [10 * 1024, '10 KiB'],
      [100 * 1024, '100 KiB'],
      [1024 * 1024 - 1, '1024 KiB'],
      [1024 * 1024, '1.0 MiB'],
      [82854982, '79 MiB'],
      [1024 ** 3, '1.0 GiB'],
      [5 * 1024 ** 4, '5.0 TiB'],
      [2 ** 53, '8.0 PiB'],
    ]
    for (const [n, s] of cases) assert.equal(humanBytes(n), s, String(n))
  })

  test("halves above 10 round to even, as Go's %.0f does", () => {
    // val = 10.5, 11.5, 12.5 KiB: fmt.Sprintf("%.0f") gives 10, 12, 12.
    assert.equal(humanBytes(10.5 * 1024), '10 KiB')
    assert.equal(humanBytes(11.5 * 1024), '12 KiB')
    assert.equal(humanBytes(12.5 * 1024), '12 KiB')
    assert.equal(humanBytes(101.5 * 1024 * 1024), '102 MiB')
    assert.equal(humanBytes(100.5 * 1024 * 1024), '100 MiB')
  })
})

describe('humanTime (go-humanize Time)', () => {
  const now = 1_700_000_000_000
  const s = 1000
  const min = 60 * s
  const h = 60 * min
  const d = 24 * h
  test('past boundaries', () => {
    const cases: [number, string][] = [
      [0, 'now'],
      [999, 'now'],
      [1 * s, '1 second ago'],
      [2 * s - 1, '1 second ago'],
      [2 * s, '2 seconds ago'],
      [59 * s, '59 seconds ago'],
      [60 * s - 1, '59 seconds ago'],
      [1 * min, '1 minute ago'],
      [2 * min - 1, '1 minute ago'],
      [2 * min, '2 minutes ago'],
      [59 * min, '59 minutes ago'],
      [1 * h, '1 hour ago'],
      [2 * h, '2 hours ago'],
      [23 * h, '23 hours ago'],
      [1 * d, '1 day ago'],
      [2 * d, '2 days ago'],
      [6 * d, '6 days ago'],
      [7 * d, '1 week ago'],
      [14 * d, '2 weeks ago'],
      [29 * d, '4 weeks ago'],
      [30 * d, '1 month ago'],
      [60 * d, '2 months ago'],
      [359 * d, '11 months ago'],
      [360 * d, '1 year ago'],
      [540 * d - 1, '1 year ago'],
      [540 * d, '2 years ago'],
      [720 * d, '2 years ago'],
      [1080 * d, '3 years ago'],
      [37 * 360 * d - 1, '36 years ago'],
      [37 * 360 * d, 'a long while ago'],
    ]
    for (const [ago, text] of cases) assert.equal(humanTime(now - ago, now), text, `${ago} ms ago`)
  })

  test('the future', () => {
    assert.equal(humanTime(now + 500, now), 'now')
    assert.equal(humanTime(now + 3 * min, now), '3 minutes from now')
    assert.equal(humanTime(now + 1 * d, now), '1 day from now')
  })
})

describe('goTime ("2006-01-02 15:04:05.999 -0700 MST", local time)', () => {
  function inZone<T>(tz: string | undefined, fn: () => T): T {
    const old = process.env['TZ']
    if (tz === undefined) delete process.env['TZ']
    else process.env['TZ'] = tz
    try {
      return fn()
    } finally {
      if (old === undefined) delete process.env['TZ']
      else process.env['TZ'] = old
    }
  }
  const at = Date.UTC(2024, 0, 5, 10, 20, 30, 123)

  test('without TZ, the system zone (/etc/localtime); first, before anything is cached', () => {
    const text = inZone(undefined, () => goTime(at))
    assert.match(text, /^2024-01-0[45] \d\d:\d\d:30\.123 [+-]\d{4} \S+$/)
    assert.equal(
      inZone(undefined, () => goTime(at)),
      text,
    )
  })

  test('UTC; .999 drops trailing zeros and the dot', () => {
    inZone('UTC', () => {
      assert.equal(goTime(at), '2024-01-05 10:20:30.123 +0000 UTC')
      assert.equal(goTime(at - 3), '2024-01-05 10:20:30.12 +0000 UTC')
      assert.equal(goTime(at - 23), '2024-01-05 10:20:30.1 +0000 UTC')
      assert.equal(goTime(at - 123), '2024-01-05 10:20:30 +0000 UTC')
      assert.equal(goTime(Date.UTC(1999, 11, 31, 23, 59, 59, 5)), '1999-12-31 23:59:59.005 +0000 UTC')
    })
  })

  test('a zone west of UTC, with and without daylight saving time', () => {
    inZone('America/New_York', () => {
      assert.equal(goTime(at), '2024-01-05 05:20:30.123 -0500 EST')
      assert.equal(goTime(Date.UTC(2024, 6, 5, 10, 0, 0)), '2024-07-05 06:00:00 -0400 EDT')
    })
  })
})

describe('jsonWithBigInts', () => {
  test('keeps int64 nanoseconds exact', () => {
    const ns = 1_700_000_000_123_456_789n
    assert.equal(jsonWithBigInts({t: ns}, false), '{"t":1700000000123456789}')
    assert.equal(jsonWithBigInts({a: [-9_223_372_036_854_775_808n, 0n]}, false), '{"a":[-9223372036854775808,0]}')
    assert.equal(msToNs(1_700_000_000_123), 1_700_000_000_123_000_000n)
    assert.equal(jsonWithBigInts({t: msToNs(1_700_000_000_123)}, false), '{"t":1700000000123000000}')
    // Plain numbers, strings and nested values are untouched.
    assert.equal(
      jsonWithBigInts({n: 1.5, s: 'x"y', o: {b: true, z: null}}, false),
      JSON.stringify({n: 1.5, s: 'x"y', o: {b: true, z: null}}),
    )
  })

  test('pretty output is indented with tabs, as json.MarshalIndent(v, "", "\\t")', () => {
    const text = jsonWithBigInts({name: 'a', t: 5n, apps: [{n: 1}], empty: [], none: {}}, true)
    assert.equal(
      text,
      '{\n\t"name": "a",\n\t"t": 5,\n\t"apps": [\n\t\t{\n\t\t\t"n": 1\n\t\t}\n\t],\n\t"empty": [],\n\t"none": {}\n}',
    )
  })
})
