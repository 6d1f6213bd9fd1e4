// Errors carry context at each layer (rkt's errwrap habit): the library throws, commands render.
// Users see the outermost context plus the innermost cause and its fix; --debug shows the chain.

/** Exit status of rkt's own failures (rkt PR #3261). */
export const EXIT_FAILURE = 254
/** Exit status of usage errors: unknown flag, missing or malformed argument (as rkt's missing sub-command). */
export const EXIT_USAGE = 2

export interface RktErrorOptions {
  /** The error this one adds context to. */
  cause?: unknown
  /** Stable machine-readable kind, e.g. `ENOTTRUSTED`; callers test this, never the message. */
  code?: string | undefined
  /** What the user can do about it, shown under the message. */
  hint?: string | undefined
  /** Process exit status when this error ends a command. */
  exitCode?: number | undefined
}

/** An error of rkt's own: a message that names the problem, and optionally the fix. */
export class RktError extends Error {
  override readonly name: string = 'RktError'
  readonly code: string
  readonly hint: string | undefined
  readonly exitCode: number

  constructor(message: string, options: RktErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.code = options.code ?? 'ERKT'
    this.hint = options.hint
    this.exitCode = options.exitCode ?? EXIT_FAILURE
  }
}

/** Bad command-line input. */
export class UsageError extends RktError {
  override readonly name: string = 'UsageError'
  constructor(message: string, options: Omit<RktErrorOptions, 'exitCode'> = {}) {
    super(message, {code: 'EUSAGE', ...options, exitCode: EXIT_USAGE})
  }
}

/** Adds context ("error doing X") to any thrown value, keeping it as the cause. */
export function wrap(message: string, cause: unknown, options: Omit<RktErrorOptions, 'cause'> = {}): RktError {
  const inner = cause instanceof RktError ? cause : undefined
  return new RktError(message, {
    code: options.code ?? inner?.code,
    hint: options.hint,
    exitCode: options.exitCode ?? inner?.exitCode,
    cause,
  })
}

/** The chain of causes, outermost first. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = []
  const seen = new Set<unknown>()
  let cur: unknown = err
  while (cur !== undefined && cur !== null && !seen.has(cur)) {
    chain.push(cur)
    seen.add(cur)
    cur = cur instanceof Error ? cur.cause : undefined
  }
  return chain
}

/** True when any error in the chain has this code (RktError code or Node's errno code). */
export function hasCode(err: unknown, code: string): boolean {
  return causeChain(err).some((e) => e instanceof Error && (e as {code?: unknown}).code === code)
}

/** The exit status for an error: the first explicit one in the chain, else 254. */
export function exitCodeOf(err: unknown): number {
  for (const e of causeChain(err)) if (e instanceof RktError) return e.exitCode
  return EXIT_FAILURE
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}

/**
 * Renders an error for stderr. Without debug: the outermost message and the deepest cause worth showing
 * (the innermost rkt message, else the innermost system error), then the innermost hint. With debug: every layer as a tree, and stacks of non-rkt errors.
 */
export function formatError(err: unknown, debug = false): string {
  const chain = causeChain(err)
  const hints = chain.flatMap((e) => (e instanceof RktError && e.hint ? [e.hint] : []))
  const hint = hints.at(-1)
  const lines: string[] = []
  if (debug) {
    chain.forEach((e, i) => {
      const text = messageOf(e)
      lines.push(i === 0 ? text : `${'  '.repeat(i - 1)}└─ ${text}`)
    })
    const last = chain.at(-1)
    if (last instanceof Error && !(last instanceof RktError) && last.stack) {
      lines.push(
        ...last.stack
          .split('\n')
          .slice(1)
          .map((l) => `   ${l.trim()}`),
      )
    }
  } else {
    // The deepest message rkt itself wrote says what went wrong in the user's terms (and usually quotes the
    // system error); a bare system error is shown only when no rkt layer explains it.
    const outer = messageOf(chain[0])
    const rktLayers = chain.filter((e) => e instanceof RktError)
    const deepestRkt = rktLayers.at(-1)
    const innerErr =
      deepestRkt !== undefined && deepestRkt !== chain[0] ? deepestRkt : chain.length > 1 ? chain.at(-1) : undefined
    let inner = innerErr === undefined ? undefined : messageOf(innerErr)
    const sys = innerErr === deepestRkt ? chain.at(-1) : undefined
    if (inner !== undefined && sys !== undefined && sys !== innerErr && !inner.includes(messageOf(sys))) {
      inner = `${inner}: ${messageOf(sys)}`
    }
    if (deepestRkt === chain[0] && chain.length > 1) inner = messageOf(chain.at(-1))
    lines.push(inner && inner !== outer ? `${outer}: ${inner}` : outer)
  }
  if (hint) lines.push(`  ${hint.split('\n').join('\n  ')}`)
  return lines.join('\n')
}
