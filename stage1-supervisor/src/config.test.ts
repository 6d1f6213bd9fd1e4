// The supervisor configuration writer against the README's table: token framing, key order, arities,
// optional keys, and values no line-based format could carry.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {type AppConf, confRecords, DEFAULT_GRACE_MS, encodeConf, writeAppConf, writeConf} from './config.js'
import {DEFAULT_FILTER} from './seccomp.js'

/** The reader's view: NUL-terminated tokens, then key/value pairs (every key of the README has arity 1). */
function parse(buf: Buffer): [string, string][] {
  assert.equal(buf.at(-1), 0, 'the last token is NUL-terminated')
  const tokens = buf.subarray(0, -1).toString().split('\0')
  assert.equal(tokens.length % 2, 0, 'keys and values pair up')
  const out: [string, string][] = []
  for (let i = 0; i < tokens.length; i += 2) out.push([tokens[i]!, tokens[i + 1]!])
  return out
}

const APP: AppConf = {
  name: 'web',
  root: '/opt/stage2/web/rootfs',
  argv: ['/bin/sh', '-c', 'echo "a\nb"; printf "%s" "tab\there"'],
  env: ['PATH=/bin', 'MULTI=line1\nline2', 'EMPTY='],
  uid: 1000,
  gid: 100,
  groups: [5, 27],
  cwd: '/srv',
  caps: 0xa80425fbn,
  noNewPrivs: true,
  seccomp: {mode: 'remove', errno: 1, syscalls: ['mount', 'reboot']},
  oomScoreAdj: -500,
  cgroupFds: [3, 4, 5],
  oomFds: [6],
  readonlyRootfs: true,
  maskPaths: true,
  interactive: false,
  preStart: ['/bin/prep', 'x y'],
  postStop: ['/bin/done'],
}

describe('supervisor.conf', () => {
  test('records in the README’s order, every value its own token, newlines and tabs included', () => {
    const records = parse(encodeConf({graceMs: 2500, apps: [APP]}))
    assert.deepEqual(records, [
      ['version', '1'],
      ['grace', '2500'],
      ['app', 'web'],
      ['root', '/opt/stage2/web/rootfs'],
      ['arg', '/bin/sh'],
      ['arg', '-c'],
      ['arg', 'echo "a\nb"; printf "%s" "tab\there"'],
      ['env', 'PATH=/bin'],
      ['env', 'MULTI=line1\nline2'],
      ['env', 'EMPTY='],
      ['uid', '1000'],
      ['gid', '100'],
      ['groups', '5,27'],
      ['cwd', '/srv'],
      ['caps', 'a80425fb'],
      ['no-new-privs', '1'],
      ['seccomp', 'remove'],
      ['seccomp-errno', '1'],
      ['syscall', 'mount'],
      ['syscall', 'reboot'],
      ['oom-score-adj', '-500'],
      ['cgroup-fd', '3'],
      ['cgroup-fd', '4'],
      ['cgroup-fd', '5'],
      ['oom-fd', '6'],
      ['readonly-rootfs', '1'],
      ['mask-paths', '1'],
      ['interactive', '0'],
      ['pre-start', '/bin/prep'],
      ['pre-start', 'x y'],
      ['post-stop', '/bin/done'],
    ])
  })

  test('optional keys are left out: no errno (kill), no oom-score-adj, no handlers, no oom fd; empty groups stay', () => {
    const plain: AppConf = {
      ...APP,
      groups: [],
      caps: 0n,
      seccomp: {mode: 'none', syscalls: []},
      oomScoreAdj: undefined,
      oomFds: [],
      preStart: undefined,
      postStop: undefined,
    }
    const keys = new Map(parse(encodeConf({graceMs: DEFAULT_GRACE_MS, apps: [plain]})))
    for (const k of ['seccomp-errno', 'syscall', 'oom-score-adj', 'oom-fd', 'pre-start', 'post-stop']) {
      assert.ok(!keys.has(k), `${k} absent`)
    }
    assert.equal(keys.get('groups'), '')
    assert.equal(keys.get('caps'), '0')
    assert.equal(keys.get('seccomp'), 'none')
    assert.equal(keys.get('grace'), '10000')
  })

  test('apps follow one another, each from its `app` record', () => {
    const two = confRecords({graceMs: 1, apps: [APP, {...APP, name: 'db', seccomp: DEFAULT_FILTER}]})
    const starts = two.flatMap(([k, v], i) => (k === 'app' ? [[i, v] as const] : []))
    assert.deepEqual(
      starts.map(([, v]) => v),
      ['web', 'db'],
    )
    const db = two.slice(starts[1]![0])
    assert.ok(
      db.some(([k, v]) => k === 'syscall' && v === 'kexec_load'),
      'the default filter names its syscalls',
    )
  })

  test('a NUL byte in a value cannot be written', () => {
    assert.throws(() => encodeConf({graceMs: 1, apps: [{...APP, argv: ['/bin/sh', 'a\0b']}]}), {code: 'ECONF'})
    assert.throws(() => encodeConf({graceMs: 1, apps: [{...APP, env: ['A=\0']}]}), /NUL byte/)
  })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-conf-'))
  after(() => fs.rmSync(dir, {recursive: true, force: true}))

  test('writeConf replaces the file whole, readable by root only (it holds the apps’ environment)', () => {
    const file = path.join(dir, 'supervisor.conf')
    fs.writeFileSync(file, 'old')
    writeConf(file, {graceMs: 7, apps: [APP]})
    assert.deepEqual(fs.readFileSync(file), encodeConf({graceMs: 7, apps: [APP]}))
    assert.equal(fs.statSync(file).mode & 0o777, 0o600)
    assert.deepEqual(fs.readdirSync(dir), ['supervisor.conf'], 'no temp file left')
  })

  test('a mutable pod: the pod record before the apps, none needed; an added app: the version and its section', () => {
    assert.deepEqual(parse(encodeConf({graceMs: 5, mutable: true, apps: []})), [
      ['version', '1'],
      ['grace', '5'],
      ['mutable', '1'],
    ])
    const file = path.join(dir, 'web.conf')
    writeAppConf(file, APP)
    const records = parse(fs.readFileSync(file))
    assert.deepEqual(records, [['version', '1'], ...confRecords({graceMs: 1, apps: [APP]}).slice(2)])
    assert.equal(fs.statSync(file).mode & 0o777, 0o600)
  })
})
