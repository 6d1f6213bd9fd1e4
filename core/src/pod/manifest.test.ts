import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import type {BuildPodManifestOptions, ResolvedImage} from './manifest.js'

import {RktError, UsageError} from '../errors.js'
import {getIsolator, parseImageManifest, parsePodManifest} from '../schema/index.js'
import {parseRunArgs} from '../cli/run-args/parse.js'
import {
  MUTABLE_ANNOTATION,
  buildPodManifest,
  completePodManifestArg,
  composeEnvironment,
  imageNameToAppName,
  loadEnvFiles,
  loadPodManifestArg,
  parseEnvFile,
} from './manifest.js'

const idOf = (c: string): string => `sha512-${c.repeat(128)}`

function image(json: Record<string, unknown>, idChar = 'a'): ResolvedImage {
  const {manifest} = parseImageManifest({acKind: 'ImageManifest', acVersion: '0.8.11', ...json})
  return {id: idOf(idChar), name: manifest.name, labels: manifest.labels, manifest}
}

const WEB = image({
  name: 'example.com/web',
  labels: [
    {name: 'version', value: '1.0.0'},
    {name: 'os', value: 'linux'},
    {name: 'arch', value: 'amd64'},
  ],
  app: {
    exec: ['/web', '--port=80'],
    user: '1000',
    group: '1000',
    environment: [{name: 'A', value: 'image'}],
    ports: [{name: 'http', protocol: 'tcp', port: 80}],
  },
})

const NOAPP = image({name: 'example.com/noapp'}, 'b')

function build(argv: readonly string[], images: readonly ResolvedImage[], opts: BuildPodManifestOptions = {}) {
  return buildPodManifest(parseRunArgs(argv, 'run'), images, {setEnvFile: [], environ: {}, ...opts})
}

/** The JSON that stage0 writes, as an object. */
function json(argv: readonly string[], images: readonly ResolvedImage[], opts: BuildPodManifestOptions = {}) {
  return JSON.parse(build(argv, images, opts).text) as Record<string, unknown> & {apps: Record<string, unknown>[]}
}

function usage(re: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof UsageError, String(err))
    assert.match(err.message, re)
    assert.ok(err.hint, `hint for ${err.message}`)
    return true
  }
}

