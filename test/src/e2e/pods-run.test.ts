// `rkt run` with the fly stage1, as a user sees it: the app's output and exit status, its environment (last wins: the
// image's, --set-env-file, --set-env), its user, groups and working directory, volumes, --exec and app arguments. Every
// pod runs from busybox-static in a fresh data directory.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {BASE, buildAci, mountsUnder, PodSandbox, sh, statusPairs, type PodImageSpec} from '../util/pods.js'

/** The pod the last run made (its UUID from --uuid-file-save). */
function savedUuid(ps: PodSandbox, file: string): string {
  const uuid = fs.readFileSync(file, 'utf8').trim()
  assert.match(uuid, /^[0-9a-f-]{36}$/)
  assert.ok(ps.podDir(uuid), `pod ${uuid} exists`)
  return uuid
}

/** NAME=value lines printed by `env`, as a map. */
function envOf(stdout: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1))
  }
  return m
}

describe('rkt run: output and exit status', () => {
  test("prints the app's stdout and stderr and exits 0", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', img.name, ...sh('echo to-stdout; echo to-stderr >&2; cat /etc/marker')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'to-stdout\nfrom the image')
    assert.match(r.stderr, /^to-stderr$/m)
  })

  test('the image can be given as a file, by name or by ID; the app runs its image exec', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const spec: PodImageSpec = {
      ...BASE,
      name: 'example.com/pod-exec',
      exec: ['/bin/sh', '-c', 'echo "exec of the image: $*"', 'sh'],
    }
    const img = await ps.image(spec)
    const byFile = await ps.rkt(['--insecure-options=image', 'run', await buildAci(spec)])
    assert.equal(byFile.exitCode, 0, byFile.stderr)
    assert.equal(byFile.stdout, 'exec of the image: ')
    const byName = await ps.rkt(['run', img.name, '--', 'a', 'b c'])
    assert.equal(byName.stdout, 'exec of the image: a b c', 'app arguments are appended to the image exec')
    const byId = await ps.rkt(['run', img.id.slice(0, 20)])
    assert.equal(byId.exitCode, 0, byId.stderr)
    assert.equal(byId.stdout, 'exec of the image: ')
  })

  for (const [what, script, code] of [
    ['exit 7', 'exit 7', 7],
    ['exit 255', 'exit 255', 255],
    ['killed by SIGKILL', 'kill -KILL $$', 128 + 9],
    ['killed by SIGTERM', 'kill -TERM $$', 128 + 15],
  ] as const) {
    test(`an app that ends with ${what}: rkt exits ${code} and status records it`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: 'fly'})
      const img = await ps.image(BASE)
      const uuidFile = path.join(ps.s.work, 'uuid')
      const r = await ps.rkt(['run', `--uuid-file-save=${uuidFile}`, img.name, ...sh(script)])
      assert.equal(r.exitCode, code, r.stderr)
      const uuid = savedUuid(ps, uuidFile)
      const st = await ps.rkt(['status', uuid])
      assert.equal(st.exitCode, 0, st.stderr)
      assert.ok(
        statusPairs(st.stdout).some(([k, v]) => k === 'app-pod-base' && v === String(code)),
        st.stdout,
      )
    })
  }

  test('a program missing from the image: 254, a message naming it, and no app status', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt(['run', `--uuid-file-save=${uuidFile}`, img.name, '--exec=/bin/no-such-program'])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /"\/bin\/no-such-program".*does not exist/)
    assert.equal(r.stdout, '')
    const uuid = savedUuid(ps, uuidFile)
    const st = await ps.rkt(['status', uuid])
    assert.match(st.stdout, /^state=exited$/m)
    assert.doesNotMatch(st.stdout, /^app-/m, 'an app that never started has no exit status')

    const bare = await ps.rkt(['run', img.name, '--exec=no-such-program'])
    assert.equal(bare.exitCode, 254)
    assert.match(bare.stderr, /cannot find "no-such-program" in PATH=/)
  })

  test('an image that is not in the store: 254, and no pod is left', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    await ps.image(BASE)
    const r = await ps.rkt(['run', 'example.com/not-fetched'])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /example\.com\/not-fetched is not in the store/)
    const list = await ps.rkt(['list', '--no-legend'])
    assert.equal(list.stdout, '')
  })
})

