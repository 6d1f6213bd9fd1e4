// The systemd-nspawn command line and environment, the --net choices, and the check for nspawn itself.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {
  findNspawn,
  machineName,
  NSPAWN_DEFAULT_CAPS,
  netArgs,
  nspawnArgv,
  nspawnCapabilities,
  nspawnCommand,
  nspawnEnv,
  propagateDir,
} from './nspawn.js'

const UUID = '2f1a1f5c-4a7e-4c89-9b5e-6f2b0f3d9a10'
const BASE = {
  uuid: UUID,
  rootfs: '/var/lib/rkt/pods/run/x/stage1/rootfs',
  net: {kind: 'private' as const},
  console: 'pipe' as const,
  capabilities: '',
  conf: '/rkt/supervisor.conf',
}

describe('nspawn', () => {
  test('the command line: no machined, our unit, quiet, SIGTERM to stop, the supervisor as the container’s init', () => {
    assert.deepEqual(nspawnArgv(BASE), [
      'systemd-nspawn',
      '--register=no',
      '--keep-unit',
      '-q',
      '--kill-signal=SIGTERM',
      '--console=pipe',
      '--resolv-conf=off',
      '--timezone=off',
      '--link-journal=no',
      `--machine=rkt-${UUID}`,
      '-D',
      '/var/lib/rkt/pods/run/x/stage1/rootfs',
      '--private-network',
      '--',
      '/supervisor',
      '/rkt/supervisor.conf',
    ])
  })

  test('host network: no --private-network; extra capabilities or all; an interactive console', () => {
    const argv = nspawnArgv({...BASE, net: {kind: 'host'}, capabilities: 'CAP_NET_ADMIN', console: 'interactive'})
    assert.ok(!argv.includes('--private-network'))
    assert.ok(argv.includes('--capability=CAP_NET_ADMIN'))
    assert.ok(argv.includes('--console=interactive'))
    assert.ok(nspawnArgv({...BASE, capabilities: 'all'}).includes('--capability=all'))
    assert.deepEqual(nspawnArgv(BASE).slice(-3), ['--', '/supervisor', '/rkt/supervisor.conf'], 'options before --')
  })

  test('--private-users: nspawn gets the range and leaves ownership alone; a CNI namespace is joined by nsenter first', () => {
    const range = {first: 0x120000, count: 65536}
    const tools = {nspawn: '/usr/bin/systemd-nspawn', nsenter: '/usr/bin/nsenter'}
    const cni = {...BASE, net: {kind: 'netns' as const, path: '/pod/netns'}, privateUsers: range}
    const {file, argv} = nspawnCommand(cni, tools)
    assert.equal(file, '/usr/bin/nsenter')
    assert.deepEqual(argv.slice(0, 4), ['nsenter', '--net=/pod/netns', '--', '/usr/bin/systemd-nspawn'])
    assert.ok(argv.includes('--private-users=1179648:65536'))
    assert.ok(argv.includes('--private-users-ownership=off'))
    assert.ok(!argv.some((a) => a.startsWith('--network-namespace-path')), 'nspawn could not join it from the pod')
    assert.deepEqual(argv.slice(4), nspawnArgv(cni).slice(1))
    // Without private users, or without a CNI namespace: nspawn itself, as before.
    const plain = nspawnCommand({...cni, privateUsers: undefined}, tools)
    assert.equal(plain.file, '/usr/bin/systemd-nspawn')
    assert.ok(plain.argv.includes('--network-namespace-path=/pod/netns'))
    assert.equal(nspawnCommand({...BASE, privateUsers: range}, tools).file, '/usr/bin/systemd-nspawn')
    assert.deepEqual(netArgs({kind: 'private'}, range), ['--private-network'])
  })

  test('the environment is made from scratch: a caller’s SYSTEMD_* variables never reach nspawn', () => {
    assert.deepEqual(nspawnEnv({path: '/usr/bin:/bin', term: 'xterm', listenFds: 4, pid: 77}), {
      PATH: '/usr/bin:/bin',
      TERM: 'xterm',
      LISTEN_FDS: '4',
      LISTEN_PID: '77',
      SYSTEMD_NSPAWN_LOCK: '0',
      // Seccomp is the supervisor's, per app; nspawn's whole-container filter is off.
      SYSTEMD_SECCOMP: '0',
    })
    const bare = nspawnEnv({path: undefined, term: undefined, listenFds: 0, pid: 77})
    assert.ok(!('LISTEN_FDS' in bare) && !('TERM' in bare) && !('NOTIFY_SOCKET' in bare))
    assert.match(bare['PATH']!, /\/usr\/bin/)
  })

  test('a Type=notify unit: its NOTIFY_SOCKET reaches nspawn, which waits for the supervisor’s READY=1 when an app notifies', () => {
    const env = nspawnEnv({
      path: undefined,
      term: undefined,
      listenFds: 0,
      pid: 77,
      notifySocket: '/run/systemd/notify',
    })
    assert.equal(env['NOTIFY_SOCKET'], '/run/systemd/notify')
    assert.ok(nspawnArgv({...BASE, notifyReady: true}).includes('--notify-ready=yes'))
    assert.ok(!nspawnArgv(BASE).some((a) => a.startsWith('--notify-ready')), 'otherwise nspawn says READY=1 itself')
  })

  test('--net: host adds nothing, none a private loopback-only network, contained networks their namespace', () => {
    assert.deepEqual(netArgs({kind: 'host'}), [])
    assert.deepEqual(netArgs({kind: 'private'}), ['--private-network'])
    assert.deepEqual(netArgs({kind: 'netns', path: '/p/netns'}), ['--network-namespace-path=/p/netns'])
  })

  test('machine name and the propagate directory a killed nspawn leaves', () => {
    assert.equal(machineName(UUID), `rkt-${UUID}`)
    assert.equal(propagateDir(UUID), `/run/systemd/nspawn/propagate/rkt-${UUID}`)
  })

  test('nspawn is asked only for what apps keep beyond its own default set, or all when insecure', () => {
    assert.equal(nspawnCapabilities([0xa80425fbn], false), '')
    assert.equal(NSPAWN_DEFAULT_CAPS & 0xa80425fbn, 0xa80425fbn, 'appc’s defaults are within nspawn’s')
    assert.equal(nspawnCapabilities([1n << 12n, 1n << 17n], false), 'CAP_NET_ADMIN,CAP_SYS_RAWIO')
    assert.equal(nspawnCapabilities([0n], true), 'all')
  })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-path-'))
  after(() => fs.rmSync(dir, {recursive: true, force: true}))

  test('systemd-nspawn is looked for on PATH; missing, the error names the Debian package', () => {
    fs.writeFileSync(path.join(dir, 'systemd-nspawn'), '#!/bin/sh\n', {mode: 0o755})
    assert.equal(findNspawn(`/nonexistent:${dir}`), path.join(dir, 'systemd-nspawn'))
    assert.throws(
      () => findNspawn('/nonexistent'),
      (err: Error & {hint?: string}) => {
        assert.match(err.message, /systemd-nspawn is not installed/)
        assert.match(err.hint!, /apt-get install systemd-container/)
        return true
      },
    )
  })
})