describe('buildPodManifest', () => {
  test('a plain image: its whole app section, image name/id/labels, the mutable annotation', () => {
    assert.deepEqual(json(['example.com/web:1.0.0'], [WEB]), {
      acKind: 'PodManifest',
      acVersion: '1.30.0',
      apps: [
        {
          name: 'web',
          image: {
            name: 'example.com/web',
            id: idOf('a'),
            labels: [
              {name: 'version', value: '1.0.0'},
              {name: 'os', value: 'linux'},
              {name: 'arch', value: 'amd64'},
            ],
          },
          app: {
            exec: ['/web', '--port=80'],
            user: '1000',
            group: '1000',
            environment: [{name: 'A', value: 'image'}],
            ports: [{name: 'http', protocol: 'tcp', port: 80, count: 1, socketActivated: false}],
          },
        },
      ],
      volumes: [],
      isolators: [],
      annotations: [{name: MUTABLE_ANNOTATION, value: 'false'}],
      ports: [],
    })
    const built = build(['x'], [WEB])
    assert.deepEqual(parsePodManifest(built.text).manifest, built.manifest)
    assert.deepEqual(built.implicitVolumes, [])
  })

  test('default app names: last path component sanitised to an AC Name', () => {
    assert.equal(imageNameToAppName('example.com/web'), 'web')
    assert.equal(imageNameToAppName('quay.io/coreos/My_Etcd.v2'), 'my-etcd-v2')
    assert.equal(imageNameToAppName('busybox'), 'busybox')
    assert.equal(imageNameToAppName('example.com/-x-'), 'x')
    assert.throws(() => imageNameToAppName('example.com/___'), usage(/cannot derive an app name/))
  })

  test('--exec replaces the exec line, app args follow it; args alone extend the image exec', () => {
    assert.deepEqual(json(['w', '--exec=/bin/sh', '--', '-c', 'echo hi'], [WEB]).apps[0]?.app, {
      ...(json(['w'], [WEB]).apps[0]?.app as object),
      exec: ['/bin/sh', '-c', 'echo hi'],
    })
    const extended = build(['w', '--', '--verbose', ''], [WEB]).manifest.apps[0]?.app
    assert.deepEqual(extended?.exec, ['/web', '--port=80', '--verbose', ''])
    // "--exec" is one word, never split (rkt passes it whole).
    assert.deepEqual(build(['w', '--exec=/bin/a b'], [WEB]).manifest.apps[0]?.app?.exec, ['/bin/a b'])
  })

  test('--exec on an image without an app section builds a minimal app run as the caller', () => {
    const app = build(['n', '--exec=/inspect', '--', '--print-exec'], [NOAPP], {uid: 500, gid: 50}).manifest.apps[0]
      ?.app
    assert.deepEqual(app, {
      exec: ['/inspect', '--print-exec'],
      user: '500',
      group: '50',
      supplementaryGIDs: [],
      eventHandlers: [],
      environment: [],
      isolators: [],
      mountPoints: [],
      ports: [],
      userAnnotations: {},
      userLabels: {},
    })
    assert.throws(() => build(['n'], [NOAPP]), usage(/has no app section and --exec is not provided/))
    assert.throws(() => build(['n', '--', 'arg'], [NOAPP]), usage(/--exec is not provided/))
  })

  test('user, group, supplementary GIDs, working dir, read-only rootfs, annotations, user annotations/labels', () => {
    const img = image({
      name: 'example.com/app',
      app: {
        exec: ['/app'],
        user: '0',
        group: '0',
        supplementaryGIDs: [5],
        workingDirectory: '/',
        userAnnotations: {from: 'image'},
        userLabels: {tier: 'image'},
      },
    })
    const argv = [
      'app',
      '--user=1000',
      '--group=daemon',
      '--supplementary-gids=10,20',
      '--working-dir=/srv',
      '--readonly-rootfs',
      '--annotation=example.com/owner=ops',
      '--user-annotation=team=infra',
      '--user-label=env=prod',
    ]
    const ra = json(argv, [img]).apps[0]
    assert.deepEqual(ra, {
      name: 'app',
      image: {name: 'example.com/app', id: idOf('a')},
      app: {
        exec: ['/app'],
        user: '1000',
        group: 'daemon',
        supplementaryGIDs: [10, 20],
        workingDirectory: '/srv',
        // rkt replaces the image's maps instead of merging them.
        userAnnotations: {team: 'infra'},
        userLabels: {env: 'prod'},
      },
      readOnlyRootFS: true,
      annotations: [{name: 'example.com/owner', value: 'ops'}],
    })
    // Without the flags the image's values stay.
    const plain = build(['app'], [img]).manifest.apps[0]?.app
    assert.deepEqual(plain?.supplementaryGIDs, [5])
    assert.deepEqual(plain?.userLabels, {tier: 'image'})
  })

  test('--name: duplicates are an error naming --name; two copies of one image need it', () => {
    const twice = build(['w', '--name=w1', 'w', '--name=w2'], [WEB, WEB]).manifest.apps.map((a) => a.name)
    assert.deepEqual(twice, ['w1', 'w2'])
    assert.throws(() => build(['w', 'w'], [WEB, WEB]), usage(/^multiple apps with name web$/))
    assert.throws(
      () => build(['w', 'w'], [WEB, WEB]),
      (err: unknown) => err instanceof UsageError && /--name/.test(err.hint ?? ''),
    )
    assert.throws(() => build(['w', '--name=x', 'n', '--exec=/x', '--name=x'], [WEB, NOAPP]), usage(/name x/))
  })

  test('volumes: host and empty with readOnly/recursive go to the pod as given', () => {
    const volumes = json(
      [
        '--volume=data,kind=host,source=/srv/data,readOnly=true,recursive=false',
        '--volume=scratch,kind=empty,mode=0700,uid=1000,gid=100,readOnly=false',
        '--volume=logs,kind=host,source=/var/log,recursive=true',
        'w',
      ],
      [WEB],
    ).volumes
    assert.deepEqual(volumes, [
      {name: 'data', kind: 'host', source: '/srv/data', readOnly: true, recursive: false},
      {name: 'scratch', kind: 'empty', readOnly: false, mode: '0700', uid: 1000, gid: 100},
      {name: 'logs', kind: 'host', source: '/var/log', recursive: true},
    ])
  })

  test('--mount: pod-wide mounts apply to every app; an app mount wins at the same (cleaned) path', () => {
    const argv = [
      '--volume=a,kind=empty',
      '--volume=b,kind=empty',
      '--mount=volume=a,target=/data',
      '--mount=volume=a,target=/shared',
      'w',
      '--mount=volume=b,target=/data/',
      '--mount=volume=b,target=dir1',
      'n',
      '--exec=/x',
    ]
    const apps = build(argv, [WEB, NOAPP]).manifest.apps
    assert.deepEqual(apps[0]?.mounts, [
      {volume: 'b', path: '/data/'},
      {volume: 'b', path: 'dir1'},
      {volume: 'a', path: '/shared'},
    ])
    assert.deepEqual(apps[1]?.mounts, [
      {volume: 'a', path: '/data'},
      {volume: 'a', path: '/shared'},
    ])
  })

  test('an image mount point no volume satisfies gets an implicit empty volume, with a warning', () => {
    const img = image({
      name: 'example.com/db',
      app: {
        exec: ['/db'],
        user: '0',
        group: '0',
        mountPoints: [
          {name: 'data', path: '/var/lib/db'},
          {name: 'conf', path: '/etc/db', readOnly: true},
          {name: 'logs', path: '/var/log/db'},
          {name: 'cache', path: '/cache'},
        ],
      },
    })
    const warnings: string[] = []
    const built = build(
      ['--volume=logs,kind=host,source=/var/log', '--volume=c,kind=empty', 'db', '--mount=volume=c,target=/cache/'],
      [img],
      {warn: (m) => warnings.push(m)},
    )
    const out = JSON.parse(built.text) as {volumes: unknown[]; apps: {mounts: unknown[]}[]}
    // logs is satisfied by name, cache by a mount at its path.
    assert.deepEqual(out.volumes, [
      {name: 'logs', kind: 'host', source: '/var/log'},
      {name: 'c', kind: 'empty', mode: '0755', uid: 0, gid: 0},
      {name: 'db-data', kind: 'empty', mode: '0755', uid: 0, gid: 0},
      {name: 'db-conf', kind: 'empty', readOnly: true, mode: '0755', uid: 0, gid: 0},
    ])
    assert.deepEqual(out.apps[0]?.mounts, [
      {volume: 'c', path: '/cache/'},
      {volume: 'db-data', path: '/var/lib/db'},
      {volume: 'db-conf', path: '/etc/db'},
    ])
    assert.deepEqual(built.implicitVolumes, [
      {app: 'db', mountPoint: 'data', path: '/var/lib/db', volume: 'db-data'},
      {app: 'db', mountPoint: 'conf', path: '/etc/db', volume: 'db-conf'},
    ])
    assert.equal(warnings.length, 2)
    assert.match(
      warnings[0] ?? '',
      /no volume specified for mount point "data" of app "db", implicitly creating an "empty" volume "db-data"/,
    )
    // A --volume already called <app>-<mount point> is a clash, not a silent reuse.
    assert.throws(
      () => build(['--volume=db-data,kind=empty', 'db'], [img]),
      usage(/implicit volume name "db-data" is taken/),
    )
  })

  test('isolator flags become isolators, replacing the image ones of the same name', () => {
    const img = image({
      name: 'example.com/iso',
      app: {
        exec: ['/iso'],
        user: '0',
        group: '0',
        isolators: [
          {name: 'resource/memory', value: {limit: '1G'}},
          {name: 'resource/cpu', value: {request: '250m', limit: '1'}},
          {name: 'os/linux/capabilities-remove-set', value: {set: ['CAP_NET_RAW']}},
          {name: 'os/linux/seccomp-remove-set', value: {set: ['reboot']}},
          {name: 'os/linux/no-new-privileges', value: true},
          {name: 'os/linux/cpu-shares', value: 512},
        ],
      },
    })
    const argv = [
      'iso',
      '--memory=128M',
      '--cpu=500m',
      '--cpu-shares=2048',
      '--oom-score-adj=-100',
      '--caps-retain=CAP_NET_BIND_SERVICE,CAP_KILL',
      '--seccomp=mode=retain,errno=EPERM,@rkt/default-whitelist,chmod',
    ]
    assert.deepEqual((json(argv, [img]).apps[0]?.app as {isolators: unknown}).isolators, [
      {name: 'os/linux/no-new-privileges', value: true},
      {name: 'resource/memory', value: {request: '128M', limit: '128M'}},
      {name: 'resource/cpu', value: {request: '500m', limit: '500m'}},
      {name: 'os/linux/cpu-shares', value: 2048},
      {name: 'os/linux/oom-score-adj', value: -100},
      {name: 'os/linux/capabilities-retain-set', value: {set: ['CAP_NET_BIND_SERVICE', 'CAP_KILL']}},
      {name: 'os/linux/seccomp-retain-set', value: {set: ['@rkt/default-whitelist', 'chmod'], errno: 'EPERM'}},
    ])
    const removed = build(['iso', '--caps-remove=CAP_MKNOD', '--seccomp=mode=remove,ptrace'], [img]).manifest.apps[0]
    const isolators = removed?.app?.isolators ?? []
    assert.deepEqual(getIsolator(isolators, 'os/linux/capabilities-remove-set')?.value, {set: ['CAP_MKNOD']})
    assert.equal(getIsolator(isolators, 'os/linux/seccomp-retain-set'), undefined)
    assert.deepEqual(getIsolator(isolators, 'os/linux/seccomp-remove-set')?.value, {set: ['ptrace']})
    assert.equal(isolators.filter((i) => i.name === 'resource/memory').length, 1)
  })

  test("--port: validated against the apps' ports by name", () => {
    assert.deepEqual(json(['--port=http:8080', '--port=http:127.0.0.1:8081', 'w'], [WEB]).ports, [
      {name: 'http', hostPort: 8080},
      {name: 'http', hostIP: '127.0.0.1', hostPort: 8081},
    ])
    assert.throws(
      () => build(['--port=https:443', 'w'], [WEB]),
      usage(/port name "https" could not be found in any apps/),
    )
    assert.throws(
      () => build(['--port=https:443', 'w'], [WEB]),
      (err: unknown) => err instanceof UsageError && /ports the images declare: http/.test(err.hint ?? ''),
    )
    assert.throws(
      () => build(['--port=http:80', 'w', '--name=a', 'w', '--name=b'], [WEB, WEB]),
      usage(/port name "http" is defined in several apps/),
    )
    assert.throws(
      () => build(['--port=http:80', '--port=http:10.0.0.1:80', 'w'], [WEB]),
      usage(/port tcp-10.0.0.1:80 already mapped to pod port 80/),
    )
  })

  test('a manifest the schema refuses is an error, never written', () => {
    assert.throws(
      () => build(['w', '--annotation=created=yesterday'], [WEB]),
      (err: unknown) => err instanceof RktError && /pod manifest is not valid/.test(err.message),
    )
    const bad = {...WEB, id: 'sha512-abc'}
    assert.throws(() => build(['w'], [bad]), /not a full image ID/)
    assert.throws(() => build(['w', 'w'], [WEB]), /2 images on the command line but 1 resolved/)
  })
})

