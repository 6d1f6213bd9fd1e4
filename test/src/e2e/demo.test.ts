// The README's main command (`scripts/setup && npm run demo`), run as a user would after set-up: it must
// build, sign and trust the example image, run it in a real pod that greets and exits 0, list the pod as
// exited, and leave nothing mounted.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'

import {requireTool, ROOT, Sandbox} from '../util/harness.js'
import {mountsUnder} from '../util/pods.js'

test('npm run demo: a signed image runs in a pod, which rkt list shows exited', async (t) => {
  if (!(await requireTool(t, 'gpg'))) return
  const s = Sandbox.create(t)
  const demo = path.join(s.dir, 'demo')
  const r = await execa(path.join(ROOT, 'scripts', 'demo'), [], {
    reject: false,
    cwd: ROOT,
    env: {RKT_DEMO_DIR: demo},
    stdin: 'ignore',
    all: true,
  })
  assert.equal(r.exitCode, 0, String(r.all))
  const out = String(r.all)
  assert.match(out, /signature verified:\n\s+rkt demo signer <demo@example.com>/)
  assert.match(out, /^Hello from an App Container image$/m)
  assert.match(out, /^AC_APP_NAME=hello$/m)
  // `rkt list`: one pod, its app from the example image, exited.
  const list = out.slice(out.indexOf('$ rkt list'))
  assert.match(list, /^[0-9a-f]{8}\thello\texample\.com\/hello:1\.0\.0\texited\t/m)
  // `rkt status`: the app's exit code; then `rkt rm` removed the pod and its mounts.
  assert.match(out, /^app-hello=0$/m)
  const uuid = fs.readFileSync(path.join(demo, 'pod.uuid'), 'utf8').trim()
  assert.match(out, new RegExp(`^"${uuid}"$`, 'm'))
  assert.deepEqual(fs.readdirSync(path.join(demo, 'data', 'pods', 'run')), [])
  assert.deepEqual(mountsUnder(demo), [], 'no mount left under the demo directory (but its pods/ fence)')
})
