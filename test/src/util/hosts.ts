// rkt with test host names: in its own mount namespace, where a private /etc/hosts maps `hosts` to 127.0.0.1
// (nothing in rkt knows). For commands that only fetch or trust: a pod's mounts would stay in that namespace.
import {execa} from 'execa'
import fs from 'node:fs'
import path from 'node:path'

import {RKT, type Run, type Sandbox} from './harness.js'

export async function rktWithHosts(s: Sandbox, hosts: readonly string[], args: readonly string[]): Promise<Run> {
  const file = path.join(s.dir, 'hosts')
  fs.writeFileSync(file, `127.0.0.1 localhost ${hosts.join(' ')}\n`)
  const r = await execa(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      file,
      RKT,
      ...s.globals,
      ...args,
    ],
    {reject: false, stdin: 'ignore', cwd: s.work},
  )
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}
