import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import type {App, ImageManifest, Mount, MountPoint, RuntimeApp, Volume} from '../schema/index.js'
import type {MountsApp, MountsPod} from './mounts.js'

import {RktError} from '../errors.js'
import {isRoot, skipUnless} from '../testing.js'
import {appMounts, checkMountTarget, isForbiddenTarget} from './mounts.js'
import {PodPaths} from './paths.js'

let tmp: string
let rootfs: string
let src: string
let paths: PodPaths

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-mounts-'))
  paths = new PodPaths(path.join(tmp, 'pod'))
  rootfs = path.join(tmp, 'rootfs')
  for (const d of ['data', 'dir1', 'dir2', 'run', 'proc', 'etc']) fs.mkdirSync(path.join(rootfs, d), {recursive: true})
  fs.symlinkSync('/dir2', path.join(rootfs, 'dir1', 'link_abs_dir2'))
  fs.symlinkSync('/proc', path.join(rootfs, 'link_proc'))
  fs.symlinkSync('../../../sys/fs', path.join(rootfs, 'dir1', 'link_sys'))
  fs.symlinkSync('/data', path.join(rootfs, 'data_alias'))
  fs.symlinkSync('/notexists', path.join(rootfs, 'dir1', 'link_abs_notexists'))
  src = path.join(tmp, 'host', 'src')
  fs.mkdirSync(src, {recursive: true})
  fs.writeFileSync(path.join(tmp, 'host', 'file'), 'x')
})

after(() => fs.rmSync(tmp, {recursive: true, force: true}))

function appOf(mountPoints: MountPoint[]): App {
  return {
    exec: ['/bin/true'],
    user: '0',
    group: '0',
    supplementaryGIDs: [],
    eventHandlers: [],
    environment: [],
    isolators: [],
    mountPoints,
    ports: [],
    userAnnotations: {},
    userLabels: {},
  }
}

interface Setup {
  volumes?: Volume[]
  mounts?: Mount[]
  imageMountPoints?: MountPoint[]
  /** Absent: the pod app has the image's app (as stage0 writes it); null: no app section in the pod. */
  podMountPoints?: MountPoint[] | null
}

function setup(s: Setup): [MountsPod, MountsApp] {
  const imageApp = appOf(s.imageMountPoints ?? [])
  const image: ImageManifest = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'example.com/app',
    labels: [],
    app: imageApp,
    dependencies: [],
    pathWhitelist: [],
    annotations: [],
  }
  const podApp = s.podMountPoints === null ? undefined : s.podMountPoints ? appOf(s.podMountPoints) : imageApp
  const runtime: RuntimeApp = {
    name: 'app',
    image: {labels: []},
    ...(podApp === undefined ? {} : {app: podApp}),
    readOnlyRootFS: false,
    mounts: s.mounts ?? [],
    annotations: [],
  }
  return [
    {paths, manifest: {volumes: s.volumes ?? []}},
    {name: 'app', runtime, image, rootfs},
  ]
}

const host = (name: string, extra: Partial<Volume & {kind: 'host'}> = {}): Volume => ({
  name,
  kind: 'host',
  source: src,
  ...extra,
})
const empty = (name: string, extra: Partial<Volume & {kind: 'empty'}> = {}): Volume => ({
  name,
  kind: 'empty',
  mode: '0755',
  uid: 0,
  gid: 0,
  ...extra,
})
const mp = (name: string, p: string, readOnly = false): MountPoint => ({name, path: p, readOnly})

function evalErr(s: Setup, re: RegExp): void {
  assert.throws(
    () => appMounts(...setup(s)),
    (e: unknown) => e instanceof RktError && re.test(e.message),
  )
}

