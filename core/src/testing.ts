// Test support: the project's rule for missing prerequisites (root, a tool). A test that cannot run must not
// pass: it runs and fails, unless skipping was asked for outside CI (RKT_TEST_ALLOW_SKIP=1, never with CI=true).

/** True when a test may skip for a missing prerequisite. */
export function skippingAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['CI'] !== 'true' && env['RKT_TEST_ALLOW_SKIP'] === '1'
}

/**
 * A node:test `skip` option: false when `met`; otherwise the reason when skipping is allowed, else false
 * (the test runs and fails loudly on the missing prerequisite).
 */
export function skipUnless(met: boolean, reason: string): string | false {
  return met || !skippingAllowed() ? false : reason
}

/** True when running as root. */
export const isRoot = process.getuid?.() === 0