describe('environment', () => {
  test('precedence: inherited < image < --set-env-file < --set-env < --environment', () => {
    const img = image({
      name: 'example.com/env',
      app: {
        exec: ['/env'],
        user: '0',
        group: '0',
        environment: [
          {name: 'V', value: 'image'},
          {name: 'IMG_ONLY', value: 'image'},
          {name: 'FILE', value: 'image'},
        ],
      },
    })
    const env = (argv: string[], opts: BuildPodManifestOptions = {}) =>
      build(argv, [img], opts).manifest.apps[0]?.app?.environment.map((e) => `${e.name}=${e.value}`)
    const environ = {V: 'parent', PARENT_ONLY: 'parent', FILE: 'parent', SET: 'parent'}
    const setEnvFile = [
      {name: 'V', value: 'file'},
      {name: 'FILE', value: 'file'},
      {name: 'SET', value: 'file'},
    ]
    // Every level sets V: --environment wins.
    assert.deepEqual(
      env(['--inherit-env', '--set-env=V=set-env', '--set-env=SET=set-env', 'env', '--environment=V=environment'], {
        environ,
        setEnvFile,
      }),
      ['V=environment', 'IMG_ONLY=image', 'FILE=file', 'PARENT_ONLY=parent', 'SET=set-env'],
    )
    // Peel the levels off one by one.
    assert.deepEqual(env(['--inherit-env', '--set-env=V=set-env', 'env'], {environ, setEnvFile})?.slice(0, 1), [
      'V=set-env',
    ])
    assert.deepEqual(env(['--inherit-env', 'env'], {environ, setEnvFile})?.slice(0, 1), ['V=file'])
    assert.deepEqual(env(['--inherit-env', 'env'], {environ}), [
      'V=image',
      'IMG_ONLY=image',
      'FILE=image',
      'PARENT_ONLY=parent',
      'SET=parent',
    ])
  })

  test("--inherit-env: the caller's environment only with the flag; unusable names skipped with a warning", () => {
    const environ = {HOME: '/root', 'BASH_FUNC_f%%': '() {}', EMPTY: '', GONE: undefined}
    const names = (argv: string[], warn?: (m: string) => void) =>
      build(argv, [WEB], {environ, ...(warn ? {warn} : {})}).manifest.apps[0]?.app?.environment.map((e) => e.name)
    assert.deepEqual(names(['w']), ['A'])
    const warnings: string[] = []
    assert.deepEqual(
      names(['--inherit-env', 'w'], (m) => warnings.push(m)),
      ['A', 'HOME', 'EMPTY'],
    )
    assert.match(warnings.join('\n'), /--inherit-env: not passing "BASH_FUNC_f%%"/)
  })

  test('composeEnvironment keeps the image order first and first positions', () => {
    assert.deepEqual(
      composeEnvironment({
        inherited: [{name: 'P', value: '1'}],
        image: [
          {name: 'B', value: 'i'},
          {name: 'A', value: 'i'},
        ],
        setEnvFile: [{name: 'A', value: 'f'}],
        setEnv: [{name: 'C', value: 's'}],
        app: [{name: 'B', value: 'e'}],
      }),
      [
        {name: 'B', value: 'e'},
        {name: 'A', value: 'f'},
        {name: 'P', value: '1'},
        {name: 'C', value: 's'},
      ],
    )
  })
})

