// Helpers for the pod end-to-end tests: images built once per test process from busybox-static and fetched
// into each sandbox, pods started in the background (their processes always killed after the test), and
// what the host sees of a pod: its directory, its processes, its mounts and its lock.
import {PodPaths} from '@rkt/core/stage1'
import {teardownPodNetworks} from '@rkt/net-plugins'
import {readMountinfo} from '@rkt/core/sys/mounts'
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {TestContext} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {ACTOOL, makeLayout, RKT, ROOT, Sandbox, type LayoutSpec} from './harness.js'

/** An image layout plus what its manifest's app section should carry besides exec, user and group. */
export interface PodImageSpec extends LayoutSpec {
  /** Merged into the manifest's `app` (environment, workingDirectory, mountPoints, user, group, …). */
  readonly app?: Readonly<Record<string, unknown>>
  /** Symlinks in the rootfs: path → target, made after the files (they may replace a directory). */
  readonly symlinks?: Readonly<Record<string, string>>
}

const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-images-'))
process.on('exit', () => fs.rmSync(imageDir, {recursive: true, force: true}))
const built = new Map<string, Promise<string>>()

/** Builds the ACI of a spec once per test process (the same spec gives the same file). */
export function buildAci(spec: PodImageSpec): Promise<string> {
  const key = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16)
  let p = built.get(key)
  if (!p) {
    p = (async () => {
      const dir = makeLayout(path.join(imageDir, `layout-${key}`), spec)
      for (const [p, target] of Object.entries(spec.symlinks ?? {})) {
        const at = path.join(dir, 'rootfs', p)
        fs.mkdirSync(path.dirname(at), {recursive: true})
        fs.rmSync(at, {recursive: true, force: true})
        fs.symlinkSync(target, at)
      }
      if (spec.app) {
        const file = path.join(dir, 'manifest')
        const m = JSON.parse(fs.readFileSync(file, 'utf8')) as {app: Record<string, unknown>}
        m.app = {...m.app, ...spec.app}
        fs.writeFileSync(file, JSON.stringify(m, null, 2))
      }
      const aci = path.join(imageDir, `${key}.aci`)
      const r = await execa(ACTOOL, ['build', dir, aci], {reject: false, stdin: 'ignore'})
      assert.equal(r.exitCode, 0, `actool build: ${String(r.stderr)}`)
      return aci
    })()
    built.set(key, p)
  }
  return p
}

function spawnRkt(s: Sandbox, args: readonly string[], opts: {detached: boolean; env?: Record<string, string>}) {
  return execa(RKT, [...s.globals, ...args], {
    reject: false,
    stdin: 'ignore',
    detached: opts.detached,
    cwd: s.work,
    env: {...opts.env},
  })
}

/** A started `rkt run`: its process (the PID its caller got) and its pod. */
export interface StartedPod {
  readonly proc: ReturnType<typeof spawnRkt>
  readonly pid: number
  readonly uuid: string
  /** rkt leads its own process group (its PID is the group's ID). */
  readonly detached: boolean
}

/** A sandbox for pods: images, pod paths, background pods that are always killed after the test. */
export class PodSandbox {
  private readonly started: StartedPod[] = []
  /** Pods started by runInPty: their cgroups' processes are killed after the test (even once gc took them). */
  private readonly adopted: string[] = []

  private constructor(readonly s: Sandbox) {}

  /**
   * Registers the killing of the test's pods before the sandbox's own cleanup (after hooks run in order).
   * `stage1`: the engine the sandbox's pods run with (a stage1.d configuration), else the build's default.
   */
  static create(t: TestContext, opts: {stage1?: 'fly' | 'nspawn' | 'kvm' | 'bwrap'} = {}): PodSandbox {
    const made: {ps?: PodSandbox} = {}
    t.after(async () => made.ps?.killAll())
    made.ps = new PodSandbox(Sandbox.create(t))
    if (opts.stage1) made.ps.s.selectStage1(opts.stage1)
    return made.ps
  }

  get data(): string {
    return this.s.data
  }

