// Pods under the nspawn stage1 (stage1-nspawn/README.md), as a user sees them: nspawn is the default stage1,
// `rkt run` becomes systemd-nspawn with our supervisor as the pod's PID 1, several apps share the pod's
// network namespace, the first app to fail ends the pod (the others get SIGTERM), exit statuses (128+N for a
// signal) reach `rkt run` and `rkt status`, and the basics an app relies on (environment, user, working
// directory, volumes, host name, /dev, the network, a terminal with --interactive). Every pod runs the
// nspawn stage1 named explicitly (--stage1-path) except the one test about the default.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {requireTool} from '../util/harness.js'
import {
  BASE,
  flockHolders,
  NSPAWN,
  PodSandbox,
  procInfo,
  processTree,
  sh,
  statusPairs,
  type PodImageSpec,
} from '../util/pods.js'

/** The UUID --uuid-file-save wrote. */
function savedUuid(file: string): string {
  const uuid = fs.readFileSync(file, 'utf8').trim()
  assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  return uuid
}

/** A host directory every app of a pod can write (mode 0777), and the flags that mount it at /shared. */
function sharedVolume(ps: PodSandbox): {dir: string; volume: string; mount: string} {
  const dir = path.join(ps.s.work, 'shared')
  fs.mkdirSync(dir, {mode: 0o777})
  fs.chmodSync(dir, 0o777)
  return {dir, volume: `--volume=shared,kind=host,source=${dir}`, mount: '--mount=volume=shared,target=/shared'}
}

describe('nspawn: the engine and the process chain', () => {
  test('the default stage1 (no stage1 flag) is nspawn: its manifest, and the supervisor as the pod’s PID 1', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt(['run', `--uuid-file-save=${uuidFile}`, img.name, ...sh('cat /proc/1/comm')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'supervisor', 'PID 1 of the pod is the nspawn engine’s supervisor')
    const uuid = savedUuid(uuidFile)
    const manifest = JSON.parse(fs.readFileSync(path.join(ps.podPath(uuid), 'stage1', 'manifest'), 'utf8')) as {
      name: string
    }
    assert.equal(manifest.name, 'rkt-ts/stage1-nspawn')
  })

  test('rkt run becomes systemd-nspawn (same PID), whose only child is the supervisor; no node stays; nspawn holds the lock', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', NSPAWN, img.name, ...sh('sleep 30 & : > /ready; wait')], {
      readyFile: '/ready',
    })
    const dir = ps.podPath(pod.uuid)
    const me = procInfo(pod.pid)
    assert.ok(me, 'rkt run is alive')
    assert.equal(me.comm, 'systemd-nspawn', 'the PID of rkt run now runs systemd-nspawn')
    assert.equal(fs.readFileSync(path.join(dir, 'ppid'), 'utf8').trim(), String(pod.pid), 'ppid is nspawn’s PID')
    const tree = processTree(pod.pid)
    const sup = tree.filter((p) => p.ppid === pod.pid)
    assert.deepEqual(
      sup.map((p) => p.comm),
      ['supervisor'],
      'nspawn’s only child is the supervisor',
    )
    const st = await ps.rkt(['status', pod.uuid])
    assert.match(st.stdout, new RegExp(`^pid=${sup[0]!.pid}$`, 'm'), 'status names the supervisor as the pod’s pid')
    assert.deepEqual(tree.map((p) => p.comm).sort(), ['iomux', 'sh', 'sleep', 'supervisor', 'systemd-nspawn'])
    assert.deepEqual(
      tree.filter((p) => p.comm === 'node' || path.basename(p.exe).startsWith('node')),
      [],
      'no Node process stays in the pod',
    )
    assert.deepEqual(flockHolders(dir), [pod.pid], 'the pod lock is held by nspawn alone, never inside the pod')
  })
})

