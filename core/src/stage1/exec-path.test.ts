import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {RktError} from '../errors.js'
import {DEFAULT_PATH} from './env.js'
import {appCommand, findExecutable, requireHostTool} from './exec-path.js'
import type {PodApp} from './pod.js'

let tmp: string
let root: string

function file(p: string, mode: number): void {
  const host = path.join(root, p)
  fs.mkdirSync(path.dirname(host), {recursive: true})
  fs.writeFileSync(host, '#!/bin/sh\n')
  fs.chmodSync(host, mode)
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-execpath-'))
  root = path.join(tmp, 'rootfs')
  file('bin/busybox', 0o755)
  fs.symlinkSync('busybox', path.join(root, 'bin', 'sh'))
  fs.symlinkSync('/bin/busybox', path.join(root, 'bin', 'ls'))
  file('usr/bin/tool', 0o700)
  file('usr/local/bin/tool', 0o644) // earlier in PATH but not executable: skipped
  file('sbin/only-r', 0o444)
  fs.mkdirSync(path.join(root, 'usr', 'sbin', 'dirprog'), {recursive: true})
  fs.chmodSync(path.join(root, 'usr', 'sbin', 'dirprog'), 0o755)
  file('opt/app/bin/run', 0o755)
  file('opt/app/here', 0o755)
  fs.symlinkSync('../../../../../../../../host-prog', path.join(root, 'bin', 'escape'))
  fs.symlinkSync('loop2', path.join(root, 'bin', 'loop1'))
  fs.symlinkSync('loop1', path.join(root, 'bin', 'loop2'))
  // An executable next to the root: a link must never find it.
  fs.writeFileSync(path.join(tmp, 'host-prog'), '#!/bin/sh\n', {mode: 0o755})
  fs.symlinkSync(path.join(tmp, 'host-prog'), path.join(root, 'bin', 'hostabs'))
})

after(() => fs.rmSync(tmp, {recursive: true, force: true}))

const env = (p?: string): string[] => (p === undefined ? ['HOME=/root'] : ['HOME=/root', `PATH=${p}`])

describe('findExecutable: bare names search PATH inside the image', () => {
  test('finds the program and returns the PATH path, not the link target', () => {
    assert.equal(findExecutable(root, 'sh', env(DEFAULT_PATH)), '/bin/sh')
    assert.equal(findExecutable(root, 'ls', env(DEFAULT_PATH)), '/bin/ls')
    assert.equal(findExecutable(root, 'busybox', env('/usr/bin:/bin')), '/bin/busybox')
  })

  test('skips candidates that are not executable, and directories', () => {
    assert.equal(findExecutable(root, 'tool', env('/usr/local/bin:/usr/bin')), '/usr/bin/tool')
    assert.throws(() => findExecutable(root, 'dirprog', env('/usr/sbin')), {code: 'ENOEXEC'})
  })

  test('the default PATH is used when env has none', () => {
    assert.equal(findExecutable(root, 'tool', env()), '/usr/bin/tool')
  })

  test('relative and empty PATH entries are relative to the working directory', () => {
    assert.equal(findExecutable(root, 'run', env('bin'), '/opt/app'), '/opt/app/bin/run')
    assert.equal(findExecutable(root, 'here', env('/bin:'), '/opt/app'), '/opt/app/here')
    assert.equal(findExecutable(root, 'here', env('.'), '/opt/app'), '/opt/app/here')
  })

  test('links leaving the root are followed inside it, so host programs are never found', () => {
    assert.throws(() => findExecutable(root, 'escape', env('/bin')), {code: 'ENOEXEC'})
    assert.throws(() => findExecutable(root, 'hostabs', env('/bin')), {code: 'ENOEXEC'})
    assert.throws(() => findExecutable(root, 'host-prog', env('/../..:..:../../..')), {code: 'ENOEXEC'})
  })

  test('a symlink loop is skipped like a missing program', () => {
    assert.throws(() => findExecutable(root, 'loop1', env('/bin')), {code: 'ENOEXEC'})
  })

  test('the error names the program, PATH, the rootfs and the --exec hint', () => {
    assert.throws(
      () => findExecutable(root, 'nginx', env('/usr/sbin:/usr/bin')),
      (e: unknown) =>
        e instanceof RktError &&
        e.message.includes('"nginx"') &&
        e.message.includes('PATH=/usr/sbin:/usr/bin') &&
        e.message.includes(root) &&
        (e.hint ?? '').includes('--exec=/absolute/path'),
    )
    assert.throws(() => findExecutable(root, 'only-r', env('/sbin')), /exists but is not an executable file/)
  })
})