  /** Builds (once per process) and fetches an image; returns its name and full ID. */
  async image(spec: PodImageSpec): Promise<{name: string; id: string}> {
    const aci = await buildAci(spec)
    const r = await this.s.rkt(['--insecure-options=image', 'fetch', '--full', aci])
    assert.equal(r.exitCode, 0, r.stderr)
    const id = r.stdout.trim()
    assert.match(id, /^sha512-[0-9a-f]{128}$/)
    return {name: spec.name, id}
  }

  /** Runs rkt to completion. */
  rkt(args: readonly string[], opts: {env?: Record<string, string>; input?: string} = {}) {
    return this.s.rkt(args, opts)
  }

  /**
   * Starts `rkt ARGS…` in the background (args must make a pod: run, or run-prepared with `uuid`) and waits
   * until the app has signalled readiness by creating `readyFile` (a path inside the app), or, without it,
   * until the pod's supervisor is ready. `detached`: rkt leads a process group of its own.
   */
  async start(
    args: readonly string[],
    opts: {readyFile?: string; detached?: boolean; uuid?: string; env?: Record<string, string>} = {},
  ): Promise<StartedPod> {
    const uuidFile = path.join(this.s.work, `uuid-${crypto.randomUUID()}`)
    // After the command's words: `run`, `app sandbox`.
    const at = args[0] === 'app' ? 2 : 1
    const full =
      opts.uuid === undefined ? [...args.slice(0, at), `--uuid-file-save=${uuidFile}`, ...args.slice(at)] : [...args]
    const proc = spawnRkt(this.s, full, {detached: opts.detached ?? false, ...(opts.env ? {env: opts.env} : {})})
    let exited = false
    void proc.then(() => (exited = true))
    const pid = proc.pid!
    const fail = async (what: string): Promise<never> => {
      const r = await proc
      throw new Error(`rkt ${full.join(' ')} exited (${r.exitCode}) before ${what}: ${String(r.stderr)}`)
    }
    const uuid =
      opts.uuid ??
      (await this.poll(
        () => (fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''),
        () => exited,
      ))
    if (uuid === undefined || uuid === '') return fail('writing its UUID')
    const pod: StartedPod = {proc, pid, uuid, detached: opts.detached ?? false}
    this.started.push(pod)
    const ready = await this.poll(
      async () => {
        try {
          // The app may make its ready file before the engine has recorded its PID: wait for both.
          if (!this.supervisorReady(uuid)) return false
          if (opts.readyFile === undefined || fs.existsSync(this.appPath(uuid, opts.readyFile))) return true
        } catch {
          return false // not laid out yet
        }
        // A kvm pod's app root is a disk of the VM, not a host directory: ask inside.
        if (!fs.existsSync(path.join(this.podPath(uuid), 'kvm'))) return false
        const r = await this.rkt(['enter', uuid, '/bin/sh', '-c', `test -e ${shQuote(opts.readyFile)}`])
        return r.exitCode === 0
      },
      () => exited,
    )
    if (!ready) return fail('its app was ready')
    return pod
  }

