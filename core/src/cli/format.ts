// Output formats rkt users and scripts already parse: Go's text/tabwriter as rkt configures it
// (minwidth 0, tabwidth 8, padding 1, padded with tabs), go-humanize sizes and relative times, and
// rkt's absolute time layout "2006-01-02 15:04:05.999 -0700 MST".

const TABWIDTH = 8

/**
 * Formats rows like rkt's tabwriter: columns padded with tabs to multiples of 8, last cell of a row unpadded.
 * As in Go's text/tabwriter, a column's width is taken over a block of consecutive rows that have a cell in
 * that column (a shorter row ends the block), and widths count characters (runes), not UTF-16 units.
 */
export function tabTable(rows: readonly (readonly string[])[]): string {
  const runes = (s: string): number => {
    let n = 0
    for (const _ of s) n++
    return n
  }
  const widths: number[] = []
  const out: string[] = []
  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const row = rows[i]!
      let line = ''
      row.forEach((cell, j) => {
        line += cell
        if (j < widths.length) {
          const cellw = Math.ceil(widths[j]! / TABWIDTH) * TABWIDTH
          line += '\t'.repeat(Math.ceil((cellw - runes(cell)) / TABWIDTH))
        }
      })
      out.push(`${line}\n`)
    }
  }
  // Go's Writer.format: one column block at a time, recursing into the columns to its right.
  const format = (line0: number, line1: number): void => {
    const column = widths.length
    for (let cur = line0; cur < line1; cur++) {
      if (column >= rows[cur]!.length - 1) continue
      writeLines(line0, cur)
      line0 = cur
      let width = 0
      for (; cur < line1 && column < rows[cur]!.length - 1; cur++)
        width = Math.max(width, runes(rows[cur]![column]!) + 1)
      widths.push(width)
      format(line0, cur)
      widths.pop()
      line0 = cur
    }
    writeLines(line0, line1)
  }
  format(0, rows.length)
  return out.join('')
}

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/** go-humanize IBytes: "0 B", "9 B", "1.0 KiB", "13 MiB". */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`
  const e = Math.floor(Math.log(n) / Math.log(1024))
  const val = Math.floor((n / 1024 ** e) * 10 + 0.5) / 10
  if (val < 10) return `${val.toFixed(1)} ${IEC[e]}`
  // Go's %.0f rounds an exact half to even (10.5 → "10"); toFixed(0) would round it up.
  const whole = Math.floor(val)
  const rounded = val - whole > 0.5 || (val - whole === 0.5 && whole % 2 === 1) ? whole + 1 : whole
  return `${rounded} ${IEC[e]}`
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const WEEK = 7 * DAY
const MONTH = 30 * DAY
const YEAR = 12 * MONTH

const MAGNITUDES: [number, string, number][] = [
  [SECOND, 'now', 1],
  [2 * SECOND, '1 second %s', 1],
  [MINUTE, '%d seconds %s', SECOND],
  [2 * MINUTE, '1 minute %s', 1],
  [HOUR, '%d minutes %s', MINUTE],
  [2 * HOUR, '1 hour %s', 1],
  [DAY, '%d hours %s', HOUR],
  [2 * DAY, '1 day %s', 1],
  [WEEK, '%d days %s', DAY],
  [2 * WEEK, '1 week %s', 1],
  [MONTH, '%d weeks %s', WEEK],
  [2 * MONTH, '1 month %s', 1],
  [YEAR, '%d months %s', MONTH],
  [18 * MONTH, '1 year %s', 1],
  [2 * YEAR, '2 years %s', 1],
  [37 * YEAR, '%d years %s', YEAR],
]

/** go-humanize Time: "now", "3 minutes ago", "1 day ago", "2 hours from now". */
export function humanTime(ms: number, now = Date.now()): string {
  let diff = now - ms
  let label = 'ago'
  if (diff < 0) {
    diff = -diff
    label = 'from now'
  }
  for (const [limit, fmt, unit] of MAGNITUDES) {
    if (diff < limit) {
      return fmt
        .replace('%d', String(Math.floor(diff / unit)))
        .replace('%s', label)
        .trim()
    }
  }
  return `a long while ${label}`
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

/** rkt's absolute layout, in local time: "2024-01-05 10:20:30.123 +0000 UTC" (.999 drops trailing zeros). */
export function goTime(ms: number): string {
  const d = new Date(ms)
  const frac = d.getMilliseconds() === 0 ? '' : `.${pad(d.getMilliseconds(), 3).replace(/0+$/, '')}`
  const offMin = -d.getTimezoneOffset()
  const sign = offMin >= 0 ? '+' : '-'
  const off = `${sign}${pad(Math.floor(Math.abs(offMin) / 60))}${pad(Math.abs(offMin) % 60)}`
  // Go prints the zone database's abbreviation; Intl agrees for UTC (servers) and the common zones, and
  // may say GMT+1 where Go says CET.
  const zone =
    new Intl.DateTimeFormat('en-US', {timeZoneName: 'short'}).formatToParts(d).find((p) => p.type === 'timeZoneName')
      ?.value ?? 'UTC'
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac} ${off} ${zone}`
  )
}

/** Milliseconds to nanoseconds as an exact decimal string (rkt's JSON timestamps are int64 ns). */
export function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms)) * 1_000_000n
}

/**
 * JSON with bigint values written as plain numbers (JSON.stringify cannot); `pretty` indents with a tab
 * as Go's json.MarshalIndent(v, "", "\t") does in rkt.
 */
export function jsonWithBigInts(value: unknown, pretty: boolean): string {
  const marker = '__rkt_bigint__:'
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v),
    pretty ? '\t' : undefined,
  )
  return text.replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1')
}