describe('--set-env-file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-pod-env-'))
  after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const write = (name: string, text: string | Buffer): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, text)
    return file
  }

  test('comments, blank lines, CRLF, "=" in values, values verbatim', () => {
    const text = '# comment\n; also a comment\n\nA=1\r\nB=x=y\nC=\nD= spaced \n#E=no\n'
    assert.deepEqual(parseEnvFile(text, 'f'), [
      {name: 'A', value: '1'},
      {name: 'B', value: 'x=y'},
      {name: 'C', value: ''},
      {name: 'D', value: ' spaced '},
    ])
  })

  test('malformed lines are errors naming the file and line', () => {
    const cases: [string, RegExp][] = [
      ['A=1\nnovalue\n', /^f:2: environment variable must be specified as NAME=VALUE$/],
      ['A=1\n\n=x\n', /^f:3: environment variable must be specified/],
      ['  # indented comment\n', /^f:1: environment variable must be specified/],
      ['A B=1\n', /^f:1: "A B" is not a valid environment variable name$/],
      ['A=1\nA=2\n', /^f:2: environment variable "A" already set$/],
      ['A=\0\n', /^f:1: the value of A contains a NUL byte$/],
    ]
    for (const [text, re] of cases) assert.throws(() => parseEnvFile(text, 'f'), usage(re), text)
  })

  test('files are read in order; a variable in two files is an error; buildPodManifest reads them itself', () => {
    const one = write('one.env', 'A=1\nB=2\n')
    const two = write('two.env', '; second\nC=3\n')
    assert.deepEqual(loadEnvFiles([one, two]), [
      {name: 'A', value: '1'},
      {name: 'B', value: '2'},
      {name: 'C', value: '3'},
    ])
    const dup = write('dup.env', 'B=again\n')
    assert.throws(() => loadEnvFiles([one, dup]), usage(/environment variable "B" already set \(file .*dup\.env\)/))
    assert.throws(() => loadEnvFiles([path.join(dir, 'missing.env')]), UsageError)
    assert.throws(() => loadEnvFiles([write('bin.env', Buffer.from([0x41, 0x3d, 0xff]))]), /not UTF-8/)
    const args = parseRunArgs([`--set-env-file=${one}`, `--set-env-file=${two}`, '--set-env=B=set', 'w'], 'run')
    const env = buildPodManifest(args, [WEB], {environ: {}}).manifest.apps[0]?.app?.environment
    assert.deepEqual(
      env?.map((e) => `${e.name}=${e.value}`),
      ['A=1', 'B=set', 'C=3'],
    )
  })
})

