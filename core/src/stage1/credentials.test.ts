import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, mock, test} from 'node:test'

import fc from 'fast-check'

import type {App, ImageManifest} from '../schema/index.js'
import type {Credentials} from './credentials.js'

import {RktError} from '../errors.js'
import {isRoot, skipUnless} from '../testing.js'
import {MAX_ID, parseGroup, parsePasswd, resolveCredentials, resolveGroup, resolveUser} from './credentials.js'

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

user1:x:1000:100::/home/user1:/bin/sh
1000:x:1234:100::/:/bin/sh
`
const GROUP = `root:x:0:
group1:x:100:user1,daemon
300:x:4321:
`

let tmp: string

/** Runs `fn` with spies on the fs calls that look at paths, and returns every path they were given. */
function pathsLookedAt(fn: () => void): string[] {
  const spies = [
    mock.method(fs, 'lstatSync'),
    mock.method(fs, 'statSync'),
    mock.method(fs, 'readlinkSync'),
    mock.method(fs, 'openSync'),
    mock.method(fs, 'readFileSync'),
  ]
  try {
    fn()
  } finally {
    for (const s of spies) s.mock.restore()
  }
  return spies.flatMap((s) => s.mock.calls.map((c) => String(c.arguments[0])))
}
let n = 0

/** A fresh image rootfs with the given files (paths relative to the root). */
function image(files: Record<string, string> = {}): string {
  const root = path.join(tmp, `img${n++}`, 'rootfs')
  fs.mkdirSync(root, {recursive: true})
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), {recursive: true})
    fs.writeFileSync(path.join(root, p), text)
  }
  return root
}

function app(user: string, group: string, supplementaryGIDs: number[] = []): App {
  return {
    user,
    group,
    supplementaryGIDs,
    eventHandlers: [],
    environment: [],
    isolators: [],
    mountPoints: [],
    ports: [],
    userAnnotations: {},
    userLabels: {},
  }
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-creds-'))
})
after(() => fs.rmSync(tmp, {recursive: true, force: true}))

describe('parsePasswd / parseGroup', () => {
  test('reads well-formed entries', () => {
    assert.deepEqual(parsePasswd('nobody:x:1000:100::/home/nobody:/bin/nologin:more:stuff\n'), [
      {name: 'nobody', uid: 1000, gid: 100, home: '/home/nobody', shell: '/bin/nologin'},
    ])
    assert.deepEqual(parseGroup('wheel:x:10:a,b\nempty:x:11:\nshort:x:12'), [
      {name: 'wheel', gid: 10, members: ['a', 'b']},
      {name: 'empty', gid: 11, members: []},
      {name: 'short', gid: 12, members: []},
    ])
  })

  test('skips comments, blank, short and malformed lines, NIS entries; tolerates CRLF', () => {
    const text = [
      '# root:x:0:0::/:/bin/sh',
      '   ',
      'nobody:x:',
      ':x:5:5::/:',
      'neg:x:-1:0::/:',
      'plus:x:+5:0::/:',
      'hex:x:0x10:0::/:',
      'space:x: 7:0::/:',
      'huge:x:4294967295:0::/:',
      'huger:x:99999999999999999999:0::/:',
      'badgid:x:5:abc::/:',
      '+nis::::::',
      '-nis2::::::',
      'ok:x:4294967294:7::/home:/bin/sh\r',
    ].join('\n')
    assert.deepEqual(parsePasswd(text), [{name: 'ok', uid: MAX_ID, gid: 7, home: '/home', shell: '/bin/sh'}])
    assert.deepEqual(parseGroup('g:x:-3:\ng2:x:\ng3:x:3:\r\n'), [{name: 'g3', gid: 3, members: []}])
  })

  test('duplicates are kept in order and the first one wins a lookup', () => {
    const root = image({'etc/passwd': 'dup:x:5:5::/:\ndup:x:6:6::/:\n', 'etc/group': 'g:x:7:\ng:x:8:\n'})
    assert.equal(parsePasswd('dup:x:5:5::/:\ndup:x:6:6::/:\n').length, 2)
    assert.equal(resolveUser(root, 'dup'), 5)
    assert.equal(resolveGroup(root, 'g'), 7)
  })
})

describe('resolveCredentials (rkt tests/rkt_run_user_group_test.go)', () => {
  let root: string
  before(() => {
    root = image({'etc/passwd': PASSWD, 'etc/group': GROUP, inspect: '#!/bin/sh\n'})
  })

  const cases: [string, string, number, number][] = [
    ['0', '0', 0, 0],
    ['200', '0', 200, 0],
    ['0', '300', 0, 4321], // "300" names a group in this image: the image's /etc/group wins (appc)
    ['200', '301', 200, 301],
    ['user1', '301', 1000, 301],
    ['200', 'group1', 200, 100],
    ['user1', 'group1', 1000, 100],
    ['root', 'root', 0, 0],
    ['1000', '0', 1234, 0], // a user named "1000" in /etc/passwd
  ]
  for (const [user, group, uid, gid] of cases) {
    test(`--user=${user} --group=${group} → ${uid}:${gid}`, () => {
      assert.deepEqual(resolveCredentials(root, app(user, group)), {uid, gid, groups: [gid]})
    })
  }

  test('supplementary groups come after the primary gid, as rkt fly sets them', () => {
    assert.deepEqual(resolveCredentials(root, app('user1', 'group1', [10, 20])), {
      uid: 1000,
      gid: 100,
      groups: [100, 10, 20],
    })
  })

  test('negative or huge supplementary gids are refused', () => {
    assert.throws(() => resolveCredentials(root, app('0', '0', [-1])), /supplementary group -1/)
    assert.throws(() => resolveCredentials(root, app('0', '0', [2 ** 32])), RktError)
  })

  test('root is 0 without any /etc/passwd (rkt NumericIDs)', () => {
    assert.deepEqual(resolveCredentials(image(), app('root', 'root')), {uid: 0, gid: 0, groups: [0]})
  })

  test('an image /etc/passwd may redefine root', () => {
    const r = image({'etc/passwd': 'root:x:7:7::/:\n', 'etc/group': 'root:x:8:\n'})
    assert.deepEqual(resolveCredentials(r, app('root', 'root')), {uid: 7, gid: 8, groups: [8]})
  })

  test('numeric ids out of range are refused, not wrapped', () => {
    assert.throws(
      () => resolveUser(image(), '4294967295'),
      (e: unknown) => e instanceof RktError && e.code === 'ENOUSER' && /out of range/.test(e.message),
    )
    assert.throws(() => resolveGroup(image(), '99999999999999999999'), {code: 'ENOGROUP'})
  })

  test('missing names: the error names the user, the file consulted and the fix', () => {
    assert.throws(
      () => resolveCredentials(root, app('alice', '0')),
      (e: unknown) =>
        e instanceof RktError &&
        e.code === 'ENOUSER' &&
        e.message.includes('"alice"') &&
        e.message.includes('/etc/passwd') &&
        e.message.includes(root) &&
        (e.hint ?? '').includes('--user=UID'),
    )
    assert.throws(
      () => resolveCredentials(root, app('0', 'staff')),
      (e: unknown) =>
        e instanceof RktError &&
        e.code === 'ENOGROUP' &&
        e.message.includes('"staff"') &&
        e.message.includes('/etc/group') &&
        (e.hint ?? '').includes('--group=GID'),
    )
    assert.throws(() => resolveUser(image(), 'alice'), /the image has no \/etc\/passwd/)
    assert.throws(() => resolveUser(image(), '-1'), {code: 'ENOUSER'})
    assert.throws(() => resolveUser(image(), ''), {code: 'ENOUSER'})
  })

  test('an /etc/passwd that is not a regular file is reported, numeric ids still work', () => {
    const r = image()
    fs.mkdirSync(path.join(r, 'etc', 'passwd'), {recursive: true})
    assert.throws(() => resolveUser(r, 'alice'), /not a regular file/)
    assert.equal(resolveUser(r, '5'), 5)
  })

  test('a FIFO as /etc/group is not read (no hang)', () => {
    const r = image({'etc/passwd': ''})
    execFileSync('mkfifo', [path.join(r, 'etc', 'group')])
    assert.throws(() => resolveGroup(r, 'g'), /not a regular file/)
    assert.equal(resolveGroup(r, '9'), 9)
  })
})

describe('resolveCredentials: owner of a path in the image', () => {
  test(
    'user=/path and group=/path take the owner of that file inside the image',
    {skip: skipUnless(isRoot, 'chown needs root')},
    () => {
      const root = image({inspect: 'x', 'bin/real': 'x'})
      fs.chownSync(path.join(root, 'inspect'), 1234, 5678)
      fs.chownSync(path.join(root, 'bin', 'real'), 42, 43)
      fs.symlinkSync('/bin/real', path.join(root, 'link'))
      assert.deepEqual(resolveCredentials(root, app('/inspect', '/inspect')), {uid: 1234, gid: 5678, groups: [5678]})
      // Symlinks are followed inside the image.
      assert.deepEqual(resolveCredentials(root, app('/link', '/link')), {uid: 42, gid: 43, groups: [43]})
    },
  )

  test('a path that exists only on the host is not found in the image', () => {
    const root = image()
    const outside = path.join(tmp, 'host-file')
    fs.writeFileSync(outside, '')
    fs.symlinkSync(outside, path.join(root, 'escape'))
    assert.throws(() => resolveUser(root, outside), /there is no file/)
    assert.throws(() => resolveUser(root, '/escape'), /there is no file/)
    assert.throws(() => resolveGroup(root, '/../../host-file'), {code: 'ENOGROUP'})
  })
})

describe('resolveCredentials: symlinked databases never read the host (SEC-07)', () => {
  // The host's own /etc/passwd defines root and (on Debian) daemon; the image defines neither.
  test('/etc/passwd -> ../../../../etc/passwd loops inside the image: names fail, numbers work', () => {
    const root = image()
    fs.mkdirSync(path.join(root, 'etc'))
    fs.symlinkSync('../../../../etc/passwd', path.join(root, 'etc', 'passwd'))
    fs.symlinkSync('/etc/group', path.join(root, 'etc', 'group'))
    assert.throws(() => resolveUser(root, 'daemon'), /cannot be resolved|too many/)
    assert.throws(() => resolveGroup(root, 'daemon'), {code: 'ENOGROUP'})
    assert.equal(resolveUser(root, '3'), 3)
  })

  test('a link climbing out lands on the image file of that name', () => {
    const root = image({'etc/passwd.real': 'daemon:x:77:77::/:\n', 'group.real': 'daemon:x:88:\n'})
    fs.symlinkSync('../../../../../../../etc/passwd.real', path.join(root, 'etc', 'passwd'))
    fs.symlinkSync('../../../../group.real', path.join(root, 'etc', 'group'))
    assert.deepEqual(resolveCredentials(root, app('daemon', 'daemon')), {uid: 77, gid: 88, groups: [88]})
  })

  test('an absolute link to a host file is read inside the image', () => {
    const hostPasswd = path.join(tmp, 'host-passwd')
    fs.writeFileSync(hostPasswd, 'hostonly:x:99:99::/:\n')
    const root = image()
    fs.mkdirSync(path.join(root, 'etc'))
    fs.symlinkSync(hostPasswd, path.join(root, 'etc', 'passwd'))
    assert.throws(() => resolveUser(root, 'hostonly'), /the image has no \/etc\/passwd/)
  })
})

describe('resolveCredentials: docker2aci images (rkt ParseUserGroup)', () => {
  const dockerImage = (user: string, group: string, docker = true): ImageManifest => ({
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: 'example.com/x',
    labels: [],
    app: app(user, group),
    dependencies: [],
    pathWhitelist: [],
    annotations: docker ? [{name: 'appc.io/docker/repository', value: 'registry-1.docker.io/library/x'}] : [],
  })

  test('group = user that does not resolve takes the uid', () => {
    const root = image({'etc/passwd': 'web:x:33:33::/:\n'})
    assert.deepEqual(resolveCredentials(root, app('web', 'web'), {image: dockerImage('web', 'web')}), {
      uid: 33,
      gid: 33,
      groups: [33],
    })
  })

  test('not for non-Docker images, nor when the pod changed the group', () => {
    const root = image({'etc/passwd': 'web:x:33:33::/:\n'})
    assert.throws(() => resolveCredentials(root, app('web', 'web'), {image: dockerImage('web', 'web', false)}), {
      code: 'ENOGROUP',
    })
    assert.throws(() => resolveCredentials(root, app('web', 'other'), {image: dockerImage('web', 'web')}), {
      code: 'ENOGROUP',
    })
  })
})

describe('resolveCredentials: fuzz (FZ-12)', () => {
  const field = fc.oneof(
    fc.constantFrom('', 'x', 'root', 'alice', 'bob', '0', '1', '1000', '-1', '+1', '4294967295', '4294967294'),
    fc.constantFrom('99999999999999999999', ' 5', '0x10', '1e3', '#', '/bin/sh', '\r', 'a,b,,c'),
    fc.string({maxLength: 6}),
  )
  const line = fc.oneof(
    fc.array(field, {minLength: 0, maxLength: 9}).map((fs) => fs.join(':')),
    fc.constantFrom('', '# comment', '+::::::', '-bob', ':::', 'alice:x:5:6::/:/bin/sh'),
    fc.string({maxLength: 20}),
  )
  const db = fc.tuple(fc.array(line, {maxLength: 12}), fc.constantFrom('\n', '\r\n')).map(([ls, sep]) => ls.join(sep))
  const who = fc.oneof(
    fc.constantFrom('root', 'alice', 'bob', '0', '1000', '-1', '4294967295', '/etc/passwd', '/nope', '/', ''),
    fc.constantFrom('/etc/../../../etc/passwd', 'x/y', '99999999999999999999'),
    fc.string({maxLength: 8}),
  )
  const linkTarget = fc.constantFrom(
    null,
    null,
    '../../../../etc/passwd',
    '/etc/passwd',
    '/etc/shadow',
    '../../../../../../etc/group',
    '/',
    '/proc/self/environ',
  )

  test('never throws anything but RktError, never reads outside the root', () => {
    let looked = 0
    fc.assert(
      fc.property(db, db, who, who, linkTarget, linkTarget, (passwd, group, user, grp, pl, gl) => {
        const root = image()
        fs.mkdirSync(path.join(root, 'etc'))
        if (pl === null) fs.writeFileSync(path.join(root, 'etc', 'passwd'), passwd)
        else fs.symlinkSync(pl, path.join(root, 'etc', 'passwd'))
        if (gl === null) fs.writeFileSync(path.join(root, 'etc', 'group'), group)
        else fs.symlinkSync(gl, path.join(root, 'etc', 'group'))
        let got: unknown
        const touched = pathsLookedAt(() => {
          try {
            got = resolveCredentials(root, app(user, grp, [1, 2]))
          } catch (err) {
            got = err
          }
        })
        looked += touched.length
        for (const t of touched) assert.ok(t.startsWith(`${root}/`), `looked outside the root: ${t}`)
        if (got instanceof Error || typeof got !== 'object' || got === null) {
          assert.ok(got instanceof RktError, `not an RktError: ${String(got)}`)
          return
        }
        const c = got as Credentials
        for (const id of [c.uid, c.gid, ...c.groups]) assert.ok(Number.isInteger(id) && id >= 0 && id <= MAX_ID)
        assert.deepEqual(c.groups, [c.gid, 1, 2])
      }),
      {numRuns: 300},
    )
    assert.ok(looked > 0, 'the spies saw nothing')
  })

  test('parsers are total and only return ids in range', () => {
    fc.assert(
      fc.property(fc.string({maxLength: 200}), (text) => {
        for (const e of parsePasswd(text)) assert.ok(e.uid >= 0 && e.uid <= MAX_ID && e.gid <= MAX_ID && e.name !== '')
        for (const e of parseGroup(text)) assert.ok(e.gid >= 0 && e.gid <= MAX_ID && e.name !== '')
      }),
    )
  })
})
