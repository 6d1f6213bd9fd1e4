import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {attachArgv, parseAttachArgv} from '../contract/entrypoints.js'
import {appLogging, logFiles} from '../contract/logs.js'
import {PodPaths} from '../contract/paths.js'
import {attachMode} from './attach.js'
import {parseCri, parseSince} from './logs.js'

describe('rkt logs: the CRI format', () => {
  test('P pieces are joined to the F line that ends them, per stream, across reads', () => {
    const pending = new Map<string, string>()
    const first = parseCri('T1 stdout P abc\nT1 stderr F e1\nT2 stdout P def\n', pending)
    assert.deepEqual(first, [{time: 'T1', stream: 'stderr', text: 'e1'}])
    const second = parseCri('T3 stdout F ghi\nnot a log line\nT4 stdout F  two spaces\n', pending)
    assert.deepEqual(second, [
      {time: 'T3', stream: 'stdout', text: 'abcdefghi'},
      {time: 'T4', stream: 'stdout', text: ' two spaces'},
    ])
  })

  test('--since takes a duration or an RFC 3339 time, and names the problem otherwise', () => {
    const now = Date.parse('2026-12-07T20:00:00Z')
    assert.equal(parseSince('10m', now).toISOString(), '2026-12-07T19:50:00.000Z')
    assert.equal(parseSince('1d', now).toISOString(), '2026-12-06T20:00:00.000Z')
    assert.equal(parseSince('2026-12-07T19:00:00.123456789Z').toISOString(), '2026-12-07T19:00:00.123Z')
    assert.throws(() => parseSince('10 minutes'), /neither a time nor a duration/)
  })

  test('the log is in the pod unless both kubernetes annotations are there; a path may not leave its directory', () => {
    const paths = new PodPaths('/pods/u')
    const app = (annotations: {name: string; value: string}[]) =>
      ({name: 'web', image: {id: 'x'}, readOnlyRootFS: false, mounts: [], annotations}) as never
    const pod = (annotations: {name: string; value: string}[]) => ({annotations}) as never
    const dir = [{name: 'coreos.com/rkt/experiment/kubernetes-log-dir', value: '/var/log/pods/p'}]
    const rel = (v: string) => [{name: 'coreos.com/rkt/experiment/kubernetes-log-path', value: v}]
    assert.equal(appLogging(paths, pod([]), app([])).inPod, '/rkt/logs/web.log')
    assert.equal(appLogging(paths, pod(dir), app([])).file, '/pods/u/stage1/rootfs/rkt/logs/web.log')
    const k = appLogging(paths, pod(dir), app(rel('web/0.log')))
    assert.deepEqual(
      [k.file, k.inPod, k.kubernetesDir],
      ['/var/log/pods/p/web/0.log', '/rkt/kubernetes/log/web/0.log', '/var/log/pods/p'],
    )
    assert.throws(() => appLogging(paths, pod(dir), app(rel('../../etc/x'))), /leaves its directory/)
    const tty = [{name: 'coreos.com/rkt/stage2/stdin', value: 'tty'}]
    assert.throws(() => appLogging(paths, pod([]), app(tty)), /--stdin=tty is not supported/)
    assert.deepEqual(logFiles('/l/a.log'), ['/l/a.log.1', '/l/a.log'])
  })
})

describe('rkt attach: --mode and the entrypoint argv, as rkt', () => {
  test('auto and list; custom endpoints give all five booleans; bad modes are refused', () => {
    assert.deepEqual(attachArgv(attachMode('auto', 'a', false)), ['--action=auto-attach', '--app=a', '--debug=false'])
    assert.deepEqual(attachArgv(attachMode('stdin,stdout', 'a', true)), [
      '--action=custom-attach',
      '--tty-in=false',
      '--tty-out=false',
      '--stdin=true',
      '--stdout=true',
      '--stderr=false',
      '--app=a',
      '--debug=true',
    ])
    assert.deepEqual(parseAttachArgv(attachArgv(attachMode('tty', 'a', false))), {
      action: 'custom-attach',
      app: 'a',
      debug: false,
      ttyIn: true,
      ttyOut: true,
      stdin: false,
      stdout: false,
      stderr: false,
    })
    assert.throws(() => attachMode('stdio', 'a', false), /unknown endpoint "stdio"/)
    assert.throws(() => attachMode('tty,stdin', 'a', false), /mixes a terminal and streams/)
  })
})