  /** Polls `get` every 10 ms until it gives something truthy, `gaveUp` says stop, or 30 s pass (a VM boots). */
  private async poll<T>(get: () => T | Promise<T>, gaveUp: () => boolean): Promise<T | undefined> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const v = await get()
      if (v) return v
      if (gaveUp() || Date.now() > deadline) return undefined
      await sleep(10)
    }
  }

  private supervisorReady(uuid: string): boolean {
    try {
      return fs.readlinkSync(path.join(this.podPath(uuid), 'stage1', 'rootfs', 'rkt', 'supervisor-status')) === 'ready'
    } catch {
      return false
    }
  }

  /** The pod's directory in whatever state directory it is now (undefined once deleted). */
  podDir(uuid: string): string | undefined {
    const root = path.join(this.s.data, 'pods')
    for (const state of ['embryo', 'prepare', 'prepared', 'run', 'exited-garbage', 'garbage']) {
      const p = path.join(root, state, uuid)
      if (fs.existsSync(p)) return p
    }
    return undefined
  }

  /** The pod's directory, which must exist. */
  podPath(uuid: string): string {
    const p = this.podDir(uuid)
    assert.ok(p, `pod ${uuid} has no directory`)
    return p
  }

  /** The state directory the pod is in (`run`, `exited-garbage`, …), or undefined once deleted. */
  podState(uuid: string): string | undefined {
    const p = this.podDir(uuid)
    return p === undefined ? undefined : path.basename(path.dirname(p))
  }

  /** Host path of `p` inside the (only) app's rootfs of a pod. */
  appPath(uuid: string, p: string, app?: string): string {
    const apps = path.join(this.podPath(uuid), 'stage1', 'rootfs', 'opt', 'stage2')
    const name = app ?? fs.readdirSync(apps)[0]!
    return path.join(apps, name, 'rootfs', p)
  }

  /** A number file of the pod directory (pid, pgid). */
  podNumber(uuid: string, file: 'pid' | 'pgid'): number {
    const n = Number(fs.readFileSync(path.join(this.podPath(uuid), file), 'utf8').trim())
    assert.ok(Number.isInteger(n) && n > 0, `${file} of pod ${uuid}`)
    return n
  }

  /**
   * Kills what the test started and is still alive: the process group of a detached pod; else the pod's
   * app, recognised by its root directory being this pod's app rootfs (it may have outlived rkt), and rkt
   * (fly-exec). Then waits for rkt, whose output pipes close only once nothing holds them.
   */
  async killAll(): Promise<void> {
    const kill = (p: number): void => {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    for (const pod of this.started) {
      if (pod.detached) kill(-pod.pid)
      // Engines that give a pod cgroups (nspawn): everything in them, whoever its parent is.
      await killPodCgroups(pod.uuid)
      const dir = this.podDir(pod.uuid)
      if (dir) {
        let app = 0
        try {
          app = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8').trim())
        } catch {
          // not started
        }
        let root = ''
        try {
          root = fs.readlinkSync(`/proc/${app}/root`)
        } catch {
          // gone
        }
        if (app > 0 && root.startsWith(`${path.join(dir, 'stage1', 'rootfs', 'opt', 'stage2')}/`)) kill(app)
      }
      if (pod.proc.exitCode === null && pod.proc.signalCode === null) kill(pod.pid)
      const done = await Promise.race([
        pod.proc.then(() => true),
        sleep(10_000, undefined, {ref: false}).then(() => false),
      ])
      if (!done)
        throw new Error(`rkt (pid ${pod.pid}, pod ${pod.uuid}) did not finish: something still holds its output`)
      removePodCgroups(pod.uuid)
    }
    // Every other pod of the sandbox (run to completion, or by runInPty): an engine keeps a pod's cgroups until
    // gc, and the sandbox goes without one.
    const pods = path.join(this.s.data, 'pods')
    const others = new Set(this.adopted)
    for (const state of fs.existsSync(pods) ? fs.readdirSync(pods) : [])
      for (const uuid of fs.readdirSync(path.join(pods, state))) others.add(uuid)
    for (const uuid of others) {
      await killPodCgroups(uuid)
      removePodCgroups(uuid)
    }
    // Contained networks outlive the pod's processes (veth, routes, masquerade and port rules) until gc: a
    // test that did not gc its pods has them torn down here, as the nspawn gc entrypoint does.
    for (const state of fs.existsSync(pods) ? fs.readdirSync(pods) : [])
      for (const uuid of fs.readdirSync(path.join(pods, state)))
        await teardownPodNetworks(new PodPaths(path.join(pods, state, uuid)))
  }

  /**
   * Runs `rkt run ARGS…` under a pseudo-terminal (util-linux `script`), typing `input` into it: what
   * `--interactive` needs, since the test runner has no terminal. The output is the terminal's (CRLF line
   * ends, echoed input). Gives up after `timeoutMs`; the pod's processes are killed after the test.
   */
  async runInPty(
    args: readonly string[],
    input: string,
    timeoutMs = 30_000,
  ): Promise<{exitCode: number; output: string; uuid: string}> {
    const run = this.startInPty(args, {timeoutMs})
    run.type(input)
    return run.end()
  }

  /** `rkt run ARGS…` on a pseudo-terminal the test types into and resizes while it runs (PtyRun). */
  startInPty(args: readonly string[], opts: {env?: Record<string, string>; timeoutMs?: number} = {}): PtyRun {
    const uuidFile = path.join(this.s.work, `uuid-${crypto.randomUUID()}`)
    const cmd = [RKT, ...this.s.globals, 'run', `--uuid-file-save=${uuidFile}`, ...args].map(shQuote).join(' ')
    return new PtyRun(cmd, {cwd: this.s.work, env: opts.env ?? {}, timeoutMs: opts.timeoutMs ?? 60_000}, () => {
      const uuid = fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''
      if (uuid) this.adopted.push(uuid)
      return uuid
    })
  }

  /**
   * A shell pod (`--interactive`, STAGE1 the stage1 flag) on a terminal, seen running, then ^] typed three times:
   * how `rkt run` ended, and the app's exit code in `rkt status` (the JSON's and the text's, which must agree).
   */
  async escapeInteractive(
    stage1: string,
    image: string,
  ): Promise<{exitCode: number; output: string; uuid: string; app?: string}> {
    const run = this.startInPty([stage1, '--interactive', image, '--exec=/bin/sh'])
    run.type('echo up-$((6*7))\n')
    await run.expect(/^up-42\r?$/m)
    run.type('\x1d\x1d\x1d')
    const r = await run.end()
    const status = await this.statusJson(r.uuid)
    assert.equal(status.state, 'exited')
    const text = statusPairs((await this.s.rkt(['status', r.uuid])).stdout).find(([k]) => k.startsWith('app-'))
    assert.equal(text?.[1], String(status.apps?.[0]?.exit_code), JSON.stringify(status))
    return {...r, ...(text ? {app: text[1]} : {})}
  }

  /** `rkt status --format=json UUID`, parsed (rkt's v1.Pod). */
  async statusJson(uuid: string): Promise<PodStatusJson> {
    const r = await this.s.rkt(['status', '--format=json', uuid])
    assert.equal(r.exitCode, 0, `rkt status --format=json: ${r.stderr}`)
    return JSON.parse(r.stdout) as PodStatusJson
  }
}