describe('nspawn: several apps in one pod', () => {
  test('two apps talk over localhost; one exits 3: rkt run exits 3, the other got SIGTERM; status shows both', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const shared = sharedVolume(ps)
    const uuidFile = path.join(ps.s.work, 'uuid')
    // The server traps TERM (into a marker on the host), takes one connection, then waits to be told to stop.
    // Its nc reads a FIFO the shell holds open, not the app's /dev/null: at EOF on its input busybox's nc
    // shuts its side down, which could end the client's nc before the client had sent anything.
    const server = sh(
      'trap "echo TERM > /shared/server-term; exit 0" TERM; mkfifo /tmp/in; exec 3<>/tmp/in; nc -l -p 5555 <&3 > /shared/received 2> /shared/server.err; echo "nc=$?" >> /shared/server.err; touch /shared/server-got; while :; do sleep 1 & wait $!; done',
    )
    // The client retries until the server listens, waits until the server has the data, then fails with 3.
    const client = sh(
      'until echo hello-from-client | nc 127.0.0.1 5555; do sleep 0.05; done; until [ -e /shared/server-got ]; do sleep 0.05; done; exit 3',
    )
    const r = await ps.rkt([
      'run',
      NSPAWN,
      '--net=none',
      `--uuid-file-save=${uuidFile}`,
      shared.volume,
      img.name,
      '--name=server',
      shared.mount,
      ...server,
      '---',
      img.name,
      '--name=client',
      shared.mount,
      ...client,
    ])
    assert.equal(r.exitCode, 3, `rkt run exits with the failing app's code: ${r.stderr}`)
    assert.equal(
      fs.readFileSync(path.join(shared.dir, 'received'), 'utf8'),
      'hello-from-client\n',
      `server: ${fs.readFileSync(path.join(shared.dir, 'server.err'), 'utf8')} rkt: ${r.stderr}`,
    )
    assert.equal(
      fs.readFileSync(path.join(shared.dir, 'server-term'), 'utf8'),
      'TERM\n',
      'the other app got SIGTERM (its trap ran)',
    )
    const uuid = savedUuid(uuidFile)
    const st = await ps.statusJson(uuid)
    assert.equal(st.state, 'exited')
    assert.deepEqual(st.app_names, ['server', 'client'])
    assert.deepEqual(
      st.apps?.map((a) => [a.name, a.state, a.exit_code]),
      [
        ['server', 'exited', 0],
        ['client', 'exited', 3],
      ],
    )
    for (const a of st.apps ?? []) {
      assert.equal(typeof a['started_at'], 'number', `${a.name} has a start time`)
      assert.equal(typeof a['finished_at'], 'number', `${a.name} has a finish time`)
    }
    const pairs = statusPairs((await ps.rkt(['status', uuid])).stdout)
    assert.ok(
      pairs.some(([k, v]) => k === 'app-server' && v === '0'),
      'key=value status too',
    )
    assert.ok(pairs.some(([k, v]) => k === 'app-client' && v === '3'))
  })

  test('an app killed by a signal: 128+N for rkt run and in status (SIGKILL 137, SIGTERM 143)', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    for (const [sig, code] of [
      ['KILL', 137],
      ['TERM', 143],
    ] as const) {
      const uuidFile = path.join(ps.s.work, `uuid-${sig}`)
      const r = await ps.rkt(['run', NSPAWN, `--uuid-file-save=${uuidFile}`, img.name, ...sh(`kill -${sig} $$`)])
      assert.equal(r.exitCode, code, `SIG${sig}: ${r.stderr}`)
      const st = await ps.statusJson(savedUuid(uuidFile))
      assert.deepEqual(
        st.apps?.map((a) => [a.state, a.exit_code]),
        [['exited', code]],
      )
    }
  })
})

