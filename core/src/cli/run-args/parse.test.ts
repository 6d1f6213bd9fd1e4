import fc from 'fast-check'
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import type {RunCommand} from '../../pod/spec.js'

import {UsageError} from '../../errors.js'
import {formatNetList} from '../../pod/spec.js'
import {helpTableMismatches, runFlagHelp} from './flags.js'
import {parseAppAddArgs, parseRunArgs, parseSandboxArgs} from './parse.js'
import {
  formatEnvAssignment,
  formatMountFlag,
  formatPortFlag,
  formatSeccompFlag,
  formatVolumeFlag,
  parseEnvAssignment,
  parseMountFlag,
  parsePortFlag,
  parseSeccompFlag,
  parseVolumeFlag,
} from './values.js'

const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))

/** Checks that every key of `expected` matches `actual` (objects by subset, arrays element by element). */
function assertSubset(actual: unknown, expected: unknown, where = '$'): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${show(actual)}`)
    assert.equal(actual.length, expected.length, `${where}: length of ${show(actual)}`)
    expected.forEach((e, i) => assertSubset(actual[i], e, `${where}[${i}]`))
  } else if (typeof expected === 'object' && expected !== null && !(typeof actual === 'bigint')) {
    assert.ok(typeof actual === 'object' && actual !== null, `${where}: expected an object`)
    for (const [k, v] of Object.entries(expected)) {
      assertSubset((actual as Record<string, unknown>)[k], v, `${where}.${k}`)
    }
  } else {
    assert.deepEqual(actual, expected, where)
  }
}

const APP_DEFAULTS = {args: [], readOnlyRootFS: false, mounts: [], annotations: [], environment: []}
const app = (image: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  image,
  ...APP_DEFAULTS,
  ...extra,
})

interface Case {
  readonly name: string
  readonly argv: readonly string[]
  readonly command?: RunCommand
  readonly expect: Record<string, unknown>
}

const CASES: readonly Case[] = [
  {
    name: 'one image, every default',
    argv: ['example.com/app'],
    expect: {
      command: 'run',
      help: false,
      globals: {debug: false, insecureOptions: [], trustKeysFromHttps: false},
      pod: {
        net: [],
        ports: [],
        inheritEnv: false,
        setEnv: [],
        setEnvFiles: [],
        pullPolicy: 'new',
        volumes: [],
        mounts: [],
        noOverlay: false,
        privateUsers: false,
        interactive: false,
        mdsRegister: false,
        quiet: false,
        dns: {mode: {resolv: 'default', hosts: 'default'}},
      },
      apps: [app('example.com/app')],
      warnings: [],
    },
  },
  {
    name: '"--" starts app args, "---" ends them',
    argv: ['img1', '--', 'a', 'b', '---', 'img2', '--', 'c'],
    expect: {apps: [app('img1', {args: ['a', 'b']}), app('img2', {args: ['c']})]},
  },
  {
    name: 'inside app args everything but "---" is literal, including "--" and flags',
    argv: ['img', '--', '--exec', '--', '-x', '----', '--net=host'],
    expect: {apps: [app('img', {args: ['--exec', '--', '-x', '----', '--net=host']})], pod: {net: []}},
  },
  {
    name: 'app args run to the end without "---"; "--" with nothing after gives no args',
    argv: ['img1', '--', 'a', 'img2'],
    expect: {apps: [app('img1', {args: ['a', 'img2']})]},
  },
  {
    name: 'a trailing "--"',
    argv: ['img', '--'],
    expect: {apps: [app('img')]},
  },
  {
    name: '"---" outside app args is ignored; empty words too, but an empty app argument is kept',
    argv: ['---', '', 'img1', '---', 'img2', '--', '', 'x'],
    expect: {apps: [app('img1'), app('img2', {args: ['', 'x']})]},
  },
  {
    name: 'per-app flags apply to the preceding image, in both value forms',
    argv: ['img1', '--exec=/bin/a', '--user', '1000', 'img2', '--group=100', '--name', 'second', '--working-dir=/srv'],
    expect: {
      apps: [
        app('img1', {exec: '/bin/a', user: '1000'}),
        app('img2', {group: '100', name: 'second', workingDir: '/srv'}),
      ],
    },
  },
  {
    name: '--exec VALUE takes the next word whatever it is (pflag)',
    argv: ['img', '--exec', '--', 'next'],
    expect: {apps: [app('img', {exec: '--'}), app('next')]},
  },
  {
    name: 'per-app flags combined with --exec and app args',
    argv: [
      'img',
      '--exec',
      '/bin/ov',
      '--',
      '--loglevel',
      'verbose',
      '---',
      'img2',
      '--exec=/bin/s2',
      '--',
      '-i',
      '30s',
    ],
    expect: {
      apps: [
        app('img', {exec: '/bin/ov', args: ['--loglevel', 'verbose']}),
        app('img2', {exec: '/bin/s2', args: ['-i', '30s']}),
      ],
    },
  },
  {
    name: 'pod-level and global flags may follow images',
    argv: [
      'img',
      '--net=default',
      '--debug',
      '--volume=data,kind=empty',
      'img2',
      '--insecure-options=image',
      '--dir',
      '/d',
    ],
    expect: {
      globals: {debug: true, insecureOptions: ['image'], dir: '/d'},
      pod: {net: [{name: 'default'}], volumes: [{name: 'data', kind: 'empty', mode: '0755', uid: 0, gid: 0}]},
      apps: [app('img'), app('img2')],
    },
  },
  {
    name: 'every global flag; --insecure-options accumulates, the rest keep the last value',
    argv: [
      '--dir=/a',
      '--dir=/b',
      '--local-config=/etc/x',
      '--system-config',
      '/usr/lib/x',
      '--user-config=/u',
      '--debug',
      '--debug=false',
      '--insecure-options=image',
      '--insecure-options=http,tls',
      '--trust-keys-from-https',
      'img',
    ],
    expect: {
      globals: {
        dir: '/b',
        localConfig: '/etc/x',
        systemConfig: '/usr/lib/x',
        userConfig: '/u',
        debug: false,
        insecureOptions: ['image', 'http,tls'],
        trustKeysFromHttps: true,
      },
    },
  },
  {
    name: 'bare --net means default and does not take the next word',
    argv: ['--net', 'img'],
    expect: {pod: {net: [{name: 'default'}]}, apps: [app('img')]},
  },
  {
    name: '--net lists, arguments and repeats',
    argv: ['--net=a:IP=10.1.2.3;K=V,b', '--net=c', 'img'],
    expect: {pod: {net: [{name: 'a', args: 'IP=10.1.2.3;K=V'}, {name: 'b'}, {name: 'c'}]}},
  },
  {
    name: '--mount before any image is pod-wide, after an image per-app',
    argv: [
      '--volume=data,kind=host,source=/srv',
      '--mount',
      'volume=data,target=/data',
      'img',
      '--mount=volume=data,target=dir1',
    ],
    expect: {
      pod: {mounts: [{volume: 'data', path: '/data'}]},
      apps: [app('img', {mounts: [{volume: 'data', path: 'dir1'}]})],
    },
  },
  {
    name: '--volume host and empty with every parameter',
    argv: [
      '--volume=a,kind=host,source=/x=y,readOnly=true,recursive=false',
      '--volume',
      'b,kind=empty,mode=0700,uid=1000,gid=100,readOnly=1',
      'img',
    ],
    expect: {
      pod: {
        volumes: [
          {name: 'a', kind: 'host', source: '/x=y', readOnly: true, recursive: false},
          {name: 'b', kind: 'empty', mode: '0700', uid: 1000, gid: 100, readOnly: true},
        ],
      },
    },
  },
  ...(
    [
      ['stage1-url', 'url'],
      ['stage1-path', 'path'],
      ['stage1-image', 'path'],
      ['stage1-name', 'name'],
      ['stage1-hash', 'hash'],
      ['stage1-from-dir', 'from-dir'],
    ] as const
  ).map(([flag, kind]): Case => ({
    name: `--${flag}`,
    argv: [`--${flag}=LOC`, 'img'],
    expect: {pod: {stage1: {kind, location: 'LOC', flag}}},
  })),
  {
    name: '--port with and without a host IP',
    argv: ['--port=http:8080', '--port', 'dns:127.0.0.1:53', 'img'],
    expect: {
      pod: {
        ports: [
          {name: 'http', hostPort: 8080},
          {name: 'dns', hostPort: 53, hostIP: '127.0.0.1'},
        ],
      },
    },
  },
  {
    name: 'booleans: bare, =true, =false and Go spellings',
    argv: ['--inherit-env=1', '--no-overlay', '--no-overlay=F', '--private-users=TRUE', '--interactive', 'img'],
    expect: {pod: {inheritEnv: true, noOverlay: false, privateUsers: true, interactive: true}},
  },
  {
    name: 'every other run flag',
    argv: [
      '--mds-register',
      '--uuid-file-save=/run/uuid',
      '--ipc=private',
      '--hostname=custom_hostname_setting',
      '--set-env=A=1',
      '--set-env=B=x=y',
      '--set-env-file=/e1',
      '--set-env-file',
      '/e2',
      '--pull-policy=update',
      'img',
    ],
    expect: {
      pod: {
        mdsRegister: true,
        uuidFileSave: '/run/uuid',
        ipc: 'private',
        hostname: 'custom_hostname_setting',
        setEnv: [
          {name: 'A', value: '1'},
          {name: 'B', value: 'x=y'},
        ],
        setEnvFiles: ['/e1', '/e2'],
        pullPolicy: 'update',
      },
    },
  },
  {
    name: '--readonly-rootfs: bare, =false, and a following true/false word',
    argv: ['a', '--readonly-rootfs', 'b', '--readonly-rootfs=false', 'c', '--readonly-rootfs', 'true', 'd'],
    expect: {
      apps: [app('a', {readOnlyRootFS: true}), app('b'), app('c', {readOnlyRootFS: true}), app('d')],
    },
  },
  {
    name: 'deprecated --store-only is --pull-policy=never, with a warning',
    argv: ['--store-only', 'img'],
    expect: {pod: {pullPolicy: 'never'}, warnings: ['--store-only is deprecated: use --pull-policy=never']},
  },
  {
    name: 'deprecated --no-store is --pull-policy=update',
    argv: ['--no-store', '--store-only=false', 'img'],
    expect: {pod: {pullPolicy: 'update'}},
  },
  {
    name: 'isolator flags',
    argv: [
      'img',
      '--memory=128M',
      '--cpu',
      '500m',
      '--cpu-shares=2048',
      '--oom-score-adj=-500',
      '--caps-retain=CAP_NET_ADMIN,CAP_SYS_TIME',
      '--seccomp',
      'mode=retain,errno=EPERM,@rkt/default-whitelist,chmod',
      'img2',
      '--cap-remove=CAP_MKNOD',
      '--seccomp=mode=remove,reboot',
    ],
    expect: {
      apps: [
        app('img', {
          memory: {text: '128M', value: 128_000_000n},
          cpu: {text: '500m', milli: 500n},
          cpuShares: 2048,
          oomScoreAdj: -500,
          capsRetain: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
          seccomp: {mode: 'retain', errno: 'EPERM', set: ['@rkt/default-whitelist', 'chmod']},
        }),
        app('img2', {capsRemove: ['CAP_MKNOD'], seccomp: {mode: 'remove', set: ['reboot']}}),
      ],
      warnings: ['--cap-remove is deprecated: use --caps-remove instead'],
    },
  },
  {
    name: 'repeated --supplementary-gids add up; maps keep first position, last value',
    argv: [
      'img',
      '--supplementary-gids=1,2',
      '--supplementary-gids=3',
      '--environment=A=1',
      '--environment=B=2',
      '--environment=A=3',
      '--annotation=example.com/x=1',
      '--user-annotation=k=v',
      '--user-label=tier=web',
      '--user-label=tier=db',
      '--signature=img.asc',
    ],
    expect: {
      apps: [
        app('img', {
          supplementaryGIDs: [1, 2, 3],
          environment: [
            {name: 'A', value: '3'},
            {name: 'B', value: '2'},
          ],
          annotations: [{name: 'example.com/x', value: '1'}],
          userAnnotations: {k: 'v'},
          userLabels: {tier: 'db'},
          signature: 'img.asc',
        }),
      ],
    },
  },
  {
    name: 'prepare: --quiet and the same image syntax',
    command: 'prepare',
    argv: ['--quiet', 'img', '--exec=/x', '--', 'a'],
    expect: {command: 'prepare', pod: {quiet: true}, apps: [app('img', {exec: '/x', args: ['a']})]},
  },
  {
    name: 'run --pod-manifest with the flags that still apply',
    argv: [
      '--pod-manifest=/pm.json',
      '--net=default',
      '--no-overlay',
      '--interactive',
      '--dns=8.8.8.8',
      '--stage1-path=/s1',
    ],
    expect: {apps: [], pod: {podManifest: '/pm.json', net: [{name: 'default'}], noOverlay: true, interactive: true}},
  },
  {
    name: 'prepare --pod-manifest with --quiet and --no-overlay',
    command: 'prepare',
    argv: ['--pod-manifest', '/pm.json', '--quiet', '--no-overlay', '--pull-policy=new'],
    expect: {apps: [], pod: {podManifest: '/pm.json', quiet: true, noOverlay: true}},
  },
  {
    name: '--help stops checking',
    argv: ['--help'],
    expect: {help: true, apps: []},
  },
  {
    name: 'run-prepared: its flags before and after the UUID',
    command: 'run-prepared',
    argv: [
      '--net=default',
      '--debug',
      'f4a3',
      '--interactive',
      '--mds-register=false',
      '--hostname',
      'h',
      '--ipc=parent',
      '--dns=none',
    ],
    expect: {
      command: 'run-prepared',
      uuid: 'f4a3',
      globals: {debug: true},
      pod: {net: [{name: 'default'}], interactive: true, mdsRegister: false, hostname: 'h', ipc: 'parent'},
    },
  },
  {
    name: 'run-prepared: "--" ends the flags',
    command: 'run-prepared',
    argv: ['--', '-uuid-looking'],
    expect: {uuid: '-uuid-looking'},
  },
]

describe('parseRunArgs: command lines', () => {
  for (const c of CASES) {
    test(c.name, () => assertSubset(parseRunArgs(c.argv, c.command ?? 'run'), c.expect))
  }

  test('--name before any image names the pod, after an image the app; a UUID-like pod name is refused', () => {
    const r = parseRunArgs(['--name=web-pod', 'img', '--name=web'], 'prepare')
    assert.equal(r.pod.name, 'web-pod')
    assert.equal(r.apps[0]!.name, 'web')
    for (const bad of ['abc', 'deadbeef-0123', '0', 'has space', '-x', 'a/b'])
      assert.throws(
        () => parseRunArgs([`--name=${bad}`, 'img'], 'run'),
        /--name "[^"]*" (could be read as|is not a valid)/,
      )
    assert.throws(() => parseRunArgs(['--name=x', 'f4a3'], 'run-prepared'), /--name/)
  })

  test('formatNetList gives the stage1 --net value', () => {
    assert.equal(formatNetList(parseRunArgs(['img'], 'run').pod.net), 'default')
    assert.equal(formatNetList(parseRunArgs(['--net=a:IP=1.2.3.4,b', 'img'], 'run').pod.net), 'a:IP=1.2.3.4,b')
  })
})

const APP_FLAGS = [
  '--signature=s',
  '--exec=/x',
  '--working-dir=/w',
  '--readonly-rootfs',
  '--user=u',
  '--group=g',
  '--supplementary-gids=1',
  '--annotation=a=b',
  '--user-annotation=a=b',
  '--user-label=a=b',
  '--environment=A=b',
  '--memory=1G',
  '--cpu=1',
  '--cpu-shares=2',
  '--caps-retain=CAP_KILL',
  '--caps-remove=CAP_KILL',
  '--cap-retain=CAP_KILL',
  '--cap-remove=CAP_KILL',
  '--seccomp=mode=retain,chmod',
  '--oom-score-adj=1',
]

type ErrorCase = readonly [argv: readonly string[], re: RegExp, command?: RunCommand]

const ERRORS: readonly ErrorCase[] = [
  ...APP_FLAGS.map((f): ErrorCase => [[f, 'img'], new RegExp(`^${f.split('=')[0] ?? ''} must follow an image$`)]),
  ...APP_FLAGS.map((f): ErrorCase => [[f, 'img'], /must follow an image/, 'prepare']),
  [['--', 'a'], /^an image is required before any app arguments$/],
  [['img', '--', 'a', '---', '--', 'b'], /^only one set of app arguments allowed per image$/],
  [['img', '--', '---', '--'], /only one set of app arguments/],
  [[], /must provide at least one image or specify the pod manifest/],
  [['--debug'], /must provide at least one image/, 'prepare'],
  // rkt's TestRunConflictingFlags / TestPrepareConflictingFlags.
  ...(['run', 'prepare'] as const).flatMap((command) =>
    [
      ['--inherit-env'],
      ['--no-store'],
      ['--store-only'],
      ['--pull-policy=never'],
      ['--port=foo:80'],
      ['--set-env=foo=bar'],
      ['--set-env-file=/e'],
      ['--volume=foo,kind=host,source=/tmp'],
      ['--mount=volume=foo,target=/tmp', '--volume=foo,kind=host,source=/tmp'],
      ['dummy-image.aci', '--exec=/bin/sh'],
      ['dummy-image.aci', '--user=user_foo'],
      ['dummy-image.aci', '--group=group_foo'],
    ].map((extra): ErrorCase => [
      ['--pod-manifest=/dev/null', ...extra],
      /^conflicting flags set with --pod-manifest/,
      command,
    ]),
  ),
  [['--stage1-url=a', '--stage1-path=b', 'img'], /^flags --stage1-path and --stage1-url are mutually exclusive$/],
  [['--stage1-image=a', '--stage1-hash=b', 'img'], /--stage1-hash and --stage1-image are mutually exclusive/],
  [['--stage1-name=a', '--stage1-name=b', 'img'], /^--stage1-name already used$/],
  [['--interactive', 'a', 'b'], /^interactive option only supports one image$/],
  [['--bogus', 'img'], /^unknown flag: --bogus$/],
  [['img', '--loglevel=3'], /^unknown flag: --loglevel=3$/],
  [['-x', 'img'], /^unknown flag: -x$/],
  [['img', '--quiet'], /^--quiet is not a flag of rkt run$/],
  [['--net=host', 'img'], /^--net is not a flag of rkt prepare$/, 'prepare'],
  [['--interactive', 'img'], /--interactive is not a flag of rkt prepare/, 'prepare'],
  [['--uuid-file-save=/x', 'img'], /not a flag of rkt prepare/, 'prepare'],
  [['--volume=x,kind=empty', 'uuid'], /^--volume is not a flag of rkt run-prepared$/, 'run-prepared'],
  [['uuid', 'img', '--exec=/x'], /--exec is not a flag of rkt run-prepared/, 'run-prepared'],
  [[], /^missing the UUID of the prepared pod$/, 'run-prepared'],
  [['a', 'b'], /run-prepared takes one UUID, got 2 arguments/, 'run-prepared'],
  [['--store-only', '--no-store', 'img'], /^both --store-only and --no-store specified$/],
  [['--port=http:80', '--net=none', 'img'], /--port flag does not work with 'none' networking/],
  [['--port=http:80', '--net=host', 'img'], /--port flag does not work with 'host' networking/],
  [['--mds-register', '--net=none', 'img'], /--mds-register flag does not work with --net=none/],
  [['--net=a', '--net=b,a', 'img'], /network "a" is given more than once/],
  [['--net=host:x', 'img'], /the special network "host" takes no arguments/],
  [['--net=all:x', 'img'], /"all" takes no arguments/],
  [['--net=a:b:c', 'img'], /has more than one ":"/],
  [['--net=', 'img'], /a network name must not be empty/],
  [['--net=a,,b', 'img'], /a network name must not be empty/],
  [['img', '--signature=a', '--signature=b'], /^--signature specified multiple times for the same image$/],
  [['img', '--exec=/a', '--exec=/b'], /^--exec specified multiple times for the same image$/],
  [['img', '--caps-retain=CAP_A', '--caps-remove=CAP_B'], /cannot use both --caps-retain and --caps-remove/],
  [['--mount=volume=v,target=/x', 'img'], /^dangling mount point "\/x": volume "v" not found$/],
  [['img', '--mount=volume=v,target=/x', '--volume=w,kind=empty'], /dangling mount point/],
  [['img', '--exec'], /^flag needs an argument: --exec$/],
  [['img', '--readonly-rootfs=maybe'], /invalid argument "maybe" for --readonly-rootfs/],
  [['--debug=yes', 'img'], /invalid argument "yes" for --debug/],
  [['--pull-policy=sometimes', 'img'], /--pull-policy: "sometimes" is not a pull policy/],
  [['--ipc=host', 'img'], /--ipc: "host" is not an IPC mode/],
  [['--hostname=a b', 'img'], /is not a valid host name/],
  [['--hostname=' + 'h'.repeat(65), 'img'], /is not a valid host name/],
  [['--set-env=NOVALUE', 'img'], /--set-env "NOVALUE" must be specified as NAME=VALUE/],
  [['--set-env=1X=y', 'img'], /"1X" is not a valid environment variable name/],
  [['--set-env==y', 'img'], /"" is not a valid environment variable name/],
  [['--set-env=A=1', '--set-env=A=2', 'img'], /--set-env: "A" already set/],
  [['img', '--environment=NOVALUE'], /invalid format of --environment flag "NOVALUE"/],
  [['img', '--environment=A B=1'], /not a valid environment variable name/],
  [['img', '--annotation=Bad Name=1'], /invalid annotation name "Bad Name"/],
  [['img', '--annotation=a/../b=1'], /invalid annotation name/],
  [['img', '--user-label=novalue'], /invalid format of --user-label flag/],
  [['img', '--user-annotation==v'], /the name is empty/],
  [['img', '--name=Bad_Name'], /invalid app name "Bad_Name"/],
  [['img', '--name=..'], /invalid app name "\.\."/],
  [['img', '--working-dir=rel'], /--working-dir "rel" must be an absolute path/],
  [['img', '--user='], /--user needs a user name/],
  [['img', '--supplementary-gids=1,x'], /--supplementary-gids must be integers, got "x"/],
  [['img', '--supplementary-gids=-1'], /must be integers/],
  [['img', '--memory=16m'], /^memory limit of 1 bytes too low$/],
  [['img', '--memory=4095'], /memory limit of 4095 bytes too low/],
  [['img', '--memory=lots'], /^--memory: "lots" is not a valid resource quantity/],
  [['img', '--cpu=-1'], /--cpu "-1" must be positive/],
  [['img', '--cpu-shares=1'], /--cpu-shares: "1" is not an integer between 2 and 262144/],
  [['img', '--oom-score-adj=1001'], /between -1000 and 1000/],
  [['img', '--oom-score-adj=1.5'], /between -1000 and 1000/],
  [['img', '--caps-retain='], /"" is not a capability name/],
  [['img', '--caps-retain=CAP_A,,CAP_B'], /is not a capability name/],
  [['img', '--seccomp=chmod'], /mode= is missing/],
  [['img', '--seccomp=mode=keep,chmod'], /mode="keep" is not retain or remove/],
  [['img', '--seccomp=mode=retain'], /no syscalls given/],
  [['img', '--seccomp=mode=retain,errno=eperm,chmod'], /errno="eperm" is not an errno name/],
  [['img', '--seccomp=mode=retain,what=x,chmod'], /unknown parameter "what"/],
  [['img', '--seccomp=mode=retain,,chmod'], /"" is not a syscall name/],
  [['--volume=data', 'img'], /kind= is missing/],
  [['--volume=data,kind=tmpfs', 'img'], /kind="tmpfs" is not host or empty/],
  [['--volume=data,kind=host', 'img'], /a host volume needs source=/],
  [['--volume=data,kind=host,source=rel/dir', 'img'], /source "rel\/dir" must be an absolute path/],
  [['--volume=data,kind=host,source=/x,uid=1', 'img'], /uid cannot be set for a host volume/],
  [['--volume=data,kind=empty,source=/x', 'img'], /source cannot be set for an empty volume/],
  [['--volume=data,kind=empty,mode=rwx', 'img'], /mode="rwx" is not an octal permission/],
  [['--volume=data,kind=empty,uid=x', 'img'], /uid="x" is not a numeric ID/],
  [['--volume=data,kind=empty,readOnly=yes', 'img'], /readOnly="yes" is not a boolean/],
  [['--volume=data,kind=empty,size=1G', 'img'], /unknown volume parameter "size"/],
  [['--volume=data,kind=empty,kind=host', 'img'], /parameter "kind" is given more than once/],
  [['--volume=data,kind=empty,', 'img'], /parameter "" has no value/],
  [['--volume=..,kind=empty', 'img'], /invalid volume name "\.\."/],
  [['--volume=Data,kind=empty', 'img'], /invalid volume name "Data"/],
  [['--volume=d,kind=empty', '--volume=d,kind=host,source=/x', 'img'], /^duplicate volume name "d"$/],
  [['--mount=volume=v', 'img'], /target= is missing/],
  [['--mount=volume=v,target=/x,path=/y', 'img'], /unknown mount parameter "path"/],
  [['--mount=volume=v,volume=w,target=/x', 'img'], /parameter "volume" is given more than once/],
  [['--mount=volume=v,target=/%zz', 'img'], /malformed %-escape/],
  [['--mount=volume=v,target=/%00', 'img'], /NUL byte/],
  [['--mount=volume=..,target=/x', 'img'], /invalid volume name in --mount "\.\."/],
  [['--port=http', 'img'], /not in NAME:\[HOSTIP:\]HOSTPORT format/],
  [['--port=HTTP:80', 'img'], /invalid port name "HTTP"/],
  [['--port=http:0', 'img'], /"0" is not a valid port number/],
  [['--port=http:65536', 'img'], /"65536" is not a valid port number/],
  [['--port=http:-1', 'img'], /is not a valid port number/],
  [['--port=http:localhost:80', 'img'], /"localhost" is not a valid IPv4 address/],
  [['--port=http:::1:80', 'img'], /"" is not a valid IPv4 address/],
  [['--dns=host', '--dns=8.8.8.8', 'img'], /no other --dns options allowed/],
  [['img', '--exec=/bin/sh\0evil'], /argument 2 contains a NUL byte/],
  [['--stage1-path=', 'img'], /--stage1-path needs a non-empty value/],
]

describe('parseRunArgs: usage errors', () => {
  for (const [argv, re, command = 'run'] of ERRORS) {
    test(`${command} ${JSON.stringify(argv)}`, () => {
      assert.throws(
        () => parseRunArgs(argv, command),
        (err: unknown) => {
          assert.ok(err instanceof UsageError, String(err))
          assert.match(err.message, re)
          assert.equal(err.exitCode, 2)
          assert.equal(err.code, 'EUSAGE')
          return true
        },
      )
    })
  }

  test('errors carry a hint naming the fix', () => {
    const hintOf = (argv: string[], command: RunCommand = 'run'): string => {
      try {
        parseRunArgs(argv, command)
      } catch (err) {
        assert.ok(err instanceof UsageError)
        return err.hint ?? ''
      }
      return assert.fail('no error')
    }
    assert.match(hintOf(['--exec=/bin/sh', 'img']), /rkt run IMAGE --exec=\/bin\/sh/)
    assert.match(hintOf(['img', '--', 'a', '---', '--', 'b']), /IMAGE1 -- a b --- IMAGE2 -- c/)
    assert.match(hintOf(['img', '--loglevel']), /put it after "--": rkt run IMAGE -- --loglevel/)
    assert.match(hintOf(['--net', 'img'], 'prepare'), /give it to rkt run-prepared/)
    assert.match(hintOf(['--pod-manifest=/p', 'img']), /--net, --no-overlay, --interactive/)
    assert.match(hintOf(['--pod-manifest=/p', '--inherit-env'], 'prepare'), /--quiet, --no-overlay/)
    assert.match(hintOf(['--mount=volume=v,target=/x', 'img']), /--volume=v,kind=/)
    assert.match(hintOf(['--stage1-url=a', '--stage1-path=b', 'img']), /one of --stage1-url/)
    for (const [argv, , command = 'run'] of ERRORS)
      assert.notEqual(hintOf([...argv], command), '', JSON.stringify(argv))
  })

  test('the conflict message names the conflicting flags', () => {
    assert.throws(
      () => parseRunArgs(['--pod-manifest=/p', '--store-only', '--set-env=A=1', 'img'], 'run'),
      /conflicting flags set with --pod-manifest: IMAGE arguments, --set-env, --store-only/,
    )
    // --inherit-env=false is no conflict; neither is --pull-policy=new.
    assert.doesNotThrow(() => parseRunArgs(['--pod-manifest=/p', '--inherit-env=false', '--pull-policy=new'], 'run'))
  })
})

describe('flag values: formatting round-trips and hostile input', () => {
  const acName = fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}$/)
  const noComma = (s: string): boolean => !s.includes(',')
  const segment = fc.string({minLength: 1, maxLength: 8, unit: 'grapheme'}).filter((s) => !/[,/\0]/.test(s))
  const absPath = fc.array(segment, {minLength: 1, maxLength: 4}).map((parts) => `/${parts.join('/')}`)

  test('--volume: parse(format(v)) = v', () => {
    const host = fc.record(
      {
        name: acName,
        kind: fc.constant('host' as const),
        source: absPath.filter(noComma),
        readOnly: fc.boolean(),
        recursive: fc.boolean(),
      },
      {requiredKeys: ['name', 'kind', 'source']},
    )
    const empty = fc.record(
      {
        name: acName,
        kind: fc.constant('empty' as const),
        mode: fc.stringMatching(/^[0-7]{3,4}$/),
        uid: fc.nat(2 ** 32 - 1),
        gid: fc.nat(2 ** 32 - 1),
        readOnly: fc.boolean(),
        recursive: fc.boolean(),
      },
      {requiredKeys: ['name', 'kind', 'mode', 'uid', 'gid']},
    )
    fc.assert(
      fc.property(fc.oneof(host, empty), (v) => {
        assert.deepEqual(parseVolumeFlag(formatVolumeFlag(v)), {...v})
      }),
    )
  })

  test('--mount: parse(format(m)) = m for any target without NUL', () => {
    const target = fc.string({minLength: 1, maxLength: 24, unit: 'grapheme'}).filter((s) => !s.includes('\0'))
    fc.assert(
      fc.property(acName, target, (volume, path) => {
        assert.deepEqual(parseMountFlag(formatMountFlag({volume, path})), {volume, path})
      }),
    )
    // ".." stays as given: engines resolve the target inside the app's root, where it stops at the root.
    assert.deepEqual(parseMountFlag('volume=v,target=/a/../../etc'), {volume: 'v', path: '/a/../../etc'})
    // rkt decodes the value as a URL query: "+" is a space and %2C a comma.
    assert.deepEqual(parseMountFlag('volume=v,target=/a+b%2Cc'), {volume: 'v', path: '/a b,c'})
    assert.equal(formatMountFlag({volume: 'v', path: '/a b,c+d'}), 'volume=v,target=/a%20b%2Cc%2Bd')
  })

  test('--port: parse(format(p)) = p', () => {
    const port = fc.record(
      {name: acName, hostPort: fc.integer({min: 1, max: 65535}), hostIP: fc.ipV4()},
      {requiredKeys: ['name', 'hostPort']},
    )
    fc.assert(fc.property(port, (p) => assert.deepEqual(parsePortFlag(formatPortFlag(p)), {...p})))
  })

  test('--set-env / --environment: parse(format(e)) = e', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z_0-9.-]{0,10}$/)
    const value = fc.string({maxLength: 20, unit: 'grapheme'})
    fc.assert(
      fc.property(name, value, (n, v) => {
        assert.deepEqual(parseEnvAssignment(formatEnvAssignment({name: n, value: v})), {name: n, value: v})
      }),
    )
  })

  test('--seccomp: parse(format(s)) = s', () => {
    const syscall = fc.stringMatching(/^@?[a-z_/.0-9]{1,12}$/)
    const seccomp = fc.record(
      {
        mode: fc.constantFrom('retain' as const, 'remove' as const),
        errno: fc.stringMatching(/^E[A-Z0-9]{1,6}$/),
        set: fc.array(syscall, {minLength: 1, maxLength: 4}),
      },
      {requiredKeys: ['mode', 'set']},
    )
    fc.assert(fc.property(seccomp, (s) => assert.deepEqual(parseSeccompFlag(formatSeccompFlag(s)), {...s})))
  })

  test('formatters refuse what the syntax cannot carry', () => {
    assert.throws(() => formatVolumeFlag({name: 'a', kind: 'host', source: '/a,b'}), /contains ","/)
  })

  test('hostile values are rejected', () => {
    const bad: readonly (readonly string[])[] = [
      ['img\0', '--exec=/x'],
      ['--volume=..,kind=empty', 'img'],
      ['--volume=a,kind=host,source=../etc', 'img'],
      ['--volume=a,kind=host,source=etc', 'img'],
      ['img', '--name=..'],
      ['img', '--name=../x'],
      ['--set-env=A\0B=1', 'img'],
      ['--hostname=a\nb', 'img'],
    ]
    for (const argv of bad) assert.throws(() => parseRunArgs(argv, 'run'), UsageError, JSON.stringify(argv))
  })

  test('a "__proto__" user label stays a plain key', () => {
    const args = parseRunArgs(['img', '--user-label=__proto__=x', '--user-annotation=constructor=y'], 'run')
    const labels = args.apps[0]?.userLabels ?? {}
    assert.equal(Object.getPrototypeOf(labels), Object.prototype)
    assert.deepEqual(Object.entries(labels), [['__proto__', 'x']])
    assert.deepEqual(Object.entries(args.apps[0]?.userAnnotations ?? {}), [['constructor', 'y']])
  })
})

describe('run flag help', () => {
  test('every flag has one help line and every help line a flag', () => {
    assert.deepEqual(helpTableMismatches(), [])
  })
  test('each command lists only its own flags', () => {
    const names = (c: RunCommand): string[] => runFlagHelp(c).map((f) => f.name)
    assert.ok(names('run').includes('exec'))
    assert.ok(names('run').includes('uuid-file-save'))
    assert.ok(!names('run').includes('quiet'))
    assert.ok(!names('run').includes('store-only'), 'deprecated flags are not advertised')
    assert.ok(names('run-prepared').includes('net'))
    assert.ok(!names('run-prepared').some((n) => n === 'exec' || n === 'volume'))
    assert.ok(names('prepare').includes('quiet'))
    assert.equal(runFlagHelp('run').find((f) => f.name === 'exec')?.scope, 'app')
    assert.equal(runFlagHelp('run').find((f) => f.name === 'interactive')?.value, undefined)
  })
})

describe('rkt app sandbox and rkt app add', () => {
  test('sandbox: run’s pod flags, the 5-part --port, and the pod’s annotations and labels', () => {
    const a = parseSandboxArgs([
      '--uuid-file-save=/run/u',
      '--net=default',
      '--dns=8.8.8.8',
      '--hostname=box',
      '--port=http:tcp:8080:0.0.0.0:80',
      '--annotation=coreos.com/rkt/experiment/kubernetes-log-dir=/var/log/pods',
      '--user-label=team=ops',
      '--stage1-name=coreos.com/rkt/stage1-coreos',
      '--debug',
    ])
    assertSubset(a, {
      command: 'app-sandbox',
      globals: {debug: true},
      pod: {uuidFileSave: '/run/u', net: [{name: 'default'}], hostname: 'box', stage1: {kind: 'name'}},
      annotations: [{name: 'coreos.com/rkt/experiment/kubernetes-log-dir', value: '/var/log/pods'}],
      userLabels: {team: 'ops'},
    })
    assert.deepEqual(a.pod.ports, [
      {
        name: 'http',
        hostPort: 80,
        hostIP: '0.0.0.0',
        podPort: {name: 'http', protocol: 'tcp', port: 8080, count: 1, socketActivated: false},
      },
    ])
  })

  test('sandbox: no image, no app flag, and a --port in run’s form, each refused with the fix', () => {
    assert.throws(() => parseSandboxArgs(['example.com/app']), /takes no image.*\n?/)
    assert.throws(() => parseSandboxArgs(['--exec=/bin/sh']), /not a flag of rkt app sandbox/)
    assert.throws(() => parseSandboxArgs(['--port=http:80']), /NAME:PROTO:PODPORT:HOSTIP:HOSTPORT/)
    assert.throws(() => parseSandboxArgs(['--port=http:sctp:80:0.0.0.0:80']), /invalid protocol "sctp"/)
  })

  test('add: the UUID, one image and its per-app flags and arguments', () => {
    const a = parseAppAddArgs(['--debug', 'c0ffee', 'example.com/web', '--name=web', '--memory=64M', '--', '-v', '---'])
    assertSubset(a, {command: 'app-add', uuid: 'c0ffee', globals: {debug: true}})
    assertSubset(a.app, {image: 'example.com/web', name: 'web', args: ['-v']})
    assert.throws(() => parseAppAddArgs(['c0ffee']), /a pod UUID and one image/)
    assert.throws(() => parseAppAddArgs(['c0ffee', 'a', 'b']), /a pod UUID and one image/)
    assert.throws(() => parseAppAddArgs(['c0ffee', 'a', '--net=host']), /not a flag of rkt app add/)
  })
})
