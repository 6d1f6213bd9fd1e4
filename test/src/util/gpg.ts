// A GnuPG home for tests that sign images or trust keys the way users do (real gpg).
import {execa} from 'execa'
import fs from 'node:fs'
import path from 'node:path'
import {type TestContext} from 'node:test'

import {type Sandbox} from './harness.js'

/** A GnuPG home in the sandbox, used the way the docs tell users to. */
export class UserGpg {
  constructor(readonly home: string) {
    fs.mkdirSync(home, {mode: 0o700})
  }
  static forTest(t: TestContext, s: Sandbox, name: string): UserGpg {
    const g = new UserGpg(path.join(s.dir, name))
    t.after(() => execa('gpgconf', ['--homedir', g.home, '--kill', 'all'], {reject: false}))
    return g
  }
  gpg(args: string[], input = '') {
    return execa('gpg', ['--homedir', this.home, '--batch', '--yes', ...args], {input, reject: true})
  }
  /** gpg --batch --gen-key with a parameter file, as in the key-generation docs. */
  async genKey(realName: string, email: string): Promise<void> {
    await this.gpg(
      ['--gen-key'],
      [
        '%no-protection',
        'Key-Type: RSA',
        'Key-Length: 2048',
        'Key-Usage: sign',
        `Name-Real: ${realName}`,
        `Name-Email: ${email}`,
        'Expire-Date: 0',
        '%commit',
        '',
      ].join('\n'),
    )
  }
  async sign(file: string, email: string, out = `${file}.asc`): Promise<string> {
    await this.gpg(['--local-user', email, '--output', out, '--detach-sig', '--armor', file])
    return out
  }
  async exportKey(email: string, out: string): Promise<string> {
    await this.gpg(['--output', out, '--export', '--armor', email])
    return out
  }
}
