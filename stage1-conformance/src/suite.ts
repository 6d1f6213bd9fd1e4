// The conformance suite: reads what a stage1 image claims, runs the pods that check it (a few at a time),
// collects everything with `rkt gc` and looks for what the pods left on the host, and reports per behaviour.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {run, start, type Command, type Started} from './cli.js'
import {ConformanceInputError} from './errors.js'
import {buildFixtures} from './fixtures.js'
import {leftovers, snapshot} from './host-state.js'
import {SCENARIOS} from './pods.js'
import {SYSTEMD_SCENARIO} from './systemd.js'
import {Session, type CheckResult} from './session.js'
import {BEHAVIOURS, parseClaims, SUPPORTS_ANNOTATION} from './vocabulary.js'

export interface SuiteOptions {
  /** The stage1 image under test (an .aci file). */
  readonly image: string
  /** How to run the rkt and actool CLIs (a program, possibly with leading arguments). */
  readonly rkt: Command
  readonly actool: Command
  /** Pods run at once (default 3). */
  readonly concurrency?: number
  /** Progress lines, as pods finish. */
  readonly log?: (line: string) => void
}

export type Outcome = 'pass' | 'fail' | 'unsupported'

/** One behaviour's result: `detail` says why it failed (expected / seen) or why it was not checked. */
export interface BehaviourReport {
  readonly id: string
  readonly required: boolean
  readonly claimed: boolean
  readonly result: Outcome
  readonly detail: string
  readonly checks: readonly Omit<CheckResult, 'behaviour'>[]
}

/** The suite's report (`rkt stage1 test --format=json`), format version 1. */
export interface SuiteReport {
  readonly formatVersion: 1
  readonly image: string
  readonly name: string
  readonly version: string
  readonly annotation: typeof SUPPORTS_ANNOTATION
  readonly claimed: readonly string[]
  /** Claimed IDs the vocabulary does not know (ignored). */
  readonly unknownClaims: readonly string[]
  /** True when every claimed behaviour passed and every required one is claimed. */
  readonly ok: boolean
  readonly durationMs: number
  /** How long each pod of the suite took, in ms, by name (and `gc`). */
  readonly timings: Readonly<Record<string, number>>
  readonly behaviours: readonly BehaviourReport[]
}

interface StageManifest {
  name?: string
  labels?: {name: string; value: string}[]
  annotations?: {name: string; value: string}[]
}

/** The image's manifest, or an input error naming what is wrong with the file. */
async function readManifest(actool: Command, image: string): Promise<StageManifest> {
  if (!fs.existsSync(image))
    throw new ConformanceInputError(`no such stage1 image: ${image}`, {hint: 'give the path of a stage1 .aci file'})
  const r = await run(actool, ['cat-manifest', image])
  let m: StageManifest | undefined
  try {
    m = r.code === 0 ? (JSON.parse(r.stdout) as StageManifest) : undefined
  } catch {
    // not JSON: reported below
  }
  if (m === undefined)
    throw new ConformanceInputError(`${image} is not an image: ${r.stderr.trim()}`, {hint: 'give a stage1 .aci file'})
  if (!m.annotations?.some((a) => a.name === 'coreos.com/rkt/stage1/run'))
    throw new ConformanceInputError(`${image} is not a stage1 image: its manifest names no run entrypoint`, {
      hint: 'a stage1 image has the annotation coreos.com/rkt/stage1/run (docs/stage1.md)',
    })
  return m
}

const MDS_SOCKET = '/run/rkt/metadata-svc.sock'

function mdsAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(MDS_SOCKET)
    c.once('connect', () => (c.destroy(), resolve(true)))
    c.once('error', () => resolve(false))
  })
}

/** `--mds-register` needs a metadata service on rkt's socket: the host's, or one started for the suite. */
async function ensureMds(rkt: Command): Promise<Started | undefined> {
  if (await mdsAnswers()) return undefined
  const mds = start(rkt, ['metadata-service'], {timeoutMs: 3_600_000})
  for (let i = 0; i < 500 && !(await mdsAnswers()); i++) await sleep(10)
  return mds
}

/** Runs `fns` with at most `n` at once. */
async function pool(n: number, fns: (() => Promise<void>)[]): Promise<void> {
  const queue = [...fns]
  await Promise.all(
    Array.from({length: Math.min(n, queue.length)}, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) await f()
    }),
  )
}

function summarise(id: string, required: boolean, claimed: boolean, checks: CheckResult[]): BehaviourReport {
  const mine = checks.filter((c) => c.behaviour === id).map(({behaviour: _, ...c}) => c)
  const failed = mine.filter((c) => !c.ok)
  const base = {id, required, claimed, checks: mine}
  // A pod may have looked at it anyway (the probe's mount points): not checked means not reported.
  if (!claimed && !required)
    return {...base, checks: [], result: 'unsupported', detail: `not claimed in ${SUPPORTS_ANNOTATION}`}
  const why = failed.map((c) => `${c.check}: expected ${c.expected}, seen ${c.seen}`)
  if (!claimed) why.unshift(`required, but not claimed in ${SUPPORTS_ANNOTATION}`)
  if (mine.length === 0) why.push('no check ran')
  return why.length === 0
    ? {...base, result: 'pass', detail: `${mine.length} check${mine.length === 1 ? '' : 's'}`}
    : {...base, result: 'fail', detail: why.join('; ')}
}

