// entrypoint and podLockFd in a Node process of their own, started as stage0 starts an engine's bundle: what
// the user sees on stderr, and the exit status.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {describe, test} from 'node:test'

const ENTRY = new URL('./entry.js', import.meta.url).href

/** Runs `body` as the entrypoint's function in a child Node; its stderr and exit status. */
function runEntrypoint(name: string, body: string, env: Record<string, string | undefined> = {}) {
  const script = [
    `import {entrypoint, podLockFd} from ${JSON.stringify(ENTRY)}`,
    `const main = entrypoint(${JSON.stringify(name)}, ${JSON.stringify(ENTRY)}, (argv, warn) => {${body}})`,
    'process.exitCode = await main([])',
  ].join('\n')
  const childEnv = {...process.env, ...env}
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k]
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {env: childEnv, encoding: 'utf8'})
  return {status: r.status, stderr: r.stderr}
}

describe('entrypoint', () => {
  test("hands its function a warn that names the entrypoint; the function's return is the exit status", () => {
    const r = runEntrypoint('gc', "warn('a mount was already gone'); return 3")
    assert.deepEqual(r, {status: 3, stderr: 'gc: warning: a mount was already gone\n'})
  })
})

describe('podLockFd', () => {
  test('the descriptor stage0 passed in RKT_LOCK_FD', () => {
    const r = runEntrypoint('run', "warn(String(podLockFd('the test stage1'))); return 0", {RKT_LOCK_FD: '7'})
    assert.deepEqual(r, {status: 0, stderr: 'run: warning: 7\n'})
  })

  test('an engine not started by rkt says so, and exits 254', () => {
    for (const fd of [undefined, 'x', '-1']) {
      const r = runEntrypoint('run', "podLockFd('the test stage1'); return 0", {RKT_LOCK_FD: fd})
      assert.deepEqual(r, {
        status: 254,
        stderr: 'run: RKT_LOCK_FD is not set: the test stage1 must be started by rkt\n',
      })
    }
  })
})