describe('rkt run: the environment', () => {
  const ENV_IMAGE: PodImageSpec = {
    ...BASE,
    name: 'example.com/pod-env',
    app: {
      environment: [
        {name: 'P1', value: 'image'},
        {name: 'P2', value: 'image'},
        {name: 'P3', value: 'image'},
        {name: 'P4', value: 'image'},
        {name: 'AC_APP_NAME', value: 'set-by-the-image'},
      ],
    },
  }

  test('precedence, last wins: parent (--inherit-env) < image < --set-env-file < --set-env < --environment', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(ENV_IMAGE)
    const file = path.join(ps.s.work, 'env')
    fs.writeFileSync(file, '# a comment\n; another\nP2=file\nP3=file\nP4=file\nF=with = sign\n')
    const r = await ps.rkt(
      [
        'run',
        '--inherit-env',
        `--set-env-file=${file}`,
        '--set-env=P3=setenv',
        '--set-env=P4=setenv',
        img.name,
        '--environment=P4=app',
        ...sh('env'),
      ],
      {env: {P0: 'parent', P1: 'parent'}},
    )
    assert.equal(r.exitCode, 0, r.stderr)
    const env = envOf(r.stdout)
    assert.equal(env.get('P0'), 'parent', '--inherit-env passes the caller’s variables')
    assert.equal(env.get('P1'), 'image', 'the image beats the parent')
    assert.equal(env.get('P2'), 'file', '--set-env-file beats the image')
    assert.equal(env.get('P3'), 'setenv', '--set-env beats --set-env-file')
    assert.equal(env.get('P4'), 'app', '--environment beats --set-env')
    assert.equal(env.get('F'), 'with = sign')
    assert.equal(env.get('RKT_LOCK_FD'), undefined, 'the contract’s variables are not the app’s')
  })

  test('without --inherit-env the caller’s variables stay out; rkt’s defaults fill in', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(ENV_IMAGE)
    const r = await ps.rkt(['run', img.name, ...sh('env')], {env: {P0: 'parent', SECRET_TOKEN: 'hunter2'}})
    assert.equal(r.exitCode, 0, r.stderr)
    const env = envOf(r.stdout)
    assert.equal(env.get('P0'), undefined)
    assert.equal(env.get('SECRET_TOKEN'), undefined)
    assert.ok(!r.stdout.includes('hunter2'))
    assert.equal(env.get('P1'), 'image')
    assert.equal(env.get('PATH'), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    assert.equal(env.get('HOME'), '/root')
    assert.equal(env.get('SHELL'), '/bin/sh')
    assert.equal(env.get('USER'), 'root')
  })

  test('AC_APP_NAME is the pod’s name of the app (--name), whatever the image says', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(ENV_IMAGE)
    const named = await ps.rkt(['run', img.name, '--name=web', ...sh('echo "$AC_APP_NAME"')])
    assert.equal(named.exitCode, 0, named.stderr)
    assert.equal(named.stdout, 'web')
    const plain = await ps.rkt(['run', img.name, ...sh('echo "$AC_APP_NAME"')])
    assert.equal(plain.stdout, 'pod-env', 'the default app name comes from the image name')
  })

  test('malformed --set-env and an unreadable --set-env-file are usage errors; no pod is made', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const bad = await ps.rkt(['run', '--set-env=1BAD=x', img.name])
    assert.equal(bad.exitCode, 2, bad.stderr)
    const missing = await ps.rkt(['run', `--set-env-file=${path.join(ps.s.work, 'absent')}`, img.name])
    assert.notEqual(missing.exitCode, 0)
    assert.match(missing.stderr, /absent/)
    assert.equal((await ps.rkt(['list', '--no-legend'])).stdout, '')
  })
})

