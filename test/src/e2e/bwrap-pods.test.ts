// Pods under the bwrap stage1 (stage1-bwrap/README.md), as a user sees them: exit codes (128+N for a signal)
// reach `rkt run` and `rkt status`; the app's user, groups, working directory and environment; pre-start
// handlers as root and post-stop handlers; host and empty volumes as mount points, read-only enforced; a
// failing app stops its sibling, which reports 0; `rkt stop` (143) and `--force` (137); `rkt enter`; refused
// requests; and gc leaving no mount, cgroup or process behind.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {allProcs, BASE, mountsUnder, PodSandbox, podCgroups, sh, statusPairs, type PodImageSpec} from '../util/pods.js'

const IMAGE: PodImageSpec = {
  ...BASE,
  name: 'example.com/bwrap-base',
  files: {
    '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n',
    '/etc/group': 'root:x:0:\nalice:x:1000:\nstaff:x:2000:\n',
    '/home/alice/.keep': '',
  },
}

/** `rkt run` to completion, with the pod's UUID. */
async function run(ps: PodSandbox, args: readonly string[]) {
  const uuidFile = path.join(ps.s.work, `uuid-${Math.random().toString(36).slice(2)}`)
  const r = await ps.rkt(['run', `--uuid-file-save=${uuidFile}`, ...args])
  return {...r, uuid: fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''}
}

/** The app-NAME=code lines of `rkt status`. */
async function appCodes(ps: PodSandbox, uuid: string): Promise<[string, string][]> {
  return statusPairs((await ps.rkt(['status', uuid])).stdout).filter(([k]) => k.startsWith('app-'))
}