describe('appMounts: combining mounts, mountPoints and volumes (rkt evaluateMounts)', () => {
  test('an image mountPoint with a pod volume', () => {
    assert.deepEqual(appMounts(...setup({volumes: [host('data')], imageMountPoints: [mp('data', '/data')]})), [
      {volume: 'data', target: '/data', path: '/data', source: src, readOnly: false, recursive: true, kind: 'host'},
    ])
  })

  test('a runtime mount without any mountPoint', () => {
    const got = appMounts(...setup({volumes: [host('v')], mounts: [{volume: 'v', path: '/mnt/v'}]}))
    assert.equal(got.length, 1)
    assert.equal(got[0]!.target, '/mnt/v')
    assert.equal(got[0]!.readOnly, false)
  })

  test('volumes no mount uses are skipped', () => {
    assert.deepEqual(appMounts(...setup({volumes: [host('unused'), empty('also')]})), [])
  })

  test('readOnly: the volume wins when set, else the mountPoint', () => {
    const ro = (volume: Volume, mps: MountPoint[], podMps?: MountPoint[]) =>
      appMounts(...setup({volumes: [volume], imageMountPoints: mps, ...(podMps ? {podMountPoints: podMps} : {})}))[0]!
        .readOnly
    assert.equal(ro(host('d'), [mp('d', '/data', true)]), true)
    assert.equal(ro(host('d', {readOnly: false}), [mp('d', '/data', true)]), false)
    assert.equal(ro(host('d', {readOnly: true}), [mp('d', '/data', false)]), true)
    assert.equal(ro(host('d'), [mp('d', '/data')]), false)
    // Either mountPoint asking for read-only is enough (fly read the image's, nspawn the pod app's).
    assert.equal(ro(host('d'), [mp('d', '/data')], [mp('d', '/data', true)]), true)
    // A runtime mount takes the readOnly of the mountPoint of the same name.
    const [pod, app] = setup({
      volumes: [host('d')],
      mounts: [{volume: 'd', path: '/data'}],
      imageMountPoints: [mp('d', '/data', true)],
    })
    assert.equal(appMounts(pod, app)[0]!.readOnly, true)
  })

  test('missing volume for an image mountPoint', () => {
    evalErr({imageMountPoints: [mp('db', '/db')]}, /missing volume for mountpoint "db"/)
  })

  test('missing volume for a pod app mountPoint and for a runtime mount', () => {
    evalErr({podMountPoints: [mp('cache', '/cache')]}, /missing volume for mountpoint "cache"/)
    evalErr({mounts: [{volume: 'nope', path: '/x'}]}, /missing volume for mountpoint "nope"/)
  })

  test('the error suggests --volume', () => {
    assert.throws(
      () => appMounts(...setup({imageMountPoints: [mp('db', '/db')]})),
      (e: unknown) => e instanceof RktError && (e.hint ?? '').includes('--volume db,kind=host'),
    )
  })

  test('conflicting paths for the same name are an error', () => {
    evalErr(
      {volumes: [host('d')], mounts: [{volume: 'd', path: '/other'}], imageMountPoints: [mp('d', '/data')]},
      /conflicting path information from mount and mountpoint "d"/,
    )
    evalErr(
      {volumes: [host('d')], imageMountPoints: [mp('d', '/data')], podMountPoints: [mp('d', '/elsewhere')]},
      /conflicting path.*image mountPoint "d" says \/data, the pod app mountPoint says \/elsewhere/,
    )
  })

  test('a mount of another name at the mountPoint’s path satisfies it (stage0’s implicit volumes, --mount)', () => {
    // What stage0 writes for an image mountPoint nothing satisfied: an empty volume `<app>-<name>` mounted there.
    const implicit = appMounts(
      ...setup({
        volumes: [empty('app-cache', {readOnly: true})],
        mounts: [{volume: 'app-cache', path: '/var/cache'}],
        imageMountPoints: [mp('cache', '/var/cache/', true)],
      }),
    )
    assert.deepEqual(
      implicit.map((m) => [m.volume, m.target, m.readOnly]),
      [['app-cache', '/var/cache', true]],
    )
    // A user's volume of any name at that path; the mountPoint's readOnly applies to it.
    const user = appMounts(
      ...setup({
        volumes: [host('mine')],
        mounts: [{volume: 'mine', path: '/var/cache'}],
        imageMountPoints: [mp('cache', '/var/cache', true)],
      }),
    )
    assert.deepEqual(
      user.map((m) => [m.volume, m.target, m.readOnly]),
      [['mine', '/var/cache', true]],
    )
  })

  test('the same path written differently is not a conflict', () => {
    const got = appMounts(
      ...setup({volumes: [host('d')], mounts: [{volume: 'd', path: '/data/'}], imageMountPoints: [mp('d', '/data')]}),
    )
    assert.equal(got.length, 1)
  })

  test('a volume mounted twice by the runtime app is an error', () => {
    evalErr(
      {
        volumes: [host('d')],
        mounts: [
          {volume: 'd', path: '/a'},
          {volume: 'd', path: '/b'},
        ],
      },
      /duplicate mount given for volume "d"/,
    )
  })

  test('mounts without a volume name or path are refused', () => {
    evalErr({mounts: [{path: '/x'}]}, /names no volume/)
    evalErr({volumes: [host('d')], mounts: [{volume: 'd'}]}, /has no target path/)
    evalErr(
      {volumes: [host('d')], imageMountPoints: [{name: 'd', readOnly: false}]},
      /mountPoint "d" of app app has no path/,
    )
  })

  test('an inline appVolume is used and must carry the mount name', () => {
    const got = appMounts(...setup({mounts: [{volume: 'inl', path: '/inl', appVolume: empty('inl', {mode: '0700'})}]}))
    assert.equal(got[0]!.source, paths.sharedVolume('inl'))
    assert.deepEqual(got[0]!.empty, {mode: 0o700, uid: 0, gid: 0})
    evalErr({mounts: [{volume: 'a', path: '/a', appVolume: empty('b')}]}, /carries the volume "b"/)
  })

  test('a pod without an app section uses the image mountPoints only', () => {
    const got = appMounts(...setup({volumes: [host('d')], imageMountPoints: [mp('d', '/data')], podMountPoints: null}))
    assert.equal(got.length, 1)
  })
})