describe('nspawn: what an app gets', () => {
  const USERS: PodImageSpec = {
    ...BASE,
    name: 'example.com/nspawn-users',
    files: {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345:Alice:/home/alice:/bin/sh\n',
      '/etc/group': 'root:x:0:\nstaff:x:2345:\nwheel:x:3456:alice\n',
      '/srv/app/marker': 'in /srv/app\n',
    },
    app: {
      user: 'alice',
      group: 'staff',
      workingDirectory: '/etc',
      environment: [{name: 'FROM_IMAGE', value: 'image'}],
    },
  }
  const SCRIPT =
    'echo "$(id -u) $(id -g) $(id -G) $(pwd)"; cat marker; env | sort | grep -v "^_="; echo by-app > /data/written'

  test('user, groups, working directory, environment and a host volume: the same as the fly stage1 gives', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(USERS)
    const outputs: string[] = []
    for (const engine of ['nspawn', 'fly']) {
      const host = path.join(ps.s.work, `vol-${engine}`)
      fs.mkdirSync(host, {mode: 0o777})
      fs.chmodSync(host, 0o777)
      const stage1 = engine === 'nspawn' ? NSPAWN : NSPAWN.replace('stage1-nspawn.aci', 'stage1-fly.aci')
      const r = await ps.rkt([
        'run',
        stage1,
        '--set-env=FROM_RUN=run',
        `--volume=v,kind=host,source=${host}`,
        img.name,
        '--user=alice',
        '--group=wheel',
        '--supplementary-gids=7,8',
        '--working-dir=/srv/app',
        '--mount=volume=v,target=/data',
        ...sh(SCRIPT),
      ])
      assert.equal(r.exitCode, 0, `${engine}: ${r.stderr}`)
      const st = fs.statSync(path.join(host, 'written'))
      assert.deepEqual([st.uid, st.gid], [1234, 3456], `${engine}: the file belongs to the app's uid and gid`)
      outputs.push(r.stdout)
    }
    const [nspawn, fly] = outputs as [string, string]
    const lines = nspawn.split('\n')
    assert.equal(lines[0], '1234 3456 3456 7 8 /srv/app')
    assert.equal(lines[1], 'in /srv/app')
    assert.ok(lines.includes('FROM_IMAGE=image') && lines.includes('FROM_RUN=run'), nspawn)
    assert.ok(lines.includes('AC_APP_NAME=nspawn-users'), nspawn)
    for (const leak of ['LISTEN_FDS', 'LISTEN_PID', 'RKT_LOCK_FD', 'NOTIFY_SOCKET'])
      assert.ok(!lines.some((l) => l.startsWith(`${leak}=`)), `${leak} does not reach the app`)
    assert.equal(nspawn, fly, 'the app sees exactly what the fly stage1 gives it (stage0 composes both)')
  })

  test('the host name is rkt-<uuid> by default (hostname and /etc/hostname), --hostname sets it', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      NSPAWN,
      `--uuid-file-save=${uuidFile}`,
      img.name,
      ...sh('hostname; cat /etc/hostname'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const uuid = savedUuid(uuidFile)
    assert.equal(r.stdout, `rkt-${uuid}\nrkt-${uuid}`)
    const named = await ps.rkt(['run', NSPAWN, '--hostname=web1', img.name, ...sh('hostname; cat /etc/hostname')])
    assert.equal(named.exitCode, 0, named.stderr)
    assert.equal(named.stdout, 'web1\nweb1')
  })

  test('/dev holds only the standard nodes, with their device numbers; ptmx and fd are the standard links', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      NSPAWN,
      img.name,
      ...sh(
        'ls -A /dev; echo ---; for n in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$n; done; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; stat -c "%F %a" /dev/shm /dev/pts',
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const [list = '', details = ''] = r.stdout.split('---\n')
    const names = new Set(list.split('\n').filter(Boolean))
    const required = [
      'null',
      'zero',
      'full',
      'random',
      'urandom',
      'tty',
      'ptmx',
      'pts',
      'shm',
      'fd',
      'stdin',
      'stdout',
      'stderr',
    ]
    const allowed = new Set([...required, 'console'])
    for (const n of required) assert.ok(names.has(n), `/dev/${n} is there: ${[...names].join(' ')}`)
    assert.deepEqual(
      [...names].filter((n) => !allowed.has(n)),
      [],
      'nothing but the standard nodes',
    )
    assert.deepEqual(details.split('\n'), [
      '/dev/null character special file 1:3 666',
      '/dev/zero character special file 1:5 666',
      '/dev/full character special file 1:7 666',
      '/dev/random character special file 1:8 666',
      '/dev/urandom character special file 1:9 666',
      '/dev/tty character special file 5:0 666',
      'pts/ptmx',
      '/proc/self/fd',
      '/proc/self/fd/0',
      '/proc/self/fd/1',
      '/proc/self/fd/2',
      'directory 1777',
      'directory 755',
    ])
  })

  test('--net=none: the pod has only lo; --net=host: the host’s interfaces', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const ifaces = 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort'
    const none = await ps.rkt(['run', NSPAWN, '--net=none', img.name, ...sh(ifaces)])
    assert.equal(none.exitCode, 0, none.stderr)
    assert.equal(none.stdout, 'lo')
    const host = fs
      .readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.split(':')[0]!.trim())
      .sort()
    assert.ok(host.length > 1, 'the host has more than lo')
    const shared = await ps.rkt(['run', NSPAWN, '--net=host', img.name, ...sh(ifaces)])
    assert.equal(shared.exitCode, 0, shared.stderr)
    assert.deepEqual(shared.stdout.split('\n'), host)
  })

  test('--interactive: the app reads the terminal, stdin is a tty, and its exit status is rkt’s', async (t) => {
    if (!(await requireTool(t, 'script'))) return
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.runInPty(
      [
        NSPAWN,
        '--interactive',
        img.name,
        ...sh('[ -t 0 ] && echo stdin-is-a-tty; read line; echo "got:$line"; tty; exit 5'),
      ],
      'typed-line\n',
    )
    assert.equal(r.exitCode, 5, r.output)
    assert.match(r.output, /stdin-is-a-tty/)
    assert.match(r.output, /got:typed-line/)
    assert.match(r.output, /^\/dev\/(pts\/\d+|console)\r?$/m, 'tty names a terminal')
    assert.doesNotMatch(r.output, /not a tty/)
  })

  test('^] three times on the terminal kills the pod (rkt run exits 1, as nspawn); rkt status records the app killed (137)', async (t) => {
    if (!(await requireTool(t, 'script'))) return
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.escapeInteractive(NSPAWN, img.name)
    // nspawn SIGKILLs the container (the supervisor with it, which so records nothing) and exits 1 saying so.
    assert.equal(r.exitCode, 1, r.output)
    assert.match(r.output, /terminated by signal KILL/)
    assert.equal(r.app, '137')
  })
})