/**
 * `rkt run` on the pseudo-terminal of util-linux `script`, driven as a user at a terminal would: typing, waiting for
 * what the screen shows, resizing the window. The output is the terminal's (CRLF line ends, echoed input).
 */
export class PtyRun {
  output = ''
  private readonly proc
  constructor(
    cmd: string,
    opts: {cwd: string; env: Record<string, string>; timeoutMs: number},
    private readonly uuid: () => string,
  ) {
    // The input stays open until the end, as a terminal would: at EOF script would pass an end-of-file on.
    const {cwd, env, timeoutMs: timeout} = opts
    const proc = execa('script', ['-qfec', cmd, '/dev/null'], {reject: false, cwd, env, timeout})
    this.proc = proc
    proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()))
    proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()))
  }

  type(text: string): void {
    this.proc.stdin?.write(text)
  }

  /** Waits until the output (from offset `from`) matches `re`; fails after `ms` showing what came. */
  async expect(re: RegExp, ms = 60_000, from = 0): Promise<RegExpMatchArray> {
    const until = Date.now() + ms
    for (;;) {
      const m = this.output.slice(from).match(re)
      if (m) return m
      if (Date.now() > until || this.proc.exitCode !== null)
        throw new Error(`the terminal never showed ${String(re)}; it shows:\n${this.output}`)
      await sleep(50)
    }
  }

  /**
   * Resizes the terminal as a window would: the kernel gives its foreground process (rkt run, and what it
   * became) SIGWINCH. `stty -F` on the terminal `script`'s child holds.
   */
  async resize(rows: number, cols: number): Promise<void> {
    let terminal: string | undefined
    await waitFor(() => {
      const kids = fs.readFileSync(`/proc/${this.proc.pid}/task/${this.proc.pid}/children`, 'utf8').trim()
      terminal = kids ? fs.readlinkSync(`/proc/${kids.split(' ')[0]}/fd/0`) : undefined
      return terminal?.startsWith('/dev/pts/') === true // not yet when script has only just forked
    }, 10_000)
    assert.ok(terminal?.startsWith('/dev/pts/'), `script's child has no terminal: ${terminal}`)
    await execa('stty', ['-F', terminal!, 'rows', String(rows), 'cols', String(cols)])
  }

  /** Waits for rkt run to end: its exit code, the whole output and the pod's UUID. */
  async end(): Promise<{exitCode: number; output: string; uuid: string}> {
    const r = await this.proc
    const uuid = this.uuid()
    if (r.timedOut) throw new Error(`rkt run under a terminal did not finish in time: ${this.output}`)
    return {exitCode: r.exitCode ?? -1, output: this.output, uuid}
  }
}