describe('rkt run: user, groups and working directory', () => {
  const USERS: PodImageSpec = {
    ...BASE,
    name: 'example.com/pod-users',
    files: {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345:Alice:/home/alice:/bin/sh\n',
      '/etc/group': 'root:x:0:\nstaff:x:2345:\nwheel:x:3456:alice\n',
      '/srv/app/marker': 'in /srv/app\n',
    },
    app: {user: 'alice', group: 'staff', workingDirectory: '/etc'},
  }
  const ID = 'echo "$(id -u) $(id -g) $(id -G | tr " " "\\n" | sort -n | tr "\\n" " ")$(pwd)"'

  test("names from the image's /etc/passwd and /etc/group; the image's working directory", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(USERS)
    const r = await ps.rkt(['run', img.name, ...sh(ID)])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '1234 2345 2345 /etc')
  })

  test('--user/--group by name and by number, --supplementary-gids, --working-dir', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(USERS)
    const named = await ps.rkt([
      'run',
      img.name,
      '--user=alice',
      '--group=wheel',
      '--supplementary-gids=7,8',
      '--working-dir=/srv/app',
      ...sh(`${ID}; cat marker`),
    ])
    assert.equal(named.exitCode, 0, named.stderr)
    assert.equal(named.stdout, '1234 3456 7 8 3456 /srv/app\nin /srv/app')
    const numeric = await ps.rkt(['run', img.name, '--user=1000', '--group=100', '--working-dir=/', ...sh(ID)])
    assert.equal(numeric.exitCode, 0, numeric.stderr)
    assert.equal(numeric.stdout, '1000 100 100 /')
  })

  test('files the app writes to a host volume belong to its uid and gid', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(USERS)
    const host = path.join(ps.s.work, 'shared')
    fs.mkdirSync(host, {mode: 0o777})
    fs.chmodSync(host, 0o777)
    const r = await ps.rkt([
      'run',
      `--volume=v,kind=host,source=${host}`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh('echo hi > /data/by-alice'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    const st = fs.statSync(path.join(host, 'by-alice'))
    assert.deepEqual([st.uid, st.gid], [1234, 2345])
  })

  test('an unknown user or group fails with 254 and says which, and where it looked', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(USERS)
    const user = await ps.rkt(['run', img.name, '--user=bob', ...sh('true')])
    assert.equal(user.exitCode, 254)
    assert.match(user.stderr, /user "bob"/)
    assert.match(user.stderr, /\/etc\/passwd/)
    const group = await ps.rkt(['run', img.name, '--group=nogroup', ...sh('true')])
    assert.equal(group.exitCode, 254)
    assert.match(group.stderr, /group "nogroup"/)
    const dir = await ps.rkt(['run', img.name, '--working-dir=/no/such/dir', ...sh('true')])
    assert.equal(dir.exitCode, 254)
    assert.match(dir.stderr, /\/no\/such\/dir/)
  })
})

