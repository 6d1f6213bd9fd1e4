// `rkt install` (docs/install.md) and the shipped systemd units: the data directory root:rkt 2750 and the configuration
// root:rkt-admin 2770, idempotent; an unprivileged member of rkt (setpriv, no root) lists pods and images and reads a
// pod's status, but not an app's files nor its environment, and a user outside the group reads nothing; the units are
// installed pointing at this rkt; the metadata service takes its sockets from systemd (systemd-socket-activate).
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import {describe, test} from 'node:test'
import {execa} from 'execa'

import {registerPod} from '@rkt/core/stage1'

import {RKT} from '../util/harness.js'
import {BASE, PodSandbox, sh, waitFor} from '../util/pods.js'

const NOBODY = '65534'

function gid(group: string): number {
  return Number(execFileSync('getent', ['group', group], {encoding: 'utf8'}).split(':')[2])
}

/** rkt as uid 65534 with exactly the supplementary groups given (none: not a member of anything). */
function asUser(ps: PodSandbox, groups: readonly number[], args: readonly string[]) {
  const ids = [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    groups.length ? `--groups=${groups.join(',')}` : '--clear-groups',
  ]
  return execa('setpriv', [...ids, RKT, ...ps.s.globals, ...args], {reject: false, stdin: 'ignore', cwd: '/'})
}

/** The same for a plain command (cat, ls). */
function userCan(groups: readonly number[], cmd: readonly string[]): boolean {
  const ids = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, `--groups=${groups.join(',')}`]
  try {
    execFileSync('setpriv', [...ids, ...cmd], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

const mode = (p: string): string => {
  const st = fs.statSync(p)
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`
}

describe('rkt install', () => {
  test('sets the directories up (idempotent); members of rkt list and inspect without root, the apps’ files stay root’s', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    // The sandbox's own directories (mkdtemp: 0700) must let the user reach the data directory, as /var/lib does.
    for (let d = path.dirname(ps.data); d !== '/' && d !== '/tmp'; d = path.dirname(d)) fs.chmodSync(d, 0o711)
    const units = path.join(ps.s.work, 'units')
    const install = ['install', '--systemd-units', `--systemd-dir=${units}`]
    const first = await ps.rkt(install)
    assert.equal(first.exitCode, 0, first.stderr)
    const rkt = gid('rkt')
    assert.equal(mode(ps.data), `0:${rkt} 2750`)
    assert.equal(mode(path.join(ps.data, 'pods', 'run')), `0:${rkt} 2750`)
    assert.equal(mode(ps.s.localConfig), `0:${gid('rkt-admin')} 2770`)
    const service = fs.readFileSync(path.join(units, 'rkt-gc.service'), 'utf8')
    assert.match(service, new RegExp(`^ExecStart=${RKT} --dir=${ps.data} gc --grace-period=30m$`, 'm'))
    assert.deepEqual(fs.readdirSync(units).sort(), [
      'rkt-gc.service',
      'rkt-gc.timer',
      'rkt-metadata.service',
      'rkt-metadata.socket',
    ])
    const again = await ps.rkt(install)
    assert.equal(again.exitCode, 0, again.stderr)
    assert.doesNotMatch(again.stdout, /created|installed/, 'a second install changes nothing')

    await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const run = await ps.rkt([
      'run',
      '--net=none',
      `--uuid-file-save=${uuidFile}`,
      '--set-env=TOKEN=s3cret',
      'example.com/pod-base:1.0',
      ...sh('echo private > /secret'),
    ])
    assert.equal(run.exitCode, 0, run.stderr)
    const uuid = fs.readFileSync(uuidFile, 'utf8').trim()

    const list = await asUser(ps, [rkt], ['list', '--no-legend'])
    assert.equal(list.exitCode, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`^${uuid.slice(0, 8)}\\s+pod-base\\s+example.com/pod-base:1.0\\s+exited`, 'm'))
    const status = await asUser(ps, [rkt], ['status', uuid])
    assert.equal(status.exitCode, 0, status.stderr)
    assert.match(status.stdout, /^app-pod-base=0$/m)
    const images = await asUser(ps, [rkt], ['image', 'list', '--no-legend'])
    assert.equal(images.exitCode, 0, images.stderr)
    assert.match(images.stdout, /example\.com\/pod-base:1\.0/)

    const pod = ps.podPath(uuid)
    assert.ok(fs.existsSync(ps.appPath(uuid, '/secret')), 'root sees the app’s file')
    assert.equal(userCan([rkt], ['cat', ps.appPath(uuid, '/secret')]), false, 'the app’s root is closed to the group')
    assert.equal(userCan([rkt], ['ls', path.join(pod, 'overlay')]), false, 'so are its overlay layers')
    const env = path.join(pod, 'stage1', 'rootfs', 'rkt', 'env', 'pod-base')
    assert.match(fs.readFileSync(env, 'utf8'), /TOKEN=s3cret/)
    assert.equal(userCan([rkt], ['cat', env]), false, 'and the app’s environment')

    const outsider = await asUser(ps, [], ['list', '--no-legend'])
    assert.notEqual(outsider.exitCode, 0, 'a user outside the group lists nothing')
  })

  test(
    'the metadata service takes its registration socket and port from systemd (socket activation)',
    {timeout: 60_000},
    async (t) => {
      const ps = PodSandbox.create(t)
      const socketPath = path.join(ps.s.work, 'metadata-svc.sock')
      const own = path.join(ps.s.work, 'own', 'metadata-svc.sock')
      const probe = net.createServer()
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
      const port = (probe.address() as net.AddressInfo).port
      await new Promise<void>((resolve) => probe.close(() => resolve()))
      const proc = execa(
        'systemd-socket-activate',
        ['-l', socketPath, '-l', `127.0.0.1:${port}`, '--', RKT, 'metadata-service', `--socket-path=${own}`],
        {reject: false, stdin: 'ignore'},
      )
      t.after(() => proc.kill('SIGKILL'))
      assert.ok(await waitFor(() => fs.existsSync(socketPath), 10_000))
      // The first registration starts the service (systemd-socket-activate waits for a connection), which answers it.
      const id = `sha512-${'0123456789abcdef'.repeat(8)}`
      const app = {name: 'web', image: {name: 'example.com/web', id}}
      const manifest = JSON.stringify({acVersion: '0.8.11', acKind: 'PodManifest', apps: [app], volumes: [], ports: []})
      const image = JSON.stringify({acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/web'})
      const uuid = '2f1f3c0e-7b9a-4d52-9a0e-5a4b3c2d1e0f'
      const token = await registerPod({uuid, manifest, apps: {web: image}, socketPath})
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${port}/${token}/acMetadata/v1/pod/uuid`, (res) => {
            let out = ''
            res.setEncoding('utf8').on('data', (d) => (out += String(d)))
            res.on('end', () => resolve(out))
          })
          .on('error', reject)
      })
      assert.equal(body, uuid)
      proc.kill('SIGTERM')
      const r = await proc
      assert.match(String(r.stderr), /registrations on the sockets systemd passed/)
      assert.equal(fs.existsSync(path.dirname(own)), false, 'it made no socket of its own')
    },
  )
})
