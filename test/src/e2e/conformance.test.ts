// `rkt stage1 test` on the build's engines: the conformance matrix (behaviour x engine) is printed to the test
// output, and every engine passes everything it claims. Then the suite itself: a claim the engine cannot hold
// is reported as a failure, an unclaimed behaviour as unsupported, a required one left unclaimed fails, and
// bad input exits 254.
import type {SuiteReport} from '@rkt/stage1-conformance'
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'

import {ACTOOL, RKT, ROOT, Sandbox} from '../util/harness.js'
import {killPodCgroups, removePodCgroups} from '../util/pods.js'

const IMAGES = path.join(ROOT, 'core', 'dist', 'stage1-images')
const ANNOTATION = 'rkt-ts/stage1/supports/v1'

async function stage1Test(args: readonly string[]): Promise<{code: number; stdout: string; stderr: string}> {
  const r = await execa(RKT, ['stage1', 'test', ...args], {reject: false, stdin: 'ignore'})
  return {code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

async function report(image: string): Promise<{code: number; report: SuiteReport; stderr: string}> {
  const r = await stage1Test(['--format=json', image])
  assert.ok(r.stdout.startsWith('{'), `rkt stage1 test ${image} exited ${r.code}: ${r.stderr}`)
  return {code: r.code, report: JSON.parse(r.stdout) as SuiteReport, stderr: r.stderr}
}

/** A copy of a build's stage1 image whose annotation claims `claims` instead. */
async function withClaims(t: TestContext, engine: string, change: (claims: string[]) => string[]): Promise<string> {
  const s = Sandbox.create(t)
  const from = path.join(IMAGES, `stage1-${engine}.aci`)
  const m = JSON.parse((await execa(ACTOOL, ['cat-manifest', from])).stdout) as {
    annotations: {name: string; value: string}[]
  }
  const ann = m.annotations.find((a) => a.name === ANNOTATION)
  assert.ok(ann, `stage1-${engine}.aci has no ${ANNOTATION} annotation`)
  ann.value = change(ann.value.split(',')).join(',')
  const file = path.join(s.work, 'manifest.json')
  fs.writeFileSync(file, JSON.stringify(m))
  const out = path.join(s.work, `stage1-${engine}-patched.aci`)
  await execa(ACTOOL, ['patch-manifest', `--manifest=${file}`, from, out])
  return out
}

describe('rkt stage1 test', () => {
  test('fly, nspawn, kvm and bwrap pass everything they claim (the conformance matrix)', async (t) => {
    const engines = ['fly', 'nspawn', 'kvm', 'bwrap'] as const
    const reports: Record<string, SuiteReport> = {}
    const failures: string[] = []
    for (const e of engines) {
      const r = await report(path.join(IMAGES, `stage1-${e}.aci`))
      reports[e] = r.report
      assert.equal(r.code, r.report.ok ? 0 : 1, `exit code against "ok" of ${e}`)
      for (const b of r.report.behaviours) if (b.result === 'fail') failures.push(`${e} ${b.id}: ${b.detail}`)
    }
    const ids = reports['fly']!.behaviours.map((b) => b.id)
    const w = Math.max(...ids.map((i) => i.length))
    t.diagnostic(`${'behaviour'.padEnd(w)}  ${engines.map((e) => e.padEnd(11)).join(' ')}`)
    for (const id of ids)
      t.diagnostic(
        `${id.padEnd(w)}  ${engines.map((e) => reports[e]!.behaviours.find((b) => b.id === id)!.result.padEnd(11)).join(' ')}`,
      )
    t.diagnostic(
      `${'time (s)'.padEnd(w)}  ${engines.map((e) => (reports[e]!.durationMs / 1000).toFixed(1).padEnd(11)).join(' ')}`,
    )
    assert.deepEqual(failures, [], 'claimed behaviours that fail')
  })

  test('a claim the engine cannot hold fails; an unclaimed behaviour is unsupported; a required one must be claimed', async (t) => {
    // fly runs in the host's network namespace and claims no private network; here it claims one, and drops
    // its claims of interactive (optional) and status (required).
    const image = await withClaims(t, 'fly', (c) => [
      ...c.filter((x) => x !== 'interactive' && x !== 'status'),
      'private-network',
      'no-such-behaviour',
    ])
    const r = await report(image)
    assert.equal(r.code, 1, r.stderr)
    const by = (id: string) => r.report.behaviours.find((b) => b.id === id)!
    assert.equal(r.report.ok, false)
    assert.equal(by('private-network').result, 'fail')
    assert.match(
      by('private-network').detail,
      /a network namespace of its own: expected not net:\[\d+\], seen net:\[\d+\]/,
    )
    assert.equal(by('interactive').result, 'unsupported')
    assert.equal(by('interactive').detail, `not claimed in ${ANNOTATION}`)
    assert.deepEqual(by('interactive').checks, [])
    assert.equal(by('status').result, 'fail')
    assert.match(by('status').detail, /^required, but not claimed/)
    assert.deepEqual(r.report.unknownClaims, ['no-such-behaviour'])
    assert.equal(by('exit-codes').result, 'pass', by('exit-codes').detail)
  })

  test('a stage1 whose gc leaves its pods behind fails gc-clean, naming what is left', async (t) => {
    // fly with a gc entrypoint that does nothing: the pods' cgroups stay.
    const s = Sandbox.create(t)
    const layout = path.join(s.work, 'nogc')
    fs.mkdirSync(layout)
    await execa('tar', ['-xf', path.join(IMAGES, 'stage1-fly.aci'), '-C', layout])
    const m = JSON.parse(fs.readFileSync(path.join(layout, 'manifest'), 'utf8')) as {
      annotations: {name: string; value: string}[]
    }
    m.annotations.find((a) => a.name === 'coreos.com/rkt/stage1/gc')!.value = '/nogc'
    fs.writeFileSync(path.join(layout, 'manifest'), JSON.stringify(m))
    fs.writeFileSync(path.join(layout, 'rootfs', 'nogc'), '#!/bin/sh\nexit 0\n', {mode: 0o755})
    const image = path.join(s.work, 'stage1-fly-nogc.aci')
    await execa(ACTOOL, ['build', layout, image])
    const r = await report(image)
    const gc = r.report.behaviours.find((b) => b.id === 'gc-clean')!
    for (const uuid of new Set(gc.detail.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g))) {
      await killPodCgroups(uuid)
      removePodCgroups(uuid)
    }
    assert.equal(r.code, 1, r.stderr)
    assert.equal(gc.result, 'fail')
    assert.match(gc.detail, /cgroups: \/sys\/fs\/cgroup\/\S+\/[0-9a-f-]{36}/)
  })

  test('the human output is a table of behaviour, result and detail', async (t) => {
    const image = await withClaims(t, 'fly', () => ['exit-codes'])
    const r = await stage1Test([image])
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stdout.split('\n')
    assert.match(lines[1]!, /^BEHAVIOUR\s+RESULT\s+DETAIL$/)
    assert.match(r.stdout, /^exit-codes\*\s+pass\s+\d+ checks$/m)
    assert.match(r.stdout, /^status\*\s+fail\s+required, but not claimed/m)
    assert.match(r.stdout, /^multi-app\s+unsupported\s+not claimed in rkt-ts\/stage1\/supports\/v1$/m)
  })

  test('bad input: a missing image or one that is no stage1 exits 254, naming the problem', async (t) => {
    const missing = await stage1Test(['/nonexistent/stage1.aci'])
    assert.equal(missing.code, 254)
    assert.match(missing.stderr, /no such stage1 image: \/nonexistent\/stage1\.aci/)
    const s = Sandbox.create(t)
    const layout = path.join(s.work, 'layout')
    fs.mkdirSync(path.join(layout, 'rootfs'), {recursive: true})
    fs.writeFileSync(
      path.join(layout, 'manifest'),
      JSON.stringify({acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/not-a-stage1'}),
    )
    const aci = path.join(s.work, 'app.aci')
    await execa(ACTOOL, ['build', layout, aci])
    const app = await stage1Test([aci])
    assert.equal(app.code, 254)
    assert.match(app.stderr, /is not a stage1 image: its manifest names no run entrypoint/)
    assert.equal(app.stdout, '')
  })
})