describe('appMounts: volume kinds', () => {
  test('recursive defaults to true for host volumes (appc SHOULD; rkt nspawn/kvm), explicit false kept', () => {
    const rec = (v: Volume) => appMounts(...setup({volumes: [v], mounts: [{volume: v.name, path: '/x'}]}))[0]!.recursive
    assert.equal(rec(host('h')), true)
    assert.equal(rec(host('h', {recursive: false})), false)
    assert.equal(rec(host('h', {recursive: true})), true)
    assert.equal(rec(empty('e')), false)
    assert.equal(rec(empty('e', {recursive: true})), false)
  })

  test('empty volumes live in the pod sharedVolumes directory with their mode and owner', () => {
    const got = appMounts(
      ...setup({
        volumes: [empty('scratch', {mode: '1777', uid: 1000, gid: 100})],
        imageMountPoints: [mp('scratch', '/tmp/s')],
      }),
    )
    assert.deepEqual(got, [
      {
        volume: 'scratch',
        target: '/tmp/s',
        path: '/tmp/s',
        source: path.join(tmp, 'pod', 'sharedVolumes', 'scratch'),
        readOnly: false,
        recursive: false,
        kind: 'empty',
        empty: {mode: 0o1777, uid: 1000, gid: 100},
      },
    ])
  })

  test('empty volume modes must be octal, ids in range', () => {
    const bad = (v: Volume, re: RegExp) => evalErr({volumes: [v], mounts: [{volume: v.name, path: '/x'}]}, re)
    bad(empty('e', {mode: 'rwx'}), /invalid mode "rwx"/)
    bad(empty('e', {mode: '0800'}), /invalid mode/)
    bad(empty('e', {mode: '17777'}), /invalid mode/)
    bad(empty('e', {uid: -1}), /invalid uid -1/)
    bad(empty('e', {gid: 2 ** 32}), /invalid gid/)
    assert.equal(
      appMounts(...setup({volumes: [empty('e', {mode: '755'})], mounts: [{volume: 'e', path: '/x'}]}))[0]!.empty?.mode,
      0o755,
    )
  })

  test('host sources must be absolute and exist; files are fine', () => {
    const one = (source: string) =>
      appMounts(...setup({volumes: [host('h', {source})], mounts: [{volume: 'h', path: '/x'}]}))
    assert.throws(() => one('relative/dir'), /relative source/)
    assert.throws(
      () => one(path.join(tmp, 'host', 'missing')),
      (e: unknown) => e instanceof RktError && /does not exist/.test(e.message) && /never creates/.test(e.hint ?? ''),
    )
    assert.equal(one(path.join(tmp, 'host', 'file'))[0]!.source, path.join(tmp, 'host', 'file'))
    assert.equal(fs.existsSync(path.join(tmp, 'host', 'missing')), false)
  })
})