/** Processes whose root is inside the pod's directory (the apps and their sandboxes). */
function podProcesses(dir: string): number[] {
  return allProcs()
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/root`).startsWith(dir)
      } catch {
        return false
      }
    })
}

describe('bwrap: exit codes, identity, environment, handlers', () => {
  test('exit 0, exit 3 and a signal (128+N) are rkt run’s exit codes and rkt status’s', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    for (const [script, code] of [
      ['exit 0', 0],
      ['exit 3', 3],
      ['kill -KILL $$', 137],
    ] as const) {
      const r = await run(ps, [img.name, ...sh(script)])
      assert.equal(r.exitCode, code, `${script}: ${r.stderr}`)
      assert.deepEqual(await appCodes(ps, r.uuid), [['app-bwrap-base', String(code)]])
    }
  })

  test('user and group by name, supplementary gids, working directory, env; pre-start as root, then post-stop', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image({
      ...IMAGE,
      app: {
        environment: [{name: 'FROM_IMAGE', value: 'image'}],
        eventHandlers: [
          {name: 'pre-start', exec: ['/bin/sh', '-c', 'echo "pre $(id -u) $(pwd)"']},
          {name: 'post-stop', exec: ['/bin/sh', '-c', 'echo "post $(id -u)"']},
        ],
      },
    })
    const r = await run(ps, [
      '--set-env=FROM_FLAG=flag',
      img.name,
      '--user=alice',
      '--group=alice',
      '--supplementary-gids=2000',
      '--working-dir=/home/alice',
      ...sh('echo "app $(id -u) $(id -g) $(id -G) $(pwd) $FROM_IMAGE $FROM_FLAG $AC_APP_NAME"'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(
      r.stdout,
      'pre 0 /home/alice\napp 1000 1000 1000 2000 /home/alice image flag bwrap-base\npost 0',
      'handlers as root around the app, which runs as alice with her groups, in her directory',
    )
  })

  test('the app has rkt’s default capabilities only: a file capability in the image grants nothing more', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    const r = await run(ps, [img.name, ...sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status')])
    assert.equal(r.exitCode, 0, r.stderr)
    // rkt's default set (CAP_CHOWN … CAP_SETFCAP, without CAP_SYS_ADMIN), in the bounding set too.
    assert.equal(r.stdout, 'CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb')
  })
})

describe('bwrap: volumes and several apps', () => {
  test('host volumes read-write (both ways) and read-only, an empty one under /tmp: real mount points', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    const dir = path.join(ps.s.work, 'vol')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'from-host'), 'host\n')
    const r = await run(ps, [
      `--volume=rw,kind=host,source=${dir}`,
      `--volume=ro,kind=host,source=${dir},readOnly=true`,
      '--volume=scratch,kind=empty',
      img.name,
      '--mount=volume=rw,target=/rw',
      '--mount=volume=ro,target=/ro',
      '--mount=volume=scratch,target=/tmp/scratch',
      ...sh(
        'cat /rw/from-host; echo app > /rw/from-app; touch /ro/x 2>/dev/null || echo ro-refused; ' +
          'touch /tmp/scratch/y && for m in /rw /ro /tmp/scratch; do grep -c " $m " /proc/self/mountinfo; done',
      ),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'host\nro-refused\n1\n1\n1')
    assert.equal(fs.readFileSync(path.join(dir, 'from-app'), 'utf8'), 'app\n')
  })

  test('two apps share an empty volume; one fails with 3: rkt run exits 3, the sibling it stopped reports 0', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    const r = await run(ps, [
      '--volume=shared,kind=empty,mode=0777',
      img.name,
      '--name=waiter',
      '--mount=volume=shared,target=/shared',
      ...sh('echo hello > /shared/msg; sleep 60 & wait'),
      '---',
      img.name,
      '--name=failer',
      '--mount=volume=shared,target=/shared',
      ...sh('until [ -e /shared/msg ]; do sleep 0.05; done; cat /shared/msg; exit 3'),
    ])
    assert.equal(r.exitCode, 3, r.stderr)
    assert.equal(r.stdout, 'hello')
    assert.deepEqual(await appCodes(ps, r.uuid), [
      ['app-waiter', '0'],
      ['app-failer', '3'],
    ])
  })
})

describe('bwrap: stop, enter, gc', () => {
  test('rkt stop: the app sees SIGTERM (143, or its own code when it traps it); --force: 137', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    for (const [flags, script, code] of [
      [[], 'touch /ready && sleep 60 & wait', 143],
      // Only the app gets the signal, not bwrap: had bwrap died of it, the pod would report 143.
      [[], 'trap "exit 7" TERM; touch /ready; sleep 60 & wait', 7],
      [['--force'], 'touch /ready && sleep 60 & wait', 137],
    ] as const) {
      const pod = await ps.start(['run', img.name, ...sh(script)], {readyFile: '/ready'})
      const stop = await ps.rkt(['stop', ...flags, pod.uuid])
      assert.equal(stop.exitCode, 0, stop.stderr)
      const r = await pod.proc
      assert.equal(r.exitCode, code, `${script}: ${String(r.stderr)}`)
      assert.deepEqual(await appCodes(ps, pod.uuid), [['app-bwrap-base', String(code)]])
    }
  })

  test('rkt enter: exit code, the app’s env and user, the caller’s TERM, the working directory; then gc leaves nothing', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    const pod = await ps.start(
      [
        'run',
        '--volume=w,kind=empty,mode=0777',
        img.name,
        '--mount=volume=w,target=/w',
        '--user=alice',
        '--working-dir=/home/alice',
        '--set-env=X=1',
        ...sh('touch /w/ready && sleep 60'),
      ],
      {readyFile: '/w/ready'},
    )
    const dir = ps.podPath(pod.uuid)
    const enter = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'echo $(id -u) $X $TERM $(pwd); exit 4'], {
      env: {TERM: 'vt-test'},
    })
    assert.equal(enter.exitCode, 4, enter.stderr)
    assert.equal(enter.stdout, '1000 1 vt-test /home/alice')
    assert.ok(podCgroups(pod.uuid).length > 0, 'the pod has cgroups')
    assert.equal((await ps.rkt(['stop', pod.uuid])).exitCode, 0)
    await pod.proc
    assert.equal((await ps.rkt(['rm', pod.uuid])).exitCode, 0)
    assert.equal(ps.podDir(pod.uuid), undefined, 'the pod is gone')
    assert.deepEqual(podCgroups(pod.uuid), [], 'no cgroup left')
    assert.deepEqual(mountsUnder(dir), [], 'no mount left')
    assert.deepEqual(podProcesses(dir), [], 'no process left')
  })

  test('refused: contained networks and --private-users, exit 254 with the reason; --net=none has only loopback', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'bwrap'})
    const img = await ps.image(IMAGE)
    const net = await run(ps, ['--net=default-restricted', img.name, ...sh('exit 0')])
    assert.equal(net.exitCode, 254)
    assert.match(net.stderr, /the bwrap stage1 has no contained networks/)
    const users = await run(ps, ['--private-users', img.name, ...sh('exit 0')])
    assert.equal(users.exitCode, 254)
    assert.match(users.stderr, /--private-users is not supported by the bwrap stage1/)
    const none = await run(ps, [
      '--net=none',
      img.name,
      ...sh('ls /sys/class/net 2>/dev/null; cat /proc/net/dev | wc -l'),
    ])
    assert.equal(none.exitCode, 0, none.stderr)
    assert.equal(none.stdout, '3', '--net=none: only the loopback device')
  })
})
