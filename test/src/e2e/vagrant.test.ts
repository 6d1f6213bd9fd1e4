// The top-level Vagrantfile (a Debian 12 development box) checked the way CI can without downloading a box:
// `vagrant validate` (Debian's vagrant, with vagrant-libvirt so the libvirt provider's settings are checked
// too). A copy with a misspelt setting fails, so the check can fail.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {requireTool, ROOT} from '../util/harness.js'

/** `vagrant validate` of `text` as a Vagrantfile, in a directory of its own (vagrant leaves .vagrant/ there). */
async function validate(text: string, where: string) {
  const dir = fs.mkdtempSync(path.join(where, 'vf-'))
  fs.writeFileSync(path.join(dir, 'Vagrantfile'), text)
  const env = {VAGRANT_HOME: path.join(where, 'home'), VAGRANT_DEFAULT_PROVIDER: 'libvirt'}
  const r = await execa('vagrant', ['validate'], {cwd: dir, env, reject: false, stdin: 'ignore'})
  return {exitCode: r.exitCode ?? -1, out: `${String(r.stdout)}${String(r.stderr)}`}
}

test('vagrant validate accepts the Vagrantfile; a misspelt setting is refused', async (t) => {
  if (!(await requireTool(t, 'vagrant'))) return
  const where = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-vagrant-'))
  t.after(() => fs.rmSync(where, {recursive: true, force: true}))
  const text = fs.readFileSync(path.join(ROOT, 'Vagrantfile'), 'utf8')
  assert.match(text, /config\.vm\.box = "debian\/bookworm64"/)
  assert.match(text, /scripts\/setup/)
  assert.match(text, /scripts\/demo/)

  const ok = await validate(text, where)
  assert.equal(ok.exitCode, 0, ok.out)
  assert.match(ok.out, /Vagrantfile validated successfully/)

  const bad = await validate(text.replace('lv.memory = 4096', 'lv.memroy = 4096'), where)
  assert.equal(bad.exitCode, 1, bad.out)
  assert.match(bad.out, /shouldn't exist: memroy/)
})
