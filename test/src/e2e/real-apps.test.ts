// Real software in pods, on nspawn and kvm alike: PostgreSQL, a Flask app on gunicorn and nginx, from images
// built of Debian's own packages (scripts/test-images.mjs; built once per machine, minutes the first time).
// Under TCG a kvm pod is slow to start these (seconds to a minute): each wait is bounded, and says how long
// the answer took.
import {spawnSync} from 'node:child_process'
import assert from 'node:assert/strict'
import {describe, test, type TestContext} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {debianImage, type DebianImage} from '../util/debian-images.js'
import {PodSandbox, type StartedPod} from '../util/pods.js'

const ENGINES = ['nspawn', 'kvm'] as const
// scripts/test.mjs builds them before the e2e tests; a test run on its own builds what it needs.
const images = new Map<DebianImage, Promise<string>>()

/** Fetches a Debian test image into the sandbox; gives its ID. */
async function fetchImage(ps: PodSandbox, name: DebianImage): Promise<string> {
  let aci = images.get(name)
  if (!aci) images.set(name, (aci = debianImage(name)))
  const r = await ps.rkt(['--insecure-options=image', 'fetch', '--full', await aci])
  assert.equal(r.exitCode, 0, r.stderr)
  return r.stdout.trim()
}

/** What curl gets from a URL ('' on failure). */
function curl(url: string): string {
  return spawnSync('curl', ['-s', '-m', '5', url], {encoding: 'utf8'}).stdout ?? ''
}

/** Polls `get` until it gives something, the pod's rkt run has ended, or `ms` pass; says how long it took. */
async function answer(
  t: TestContext,
  pod: StartedPod,
  what: string,
  ms: number,
  get: () => Promise<string | undefined> | string | undefined,
): Promise<string> {
  let ended = false
  void pod.proc.then(() => (ended = true))
  const t0 = Date.now()
  for (;;) {
    const v = await get()
    if (v !== undefined) {
      t.diagnostic(`${what}: answered ${((Date.now() - t0) / 1000).toFixed(1)} s after the pod was ready`)
      return v
    }
    if (ended) {
      const r = await pod.proc
      assert.fail(`${what}: rkt run ended (${r.exitCode}) before an answer: ${String(r.stderr).slice(-3000)}`)
    }
    if (Date.now() - t0 > ms) {
      pod.proc.kill('SIGTERM')
      const r = await pod.proc
      assert.fail(`${what}: no answer within ${ms / 1000} s; the pod said: ${String(r.stderr).slice(-3000)}`)
    }
    await sleep(250)
  }
}

/** Stops the pod and waits for its rkt run. */
async function stop(ps: PodSandbox, pod: StartedPod): Promise<void> {
  const s = await ps.rkt(['stop', pod.uuid])
  assert.equal(s.exitCode, 0, s.stderr)
  await pod.proc
}

const freePort = (): number => 20000 + Math.floor(Math.random() * 5000)

for (const engine of ENGINES) {
  // TCG: a VM boots in seconds and Python imports from a 9p root take a minute.
  const slow = engine === 'kvm' ? 6 : 2
  // Each test's own bound (npm test's default of 240 s is too short for a first start under TCG).
  const timeout = engine === 'kvm' ? 600_000 : 240_000
  describe(`real applications on ${engine}`, () => {
    test(
      'PostgreSQL 15 makes its cluster, runs as postgres and answers psql through its Unix socket',
      {timeout},
      async (t) => {
        const ps = PodSandbox.create(t, {stage1: engine})
        const id = await fetchImage(ps, 'postgres')
        const pod = await ps.start(['run', '--net=none', id])
        // Long options: `rkt enter UUID CMD -h` shows rkt's help instead of running CMD.
        const psql = [
          '/usr/lib/postgresql/15/bin/psql',
          '--host=/run/postgresql',
          '--username=postgres',
          '--no-align',
          '--tuples-only',
          '--command',
        ]
        const got = await answer(t, pod, 'psql', 60_000 * slow, async () => {
          const r = await ps.rkt(['enter', pod.uuid, ...psql, "select 6*7, current_setting('unix_socket_directories')"])
          return r.exitCode === 0 ? r.stdout.trim() : undefined
        })
        assert.equal(got, '42|/run/postgresql')
        const sock = await ps.rkt(['enter', pod.uuid, 'stat', '-c', '%F %U', '/run/postgresql/.s.PGSQL.5432'])
        assert.equal(sock.stdout.trim(), 'socket postgres', sock.stderr)
        const server = await ps.rkt([
          'enter',
          pod.uuid,
          'sh',
          '-c',
          'stat -c %U /proc/$(head -1 /var/lib/postgresql/data/postmaster.pid)',
        ])
        assert.equal(server.stdout.trim(), 'postgres', server.stderr)
        await stop(ps, pod)
      },
    )

    test('a Flask app on gunicorn answers on a forwarded port', {timeout}, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const id = await fetchImage(ps, 'flask')
      const port = freePort()
      const pod = await ps.start(['run', `--port=http:${port}`, id])
      const url = `http://127.0.0.1:${port}/`
      const got = await answer(t, pod, 'GET /', 30_000 * slow, () => curl(url) || undefined)
      assert.equal(got, 'hello from flask\n')
      await stop(ps, pod)
    })

    test(
      'nginx with Debian’s default site (listen [::]:80) starts, listens on IPv6 and answers',
      {timeout},
      async (t) => {
        const ps = PodSandbox.create(t, {stage1: engine})
        const id = await fetchImage(ps, 'nginx')
        const port = freePort()
        const pod = await ps.start(['run', `--port=http:${port}`, id])
        const got = await answer(t, pod, 'GET /', 30_000 * slow, () => curl(`http://127.0.0.1:${port}/`) || undefined)
        assert.match(got, /<title>Welcome to nginx!<\/title>/)
        const site = await ps.rkt(['enter', pod.uuid, 'cat', '/etc/nginx/sites-enabled/default'])
        assert.match(site.stdout, /^\s*listen \[::\]:80 default_server;$/m, site.stderr)
        // Port 80 (0050) in LISTEN (0A) on an IPv6 socket.
        const tcp6 = await ps.rkt(['enter', pod.uuid, 'cat', '/proc/net/tcp6'])
        assert.match(tcp6.stdout, /^\s*\d+: 0{32}:0050 0{32}:0000 0A /m, tcp6.stderr)
        await stop(ps, pod)
      },
    )
  })
}