describe('findExecutable: paths with a slash', () => {
  test('absolute paths are taken as given, checked inside the image', () => {
    assert.equal(findExecutable(root, '/bin/sh', env()), '/bin/sh')
    assert.equal(findExecutable(root, '/usr/bin/tool', env()), '/usr/bin/tool')
  })

  test('relative paths are relative to the working directory (rkt FindBinPath)', () => {
    assert.equal(findExecutable(root, 'bin/run', env(), '/opt/app'), '/opt/app/bin/run')
    assert.equal(findExecutable(root, './here', env(), '/opt/app'), '/opt/app/here')
    assert.equal(findExecutable(root, '../here', env(), '/opt/app/bin'), '/opt/app/bin/../here')
  })

  test('missing or non-executable programs fail with a clear error', () => {
    assert.throws(
      () => findExecutable(root, '/usr/bin/nope', env()),
      (e: unknown) =>
        e instanceof RktError &&
        /does not exist/.test(e.message) &&
        e.message.includes(root) &&
        (e.hint ?? '').includes('--exec='),
    )
    assert.throws(() => findExecutable(root, '/sbin/only-r', env()), /is not an executable file/)
    assert.throws(() => findExecutable(root, '/usr/sbin/dirprog', env()), /is not an executable file/)
    assert.throws(() => findExecutable(root, 'run', env(), '/opt/app'), /cannot find "run"/)
    assert.throws(() => findExecutable(root, 'bin/run', env(), '/'), /relative to the working directory \//)
  })

  test('a host path is looked up inside the image', () => {
    assert.throws(() => findExecutable(root, path.join(tmp, 'host-prog'), env()), /does not exist/)
    assert.throws(() => findExecutable(root, '/bin/escape', env()), /does not exist/)
  })

  test('an empty exec is refused', () => {
    assert.throws(() => findExecutable(root, '', env()), /no program to run/)
  })
})

describe('appCommand', () => {
  const app = (exec: string[] | undefined): PodApp =>
    ({
      name: 'web',
      rootfs: root,
      image: {name: 'example.com/web'},
      app: {exec, workingDirectory: '/usr'},
    }) as unknown as PodApp

  test("the app's exec, or a handler's, its program found in the app's root", () => {
    assert.deepEqual(appCommand(app(['tool', '-x']), [`PATH=${DEFAULT_PATH}`]), ['/usr/bin/tool', '-x'])
    assert.deepEqual(appCommand(app(['tool']), [], ['/bin/sh', '-c', 'true']), ['/bin/sh', '-c', 'true'])
    assert.throws(() => appCommand(app(['missing']), []), {code: 'ENOEXEC'})
  })

  test('an empty exec is refused with the fix', () => {
    for (const exec of [undefined, []])
      assert.throws(
        () => appCommand(app(exec), []),
        (err: unknown) => {
          assert.ok(err instanceof RktError)
          assert.equal(err.message, 'image "example.com/web" has an empty "exec"')
          assert.match(err.hint ?? '', /--exec=/)
          return true
        },
      )
  })
})

describe('requireHostTool', () => {
  test('the path of an installed program, or an error naming the package to install', () => {
    const sh = requireHostTool('sh', 'dash', 'the test stage1')
    assert.equal(path.basename(sh), 'sh')
    fs.accessSync(sh, fs.constants.X_OK)
    assert.throws(
      () => requireHostTool('rkt-no-such-tool', 'rkt-tools', 'the test stage1'),
      (err: unknown) => {
        assert.ok(err instanceof RktError)
        assert.equal(err.message, 'rkt-no-such-tool is not installed: the test stage1 needs it')
        assert.equal(err.hint, 'apt-get install rkt-tools')
        return true
      },
    )
  })
})