describe('rkt run: volumes', () => {
  test('a host volume, read-write: the app reads host files and its writes reach the host', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    fs.writeFileSync(path.join(host, 'in'), 'from the host\n')
    const r = await ps.rkt([
      'run',
      `--volume=v,kind=host,source=${host}`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh('cat /data/in; echo from the app > /data/out'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'from the host')
    assert.equal(fs.readFileSync(path.join(host, 'out'), 'utf8'), 'from the app\n')
  })

  test('a host volume with readOnly=true: readable, and every write fails', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const host = path.join(ps.s.work, 'vol')
    fs.mkdirSync(host)
    fs.writeFileSync(path.join(host, 'in'), 'read me\n')
    const r = await ps.rkt([
      'run',
      `--volume=v,kind=host,source=${host},readOnly=true`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh('cat /data/in; echo x > /data/out && echo WROTE; rm /data/in && echo REMOVED; true'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'read me')
    assert.match(r.stderr, /Read-only file system/)
    assert.deepEqual(fs.readdirSync(host), ['in'])
    assert.equal(fs.readFileSync(path.join(host, 'in'), 'utf8'), 'read me\n')
  })

  test('an empty volume: created with its mode and owner, writable, kept in the pod until gc', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      `--uuid-file-save=${uuidFile}`,
      '--volume=scratch,kind=empty,mode=0750,uid=1234,gid=2345',
      img.name,
      '--mount=volume=scratch,target=/scratch',
      ...sh('stat -c "%a %u %g" /scratch; echo written > /scratch/f; cat /scratch/f'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '750 1234 2345\nwritten')
    const uuid = savedUuid(ps, uuidFile)
    assert.equal(fs.readFileSync(path.join(ps.podPath(uuid), 'sharedVolumes', 'scratch', 'f'), 'utf8'), 'written\n')
  })

  test('an image mount point without a volume gets an implicit empty volume, with a warning', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image({
      ...BASE,
      name: 'example.com/pod-mountpoint',
      app: {mountPoints: [{name: 'cache', path: '/var/cache/app'}]},
    })
    const r = await ps.rkt(['run', img.name, ...sh('echo ok > /var/cache/app/f && cat /var/cache/app/f')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'ok')
    assert.match(r.stderr, /implicitly creating an "empty" volume/)
  })

  test('refused volumes: a missing host source, a target under /proc; nothing is mounted on the host', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const missing = path.join(ps.s.work, 'does-not-exist')
    const r1 = await ps.rkt([
      'run',
      `--volume=v,kind=host,source=${missing}`,
      img.name,
      '--mount=volume=v,target=/data',
      ...sh('true'),
    ])
    assert.equal(r1.exitCode, 254)
    assert.match(r1.stderr, /does-not-exist/)
    assert.ok(!fs.existsSync(missing), 'rkt never creates a host source')
    const r2 = await ps.rkt([
      'run',
      `--volume=v,kind=host,source=${ps.s.work}`,
      img.name,
      '--mount=volume=v,target=/proc/sys',
      ...sh('true'),
    ])
    assert.equal(r2.exitCode, 254)
    assert.match(r2.stderr, /\/proc/)
    assert.ok(!fs.existsSync(path.join(ps.s.work, 'sys')))
    const gc = await ps.rkt(['gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})

describe('rkt run: --exec, app arguments and ---', () => {
  test('-- passes arguments verbatim (spaces, dashes, empty strings)', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      img.name,
      '--exec=/bin/sh',
      '--',
      '-c',
      'printf "[%s]" "$@"',
      'zero',
      'one two',
      '--three',
      '',
      '-',
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, '[one two][--three][][-]')
    const bare = await ps.rkt(['run', img.name, '--exec=sh', '--', '-c', 'echo "found $0"'])
    assert.equal(bare.exitCode, 0, bare.stderr)
    assert.equal(bare.stdout, 'found /bin/sh', 'a bare --exec is looked up in the app’s PATH')
  })

  test('--- ends an image’s arguments; fly refuses a second app with a clear error (254)', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const uuidFile = path.join(ps.s.work, 'uuid')
    const r = await ps.rkt([
      'run',
      `--uuid-file-save=${uuidFile}`,
      img.name,
      ...sh('echo first'),
      'a1',
      '---',
      img.name,
      '--name=second',
      ...sh('echo second'),
      'b1',
    ])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /fly runs exactly one app per pod; this pod has 2/)
    assert.doesNotMatch(r.stdout, /first|second/, 'no app ran')
    // The pod manifest shows how --- split the arguments.
    const uuid = savedUuid(ps, uuidFile)
    const cat = await ps.rkt(['cat-manifest', uuid])
    assert.equal(cat.exitCode, 0, cat.stderr)
    const m = JSON.parse(cat.stdout) as {apps: {name: string; app: {exec: string[]}}[]}
    assert.deepEqual(
      m.apps.map((a) => [a.name, a.app.exec]),
      [
        ['pod-base', ['/bin/sh', '-c', 'echo first', 'a1']],
        ['second', ['/bin/sh', '-c', 'echo second', 'b1']],
      ],
    )
    const rm = await ps.rkt(['rm', uuid])
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})