/** rkt's v1.Pod as `status --format=json` prints it (the fields these tests read). */
export interface PodStatusJson {
  name: string
  state: string
  app_names?: string[]
  apps?: {name: string; state: string; exit_code?: number; [field: string]: unknown}[]
  [field: string]: unknown
}

/** The mounted cgroup hierarchies (v1 controllers and the v2/unified mount), by real path, each once. */
export function cgroupHierarchies(): string[] {
  const seen = new Set<string>()
  for (const m of readMountinfo()) {
    if (m.fsType !== 'cgroup' && m.fsType !== 'cgroup2') continue
    try {
      seen.add(fs.realpathSync(m.mountPoint))
    } catch {
      // not reachable from here
    }
  }
  return [...seen]
}

/**
 * Every cgroup directory of a pod: directories named after its UUID anywhere in any hierarchy (the
 * engine's `<hierarchy>/rkt/<uuid>`, wherever it put it), with their subdirectories.
 */
export function podCgroups(uuid: string): string[] {
  const out: string[] = []
  const walk = (dir: string, depth: number, inPod: boolean): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true})
    } catch {
      return // removed while we looked
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue
      const p = path.join(dir, e.name)
      const pod = inPod || e.name === uuid
      if (pod) out.push(p)
      if (pod || depth < 6) walk(p, depth + 1, pod)
    }
  }
  for (const h of cgroupHierarchies()) walk(h, 0, false)
  return out
}

/** The PIDs in a pod's cgroups (any hierarchy, any depth). */
export function podCgroupPids(uuid: string): number[] {
  const pids = new Set<number>()
  for (const dir of podCgroups(uuid)) {
    try {
      for (const l of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (/^\d+$/.test(l)) pids.add(Number(l))
    } catch {
      // removed while we looked
    }
  }
  return [...pids]
}

/** SIGKILLs everything in a pod's cgroups until they are empty (a few rounds, for forks in flight). */
export async function killPodCgroups(uuid: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = podCgroupPids(uuid).filter(alive)
    if (pids.length === 0) return
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL')
      } catch {
        // gone already
      }
    }
    await sleep(20)
  }
  throw new Error(`processes of pod ${uuid} survive SIGKILL: ${podCgroupPids(uuid).join(' ')}`)
}

