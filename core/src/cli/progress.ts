// A one-line progress display on stderr for long work (reading or rendering an image), shown only on a
// terminal: scripts and CI logs get no control characters.
import {humanBytes} from './format.js'

export interface Progress {
  /** Reports bytes done of total. */
  (done: number, total: number): void
  /** Clears the line. */
  end(): void
}

/** A progress reporter labelled `label`, or a no-op when stderr is not a terminal. */
export function progress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = Date.now()
  let last = 0
  let shown = false
  const fn = ((done: number, total: number): void => {
    if (!stream.isTTY) return
    const now = Date.now()
    if (now - last < 100 && (total === 0 || done < total)) return
    last = now
    const secs = Math.max((now - start) / 1000, 0.001)
    const width = 20
    const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0
    const bar = `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`
    stream.write(
      `\r\x1b[K${label} ${total > 0 ? `${bar} ` : ''}${humanBytes(done)}${total > 0 ? ` / ${humanBytes(total)}` : ''}  ` +
        `${humanBytes(Math.round(done / secs))}/s`,
    )
    shown = true
  }) as Progress
  fn.end = () => {
    if (shown) stream.write('\r\x1b[K')
    shown = false
  }
  return fn
}
