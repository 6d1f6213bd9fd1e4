/** Bad input to the suite (no such image, not a stage1, a missing host tool): nothing was run. */
export class ConformanceInputError extends Error {
  readonly hint: string | undefined

  constructor(message: string, opts: {hint?: string} = {}) {
    super(message)
    this.name = 'ConformanceInputError'
    this.hint = opts.hint
  }
}