describe('appMounts: symlinks in host sources (appc: an error, or opt-in per pod)', () => {
  test(
    'root-owned links in root-only directories are followed; the resolved path is returned',
    {skip: skipUnless(isRoot, 'ownership checks need root')},
    () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'trusted-'))
      fs.chmodSync(dir, 0o755)
      fs.symlinkSync(src, path.join(dir, 'link'))
      const got = appMounts(
        ...setup({volumes: [host('h', {source: path.join(dir, 'link')})], mounts: [{volume: 'h', path: '/x'}]}),
      )
      assert.equal(got[0]!.source, src)
    },
  )

  test(
    'a link in a directory others can write is refused, unless opted in',
    {skip: skipUnless(isRoot, 'ownership checks need root')},
    () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'open-'))
      fs.chmodSync(dir, 0o777)
      fs.symlinkSync(src, path.join(dir, 'link'))
      const s = setup({
        volumes: [host('h', {source: path.join(dir, 'link', '.')})],
        mounts: [{volume: 'h', path: '/x'}],
      })
      assert.throws(
        () => appMounts(...s),
        (e: unknown) =>
          e instanceof RktError && /goes through the symlink/.test(e.message) && (e.hint ?? '').includes(src),
      )
      assert.equal(appMounts(...s, {allowSymlinkedSources: true})[0]!.source, src)
    },
  )

  test(
    'a link owned by another user is refused; in a sticky directory a root link is fine',
    {skip: skipUnless(isRoot, 'chown needs root')},
    () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'sticky-'))
      fs.chmodSync(dir, 0o1777)
      fs.symlinkSync(src, path.join(dir, 'root-link'))
      fs.symlinkSync(src, path.join(dir, 'user-link'))
      fs.lchownSync(path.join(dir, 'user-link'), 1000, 1000)
      const run = (p: string) =>
        appMounts(...setup({volumes: [host('h', {source: path.join(dir, p)})], mounts: [{volume: 'h', path: '/x'}]}))
      assert.equal(run('root-link')[0]!.source, src)
      assert.throws(() => run('user-link'), /goes through the symlink/)
    },
  )
})

describe('appMounts: targets (SEC-10, SEC-13)', () => {
  test('targets are resolved inside the app root, never on the host', () => {
    const at = (p: string) => appMounts(...setup({volumes: [host('h')], mounts: [{volume: 'h', path: p}]}))[0]!.target
    assert.equal(at('/dir1/link_abs_dir2/foo'), '/dir2/foo')
    assert.equal(at('/dir1/../../../foo'), '/foo')
    assert.equal(at('../../../../../../../../../../../../../../../foo'), '/foo')
    assert.equal(at('/dir1/link_abs_notexists/newdir1/newdir2/foo'), '/notexists/newdir1/newdir2/foo')
  })

  for (const t of [
    '/proc',
    '/proc/self',
    '/proc/self/attr',
    '/sys',
    '/sys/fs/cgroup',
    '/dev',
    '/dev/shm',
    '/',
    '/../proc',
    '/dev/../sys/x',
    'proc/',
  ]) {
    test(`target ${JSON.stringify(t)} is refused`, () => {
      assert.throws(
        () => appMounts(...setup({volumes: [host('h')], mounts: [{volume: 'h', path: t}]})),
        (e: unknown) => e instanceof RktError && e.code === 'EMOUNTTARGET',
      )
    })
  }

  test('image mountPoints at /proc are refused too', () => {
    evalErr({volumes: [host('p')], imageMountPoints: [mp('p', '/proc/self')]}, /targets \/proc\/self/)
  })

  test('targets reaching /proc or /sys through image symlinks are refused', () => {
    evalErr({volumes: [host('h')], mounts: [{volume: 'h', path: '/link_proc'}]}, /\/proc \(via symlinks/)
    evalErr({volumes: [host('h')], mounts: [{volume: 'h', path: '/dir1/link_sys/cgroup'}]}, /\/sys\/fs\/cgroup/)
  })

  test('isForbiddenTarget matches whole components only', () => {
    assert.equal(isForbiddenTarget('/procfs'), false)
    assert.equal(isForbiddenTarget('/devices'), false)
    assert.equal(isForbiddenTarget('/srv/proc'), false)
    assert.equal(isForbiddenTarget('/proc/'), true)
    assert.equal(isForbiddenTarget('//dev//pts'), true)
    assert.equal(isForbiddenTarget('/./'), true)
  })

  test('checkMountTarget returns the resolved target', () => {
    assert.equal(checkMountTarget(rootfs, '/dir1/link_abs_dir2'), '/dir2')
  })

  test('two volumes on the same target are an error, also through a symlink', () => {
    evalErr(
      {
        volumes: [host('a'), empty('b')],
        mounts: [
          {volume: 'a', path: '/data'},
          {volume: 'b', path: '/data_alias'},
        ],
      },
      /volumes "a" and "b" of app app are both mounted at \/data/,
    )
  })

  test('nested targets are returned parents first, otherwise in manifest order', () => {
    const got = appMounts(
      ...setup({
        volumes: [host('inner'), empty('outer'), empty('z'), empty('y')],
        mounts: [
          {volume: 'inner', path: '/data/sub/dir'},
          {volume: 'z', path: '/z'},
        ],
        imageMountPoints: [mp('outer', '/data'), mp('y', '/y')],
      }),
    )
    assert.deepEqual(
      got.map((m) => m.volume),
      ['z', 'outer', 'y', 'inner'],
    )
  })
})