/** Removes a pod's (empty) cgroups, deepest first, so a test leaves none behind whatever the engine did. */
export function removePodCgroups(uuid: string): void {
  for (const dir of podCgroups(uuid).sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

/** What is left of a pod on the host: mounts, cgroups and processes that name it or live in it. */
export interface PodTraces {
  /** Lines of /proc/self/mountinfo that mention the pod's UUID or directory. */
  readonly mounts: string[]
  readonly cgroups: string[]
  /** Processes in its cgroups, or whose command line names its UUID, or whose root or cwd is in its directory. */
  readonly processes: string[]
}

/** Traces of a pod (see PodTraces); `dir` is the pod directory it had (it may be gone). */
export function podTraces(uuid: string, dir: string): PodTraces {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(uuid) || l.includes(dir))
  const inCgroups = new Set(podCgroupPids(uuid))
  const processes: string[] = []
  for (const p of allProcs()) {
    if (p.pid === process.pid) continue
    let why = inCgroups.has(p.pid) ? 'in its cgroups' : ''
    try {
      if (!why && fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(uuid)) why = 'names it'
      for (const link of ['root', 'cwd']) {
        const target = fs.readlinkSync(`/proc/${p.pid}/${link}`)
        if (!why && (target === dir || target.startsWith(`${dir}/`))) why = `${link} in it`
      }
    } catch {
      // gone, or a kernel thread
    }
    if (why) processes.push(`${p.pid} ${p.comm} (${why})`)
  }
  return {mounts, cgroups: podCgroups(uuid), processes}
}

/** One process as /proc shows it. */
export interface ProcInfo {
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  readonly comm: string
  readonly exe: string
}

/** /proc/<pid> as ProcInfo, or undefined when there is no such process (or it is a zombie being reaped). */
export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (f[0] === 'Z') return undefined
    let exe = ''
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`)
    } catch {
      // kernel thread, or gone
    }
    return {pid, ppid: Number(f[1]), pgid: Number(f[2]), comm, exe}
  } catch {
    return undefined
  }
}

/** Every live process on the host. */
export function allProcs(): ProcInfo[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map((n) => procInfo(Number(n)))
    .filter((p): p is ProcInfo => p !== undefined)
}

/** `pid` and all its descendants. */
export function processTree(pid: number): ProcInfo[] {
  const procs = allProcs()
  const out: ProcInfo[] = []
  const add = (p: number): void => {
    const me = procs.find((x) => x.pid === p)
    if (me) out.push(me)
    for (const c of procs.filter((x) => x.ppid === p)) add(c.pid)
  }
  add(pid)
  return out
}

/** True while a process exists (zombies count as gone). */
export function alive(pid: number): boolean {
  return procInfo(pid) !== undefined
}

/**
 * Mount points at or below `dir` in this mount namespace, but for a data directory's pods/ fence: the two
 * binds of pods/ on itself its first pod made, which stay (core/src/pod/pods.ts).
 */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir)
  return readMountinfo()
    .filter((m) => !(m.mountPoint.endsWith('/pods') && m.root === m.mountPoint))
    .map((m) => m.mountPoint)
    .filter((m) => m === root || m.startsWith(`${root}/`))
}

/** The PIDs holding a flock(2) on `file` (from /proc/locks, matched by inode and device). */
export function flockHolders(file: string): number[] {
  const st = fs.statSync(file)
  // st.dev is the kernel's new_encode_dev(); /proc/locks prints MAJOR:MINOR in hex.
  const major = (st.dev >> 8) & 0xfff
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)
  const dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === 'FLOCK' && f[5] === `${dev}:${st.ino}`)
    .map((f) => Number(f[4]))
}

/** Polls `cond` every 10 ms for up to `ms`; returns whether it became true. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (cond()) return true
    if (Date.now() > deadline) return false
    await sleep(10)
  }
}

/** The `key=value` lines of `rkt status`, in order. */
export function statusPairs(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const i = l.indexOf('=')
      assert.ok(i > 0, `a key=value line: ${JSON.stringify(l)}`)
      return [l.slice(0, i), l.slice(i + 1)]
    })
}

/** The base image of these tests: busybox as /bin/busybox and /bin/sh, plus a marker file only the image has. */
export const BASE: PodImageSpec = {
  name: 'example.com/pod-base',
  version: '1.0',
  files: {'/etc/marker': 'from the image\n'},
}

/** `--exec=/bin/sh -- -c SCRIPT`: per-app arguments to run a shell script in the app. */
export const sh = (script: string): string[] => ['--exec=/bin/sh', '--', '-c', script]

/** The nspawn stage1 image the build makes, and the flag that chooses it explicitly. */
export const NSPAWN_STAGE1 = path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-nspawn.aci')
export const NSPAWN = `--stage1-path=${NSPAWN_STAGE1}`

/** The `Key:\tvalue` lines of a /proc/<pid>/status text, as a map. */
export function procStatus(text: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim())
  }
  return m
}

/** Quotes a word for sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
