// The suite's report as a table for people: one row per behaviour, then a summary line.
import type {SuiteReport} from './suite.js'

/** BEHAVIOUR / RESULT / DETAIL rows, with the claimed and required marks, then the counts and the time. */
export function formatTable(r: SuiteReport): string {
  const rows = r.behaviours.map((b) => [`${b.id}${b.required ? '*' : ''}`, b.result, b.detail])
  const w0 = Math.max(...rows.map((x) => x[0]!.length), 'BEHAVIOUR'.length)
  const w1 = Math.max(...rows.map((x) => x[1]!.length), 'RESULT'.length)
  const line = (c: string[]): string => `${c[0]!.padEnd(w0)}  ${c[1]!.padEnd(w1)}  ${c[2]}`.trimEnd()
  const count = (o: string): number => r.behaviours.filter((b) => b.result === o).length
  return [
    `${r.name} ${r.version} (${r.image})`,
    line(['BEHAVIOUR', 'RESULT', 'DETAIL']),
    ...rows.map(line),
    ...(r.unknownClaims.length > 0 ? [`unknown claims ignored: ${r.unknownClaims.join(', ')}`] : []),
    `* required. ${count('pass')} pass, ${count('fail')} fail, ${count('unsupported')} unsupported in ${(r.durationMs / 1000).toFixed(1)} s`,
  ].join('\n')
}