/** Collects the suite's pods and checks that nothing of them is left on the host. */
async function gcClean(s: Session, before: ReturnType<typeof snapshot>): Promise<void> {
  const b = 'gc-clean'
  // A pod a failed check left running (a stop that did not stop) must not keep gc from collecting the rest.
  for (const uuid of s.uuids) await s.rkt(['stop', '--force', uuid], {timeoutMs: 60_000})
  const gc = await s.rkt(['gc', '--grace-period=0s'], {timeoutMs: 120_000})
  s.expect(b, 'rkt gc exit code', '0', String(gc.code) + (gc.code === 0 ? '' : `: ${gc.stderr.trim()}`))
  const list = await s.rkt(['list', '--no-legend'])
  s.expect(b, 'rkt list after gc', '(nothing)', list.stdout.trim() || undefined)
  const pods = path.join(s.data, 'pods')
  const left = fs.existsSync(pods) ? fs.readdirSync(pods).flatMap((st) => fs.readdirSync(path.join(pods, st))) : []
  s.expect(b, 'pod directories after gc', '(nothing)', left.join(', ') || undefined)
  const found = leftovers(before, snapshot(), [...s.uuids, s.data], (m) => m.endsWith(` ${pods}`))
  s.expect(
    b,
    'mounts, cgroups, netns, iptables rules, processes of the pods',
    '(nothing)',
    found.join('; ') || undefined,
  )
}

/** Unmounts what is left under the session's directory (the pods/ fence) and deletes it. */
function removeSession(dir: string): string | undefined {
  const mounts = () =>
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${dir}/`))
  for (let i = 0; i < 10 && mounts().length > 0; i++)
    for (const m of mounts().sort((a, b) => b.length - a.length))
      try {
        execFileSync('umount', [m], {stdio: 'ignore'})
      } catch {
        // busy, or gone already: the next round sees
      }
  if (mounts().length > 0) return `kept ${dir}: still mounted: ${mounts().join(', ')}`
  execFileSync('rm', ['-rf', '--one-file-system', dir])
  return undefined
}

/** Runs the suite on a stage1 image. Throws ConformanceInputError for bad input, before any pod runs. */
export async function runSuite(opts: SuiteOptions): Promise<SuiteReport> {
  const t0 = performance.now()
  const image = path.resolve(opts.image)
  const manifest = await readManifest(opts.actool, image)
  const claimed = parseClaims(manifest.annotations?.find((a) => a.name === SUPPORTS_ANNOTATION)?.value)
  const known = new Set(BEHAVIOURS.map((b) => b.id))
  const checked = (id: string): boolean => claimed.includes(id) || !!BEHAVIOURS.find((b) => b.id === id)?.required
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-conformance-'))
  const s = new Session(dir, opts.rkt, image)
  const timings: Record<string, number> = {}
  const log = opts.log ?? (() => {})
  const before = snapshot()
  const mds = await ensureMds(opts.rkt)
  try {
    const fixtures = await buildFixtures(opts.actool, path.join(dir, 'images'))
    const fetched = await s.rkt(['fetch', fixtures.plain, fixtures.probe, fixtures.notify])
    if (fetched.code !== 0) throw new Error(`rkt fetch of the suite's images failed: ${fetched.stderr.trim()}`)
    const scenarios = [...SCENARIOS, SYSTEMD_SCENARIO].filter((sc) => sc.behaviours.some(checked))
    await pool(
      opts.concurrency ?? 3,
      scenarios.map((sc) => async () => {
        const t = performance.now()
        try {
          await sc.run(s, checked)
        } catch (err) {
          s.cannot(sc.behaviours, `the ${sc.name} pod`, (err as Error).message)
        }
        timings[sc.name] = Math.round(performance.now() - t)
        log(`${sc.name}: ${timings[sc.name]} ms`)
      }),
    )
    const t = performance.now()
    await gcClean(s, before)
    timings['gc'] = Math.round(performance.now() - t)
  } finally {
    mds?.child.kill('SIGTERM')
    await mds?.done
    const kept = removeSession(dir)
    if (kept !== undefined) s.cannot(['gc-clean'], 'removing the suite’s directory', kept)
  }
  const behaviours = BEHAVIOURS.map((b) => summarise(b.id, b.required, claimed.includes(b.id), s.results))
  return {
    formatVersion: 1,
    image,
    name: manifest.name ?? '',
    version: manifest.labels?.find((l) => l.name === 'version')?.value ?? '',
    annotation: SUPPORTS_ANNOTATION,
    claimed,
    unknownClaims: claimed.filter((c) => !known.has(c)),
    ok: behaviours.every((b) => b.result !== 'fail'),
    durationMs: Math.round(performance.now() - t0),
    timings,
    behaviours,
  }
}