describe('--pod-manifest', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-pod-manifest-'))
  after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const write = (value: unknown): string => {
    const file = path.join(dir, `pm-${Math.random().toString(36).slice(2)}.json`)
    fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value))
    return file
  }
  const pm = (apps: unknown[], extra: Record<string, unknown> = {}) => ({
    acKind: 'PodManifest',
    acVersion: '0.8.11',
    apps,
    ...extra,
  })

  test('apps by ID or by name: the caller resolves, the IDs are pinned', () => {
    const file = write(
      pm(
        [
          {name: 'a', image: {id: idOf('a')}},
          {name: 'b', image: {name: 'example.com/noapp'}, app: {exec: ['/x'], user: '0', group: '0'}},
        ],
        {ports: [{name: 'http', hostPort: 8080}]},
      ),
    )
    const arg = loadPodManifestArg(file)
    assert.deepEqual(arg.images, [
      {app: 'a', id: idOf('a'), labels: []},
      {app: 'b', name: 'example.com/noapp', labels: []},
    ])
    const done = completePodManifestArg(arg, [WEB, NOAPP])
    assert.deepEqual(
      done.manifest.apps.map((a) => a.image),
      [
        {id: idOf('a'), name: 'example.com/web', labels: []},
        {id: idOf('b'), name: 'example.com/noapp', labels: []},
      ],
    )
    // The user's app sections are kept as written: app a still has none.
    assert.equal(done.manifest.apps[0]?.app, undefined)
    assert.deepEqual(parsePodManifest(done.text).manifest, done.manifest)
  })

  test('errors: unreadable, not a pod manifest, no apps, no image, no app section, wrong ID, unknown port', () => {
    assert.throws(() => loadPodManifestArg(path.join(dir, 'missing.json')), /cannot read pod manifest/)
    assert.throws(() => loadPodManifestArg(write('{')), /cannot use --pod-manifest/)
    assert.throws(() => loadPodManifestArg(write({acKind: 'ImageManifest'})), /cannot use --pod-manifest/)
    assert.throws(() => loadPodManifestArg(write(pm([]))), usage(/pod must contain at least one application/))
    assert.throws(
      () => loadPodManifestArg(write(pm([{name: 'a', image: {}}]))),
      usage(/no image ID or name for app "a"/),
    )
    const noApp = loadPodManifestArg(write(pm([{name: 'n', image: {id: idOf('b')}}])))
    assert.throws(
      () => completePodManifestArg(noApp, [NOAPP]),
      usage(/no app section in the pod manifest or the image/),
    )
    const pinned = loadPodManifestArg(write(pm([{name: 'a', image: {id: idOf('a')}}])))
    assert.throws(() => completePodManifestArg(pinned, [{...WEB, id: idOf('c')}]), /resolved to a different image/)
    for (const short of [WEB.id.slice(0, 'sha512-'.length + 32), WEB.id.slice(0, 'sha512-'.length + 64)]) {
      const byShortId = loadPodManifestArg(write(pm([{name: 'a', image: {id: short}}])))
      const built = completePodManifestArg(byShortId, [WEB])
      assert.equal(built.manifest.apps[0]!.image.id, WEB.id, `${short} names the image; the pod pins its full ID`)
    }
    const port = loadPodManifestArg(
      write(pm([{name: 'a', image: {id: idOf('a')}}], {ports: [{name: 'x', hostPort: 1}]})),
    )
    assert.throws(() => completePodManifestArg(port, [WEB]), usage(/port name "x" could not be found/))
  })

  test('implicit empty volumes are added as for generated manifests', () => {
    const img = image({
      name: 'example.com/vol',
      app: {exec: ['/v'], user: '0', group: '0', mountPoints: [{name: 'data', path: '/data'}]},
    })
    const warnings: string[] = []
    const done = completePodManifestArg(loadPodManifestArg(write(pm([{name: 'v', image: {id: idOf('a')}}]))), [img], {
      warn: (m) => warnings.push(m),
    })
    assert.deepEqual(done.manifest.volumes, [{name: 'v-data', kind: 'empty', mode: '0755', uid: 0, gid: 0}])
    assert.deepEqual(done.manifest.apps[0]?.mounts, [{volume: 'v-data', path: '/data'}])
    assert.equal(warnings.length, 1)
  })
})
