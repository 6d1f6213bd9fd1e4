// rkt's command lines as written in its functional tests and in the walkthroughs our users follow, run as they
// are: shortened image IDs in pod manifests, `echo yes | rkt trust`, `--insecure-skip-verify`, `enter UUID -- CMD`,
// `--hostname` with `_`, every Linux errno name in `--seccomp`, rkt's stage1 flavour names, the error texts and
// --debug lines scripts match, and pod names (`--name`). README "Compatibility with rkt's command lines".
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {UserGpg} from '../util/gpg.js'
import {requireTool, RKT} from '../util/harness.js'
import {BASE, buildAci, PodSandbox, sh} from '../util/pods.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('images', () => {
  test('a pod manifest names its image by the ID rkt fetch printed (sha512- + 32 hex), or the store key', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {id} = await ps.image(BASE)
    for (const short of [id.slice(0, 'sha512-'.length + 32), id.slice(0, 'sha512-'.length + 64)]) {
      const manifest = path.join(ps.s.work, 'pod.json')
      fs.writeFileSync(
        manifest,
        JSON.stringify({
          acKind: 'PodManifest',
          acVersion: '0.8.11',
          apps: [
            {
              name: 'base',
              image: {id: short},
              app: {exec: ['/bin/sh', '-c', 'cat /etc/marker'], user: '0', group: '0'},
            },
          ],
        }),
      )
      const r = await ps.rkt(['run', `--pod-manifest=${manifest}`])
      assert.equal(r.exitCode, 0, r.stderr)
      assert.equal(r.stdout, 'from the image')
    }
  })

  test('--insecure-skip-verify is --insecure-options=image, with a deprecation warning', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const aci = await buildAci(BASE)
    const refused = await ps.rkt(['fetch', aci])
    assert.equal(refused.exitCode, 254)
    assert.match(refused.stderr, /error opening signature file /, "rkt's words for a missing signature")
    for (const argv of [
      ['--insecure-skip-verify', 'fetch', aci],
      ['fetch', '--insecure-skip-verify=true', aci],
    ]) {
      const r = await ps.rkt(argv)
      assert.equal(r.exitCode, 0, r.stderr)
      assert.match(r.stdout, /^sha512-[0-9a-f]{32}$/)
      assert.match(r.stderr, /warning: --insecure-skip-verify is deprecated: use --insecure-options=image/)
    }
    const off = await ps.rkt(['fetch', '--insecure-skip-verify=false', '--pull-policy=update', aci])
    assert.equal(off.exitCode, 254, 'false keeps the signature check')
  })

  test("--debug says where an image came from in rkt's words", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const aci = await buildAci(BASE)
    const file = await ps.rkt(['--debug', '--insecure-options=image', 'fetch', aci])
    assert.equal(file.exitCode, 0, file.stderr)
    assert.match(file.stderr, new RegExp(`using image from file ${aci.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    const stored = await ps.rkt(['--debug', 'prepare', 'example.com/pod-base:1.0'])
    assert.equal(stored.exitCode, 0, stored.stderr)
    assert.match(stored.stderr, /using image from local store for image name example\.com\/pod-base:1\.0/)
  })

  test("image ID errors say rkt's words, then our hint", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const {id} = await ps.image(BASE)
    const other = id[7] === '0' ? '1' : '0'
    const none = await ps.rkt(['image', 'cat-manifest', `sha512-${other}2341234`])
    assert.equal(none.exitCode, 254)
    assert.match(none.stderr, /no image IDs found for "sha512-[0-9]2341234"/)
    assert.match(none.stderr, /rkt image list/, 'our hint follows')
  })

  test("rkt's stage1 flavour names find our engines: --stage1-name and image lookups", async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', '--stage1-name=coreos.com/rkt/stage1-fly:1.30.0', img.name, ...sh('echo fly')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, 'fly')
    const m = await ps.rkt(['image', 'cat-manifest', 'coreos.com/rkt/stage1-fly'])
    assert.equal(m.exitCode, 0, m.stderr)
    assert.equal((JSON.parse(m.stdout) as {name: string}).name, 'rkt-ts/stage1-fly')
    const saved = path.join(ps.s.work, 'uuid')
    const coreos = await ps.rkt([
      'run',
      `--uuid-file-save=${saved}`,
      '--stage1-name=coreos.com/rkt/stage1-coreos:1.30.0',
      img.name,
      ...sh('echo nspawn'),
    ])
    assert.equal(coreos.exitCode, 0, coreos.stderr)
    assert.equal(coreos.stdout, 'nspawn')
    const stage1 = path.join(ps.podPath(fs.readFileSync(saved, 'utf8').trim()), 'stage1', 'manifest')
    assert.equal((JSON.parse(fs.readFileSync(stage1, 'utf8')) as {name: string}).name, 'rkt-ts/stage1-nspawn')
    const listed = await ps.rkt(['image', 'cat-manifest', 'coreos.com/rkt/stage1-coreos:1.30.0'])
    assert.equal(listed.exitCode, 0, listed.stderr)
  })
})

describe('trust', () => {
  test('echo yes | rkt trust --root KEY reads the answer from stdin; with no stdin at all, a clear error', async (t) => {
    if (!(await requireTool(t, 'gpg'))) return
    const ps = PodSandbox.create(t)
    const gpg = UserGpg.forTest(t, ps.s, 'gnupg')
    await gpg.genKey('Example Signer', 'signer@example.com')
    const key = await gpg.exportKey('signer@example.com', path.join(ps.s.work, 'key.gpg'))

    const closed = await execa('sh', ['-c', 'exec "$@" <&-', 'sh', RKT, ...ps.s.globals, 'trust', '--root', key], {
      reject: false,
    })
    assert.equal(closed.exitCode, 254)
    assert.match(closed.stderr, /cannot ask for a fingerprint review: no terminal, and no answer on standard input/)
    assert.match(closed.stderr, /--skip-fingerprint-review/)
    const empty = await ps.rkt(['trust', '--root', key], {input: ''})
    assert.equal(empty.exitCode, 254)
    assert.match(empty.stderr, /no terminal, and no answer on standard input/)
    const no = await ps.rkt(['trust', '--root', key], {input: 'no\n'})
    assert.equal(no.exitCode, 0, no.stderr)
    assert.match(no.stderr, /not trusting/)
    assert.equal(fs.existsSync(path.join(ps.s.localConfig, 'trustedkeys', 'root.d')), false, 'nothing stored')

    const yes = await ps.rkt(['trust', '--root', key], {input: 'maybe\nyes\n'})
    assert.equal(yes.exitCode, 0, yes.stderr)
    assert.match(yes.stdout, /Are you sure you want to trust this key \(yes\/no\)\? \nPlease enter 'yes' or 'no'/)
    assert.match(yes.stdout, /Added root key at /)
    assert.equal(fs.readdirSync(path.join(ps.s.localConfig, 'trustedkeys', 'root.d')).length, 1)
  })
})

describe('pods', () => {
  test("pod errors say rkt's words: UUID cannot be empty, no matches found for", async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const empty = await ps.rkt(['rm', ''])
    assert.notEqual(empty.exitCode, 0)
    assert.match(empty.stderr, /UUID cannot be empty/)
    const uuid = '0f746094-3438-42bc-ab37-3cf85f132e60'
    for (const cmd of ['rm', 'status', 'cat-manifest', 'stop', 'enter']) {
      const r = await ps.rkt([cmd, uuid])
      assert.equal(r.exitCode, 254, cmd)
      assert.match(r.stderr, new RegExp(`no matches found for "${uuid}"`), cmd)
    }
  })

  test('rkt enter UUID -- CMD runs CMD; enter UUID CMD -h still passes -h to CMD', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const pod = await ps.start(['run', img.name, ...sh('touch /tmp/ready; sleep 600')], {readyFile: '/tmp/ready'})
    const dashes = await ps.rkt(['enter', pod.uuid, '--', '/bin/sh', '-c', 'echo entered'])
    assert.equal(dashes.exitCode, 0, dashes.stderr)
    assert.equal(dashes.stdout, 'entered')
    const help = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'echo "$0"', '-h'])
    assert.equal(help.exitCode, 0, help.stderr)
    assert.equal(help.stdout, '-h')
  })

  for (const engine of ['nspawn', 'kvm'] as const) {
    test(`--hostname=custom_hostname_setting on ${engine}: the kernel's hostname and /etc/hostname`, async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const img = await ps.image(BASE)
      const r = await ps.rkt([
        'run',
        '--hostname=custom_hostname_setting',
        img.name,
        ...sh('cat /etc/hostname; echo; /bin/busybox hostname'),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      assert.equal(r.stdout, 'custom_hostname_setting\ncustom_hostname_setting')
    })
  }

  test('--hostname=custom_hostname_setting on fly: accepted, the host keeps its name (as rkt fly did)', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const r = await ps.rkt(['run', '--hostname=custom_hostname_setting', img.name, ...sh('/bin/busybox hostname')])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, (await execa('hostname')).stdout)
    assert.match(r.stderr, /--hostname=custom_hostname_setting ignored/)
  })

  test('--seccomp errno=EXFULL: a filtered call fails with Linux errno 54', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'nspawn'})
    const img = await ps.image(BASE)
    const r = await ps.rkt([
      'run',
      img.name,
      '--seccomp=mode=remove,errno=EXFULL,mkdir,mkdirat',
      ...sh('mkdir /made 2>&1; echo "status $?"'),
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.match(r.stdout, /Exchange full\nstatus 1/)
  })

  test('pod names: --name on prepare/run, unique, refused when it reads as a UUID prefix, usable as the UUID', async (t) => {
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const img = await ps.image(BASE)
    const prep = await ps.rkt(['prepare', '--quiet', '--name=web-pod', img.name, ...sh('echo named')])
    assert.equal(prep.exitCode, 0, prep.stderr)
    assert.match(prep.stdout, UUID)
    const uuid = prep.stdout

    const again = await ps.rkt(['prepare', '--name=web-pod', img.name])
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, new RegExp(`the pod name "web-pod" is taken by pod ${uuid}`))
    const uuidLike = await ps.rkt(['run', '--name=cafe-f00d', img.name])
    assert.equal(uuidLike.exitCode, 2)
    assert.match(uuidLike.stderr, /--name "cafe-f00d" could be read as a pod UUID prefix/)

    const status = await ps.rkt(['status', 'web-pod'])
    assert.equal(status.exitCode, 0, status.stderr)
    assert.match(status.stdout, /^state=prepared$/m)
    const ran = await ps.rkt(['run-prepared', 'web-pod'])
    assert.equal(ran.exitCode, 0, ran.stderr)
    assert.equal(ran.stdout, 'named')
    const manifest = await ps.rkt(['cat-manifest', 'web-pod'])
    assert.equal(manifest.exitCode, 0, manifest.stderr)

    const json = await ps.rkt(['list', '--format=json'])
    const pods = JSON.parse(json.stdout) as {name: string; pod_name?: string}[]
    assert.deepEqual(
      pods.map((p) => [p.name, p.pod_name]),
      [[uuid, 'web-pod']],
    )
    const fields = await ps.rkt(['list', '--fields=uuid,name,state', '--full'])
    assert.equal(fields.stdout.split('\n')[0]!.split(/\t+/).join('|'), 'UUID|NAME|STATE')
    assert.match(fields.stdout.split('\n')[1]!, new RegExp(`^${uuid}\\t+web-pod\\t+exited`))
    const table = await ps.rkt(['list'])
    assert.match(table.stdout.split('\n')[0]!, /^UUID\t+APP\t+IMAGE NAME\t+STATE\t+CREATED\t+STARTED\t+NETWORKS$/)

    const rm = await ps.rkt(['rm', 'web-pod'])
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.equal(ps.podState(uuid), undefined)
    const reuse = await ps.rkt(['prepare', '--quiet', '--name=web-pod', img.name])
    assert.equal(reuse.exitCode, 0, 'the name is free once its pod is gone: ' + reuse.stderr)
  })
})
