// The files rkt generates for an app (/etc/resolv.conf, /etc/hosts, /etc/hostname) never go into a volume.
// An image whose /data is a symlink to /etc, given a host volume at /data, has the volume on its /etc: fly
// once copied its generated resolv.conf through there into the host's directory, and nspawn created empty
// files there to bind its own over. Now they are bound, never copied, and a target that would be a new file
// in a volume is left out, with a warning; the host's directory is untouched.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {PodSandbox, sh} from '../util/pods.js'

const ENGINES = ['fly', 'nspawn', 'kvm'] as const

/** Every file of a directory with its content. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]))

describe('generated /etc files and volumes', () => {
  for (const engine of ENGINES) {
    test(`${engine}: nothing is written into a host volume the image's symlinks put on /etc`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      await ps.image({
        name: 'example.com/etc-link',
        version: '1.0',
        symlinks: {'/data': '/etc'},
      })
      const host = path.join(ps.s.dir, 'host-etc')
      fs.mkdirSync(host)
      fs.writeFileSync(path.join(host, 'hosts'), '192.0.2.1 precious\n')
      const before = snapshot(host)
      const net = engine === 'fly' ? [] : ['--net=none']
      const r = await ps.rkt([
        'run',
        ...net,
        '--dns=192.0.2.53',
        `--volume=data,kind=host,source=${host}`,
        'example.com/etc-link:1.0',
        '--mount=volume=data,target=/data',
        ...sh('cat /etc/hosts; test -e /etc/resolv.conf && echo has-resolv; true'),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      assert.match(r.stdout, /192\.0\.2\.1 precious/, 'the volume is the app’s /etc')
      assert.doesNotMatch(r.stdout, /has-resolv/)
      assert.match(r.stderr, /no \/etc\/resolv\.conf: .*volume/)
      assert.deepEqual(snapshot(host), before, 'the host directory changed')
      assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
      assert.deepEqual(snapshot(host), before)
    })
  }
})
