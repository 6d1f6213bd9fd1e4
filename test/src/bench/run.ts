// Bench 3: `rkt run` of a busybox-static image from the store, running `/bin/sh -c true`, with the fly and
// the nspawn stage1, beside the floors (chroot, unshare + chroot, node start-up) and the peers (bare
// systemd-nspawn, runc with a bundle on the same rootfs, podman with runc and crun) running the same rootfs;
// then the memory a running pod costs besides its app: fly-exec; nspawn + our supervisor, beside bare
// nspawn's own; runc's; podman's conmon. A peer that is missing or broken is printed as unavailable, never
// fails the bench.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {mountsUnder} from '../util/pods.js'
import {median, timeCommand} from './timing.js'

const IMAGE = 'bench.example/busybox:1.0'
const PODMAN_IMAGE = 'localhost/rkt-bench:1'
const PODMAN_HINT = 'podman not installed (apt-get install podman runc)'
// On this host runc fails to apply podman's default rlimits ("error setting rlimit type 7") unless given.
// --rm makes podman's row include removing the container; rkt's exited pods wait for `rkt gc` instead.
const PODMAN_RUN = ['run', '--rm', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--network=none']
const GOAL = 0.6
/** nspawn engine goals: rkt run ≤ 0.9 × podman run (runc); per-pod memory ≤ bare nspawn's own + 2 MiB. */
const NSPAWN_GOAL = 0.9
const NSPAWN_MEMORY_GOAL_KIB = 2048
const RUNC_HINT = 'runc not installed (apt-get install runc)'
const NSPAWN_HINT = 'systemd-nspawn not installed (apt-get install systemd-container)'

type Row = {what: string; ms: number | null; note?: string}
/** A row still to measure: its command, and what to say if the tool is missing. */
type Timed = {what: string; cmd: readonly string[]; hint?: string}
type Item = Timed | Row
type Overhead = {rssKiB: number; pssKiB: number; processes: string[]} | {note: string}

/**
 * The image (busybox + /bin/sh, and the /usr and /etc/os-release systemd-nspawn insists on), its rootfs
 * extracted with /proc, /sys and /dev to mount on (for unshare and runc), and a tar of it for podman.
 */
function fixture(root: string, dir: string): {aci: string; rootfs: string; tar: string} {
  const aci = path.join(dir, 'busybox.aci')
  const rootfs = path.join(dir, 'extracted', 'rootfs')
  const tar = path.join(dir, 'rootfs.tar')
  if (fs.existsSync(tar) && fs.existsSync(path.join(rootfs, 'etc', 'os-release'))) return {aci, rootfs, tar}
  console.log('  (making the busybox fixture: once)')
  fs.rmSync(dir, {recursive: true, force: true})
  const layout = path.join(dir, 'layout')
  fs.mkdirSync(path.join(layout, 'rootfs', 'bin'), {recursive: true})
  fs.mkdirSync(path.join(layout, 'rootfs', 'usr'))
  fs.mkdirSync(path.join(layout, 'rootfs', 'etc'))
  fs.writeFileSync(path.join(layout, 'rootfs', 'etc', 'os-release'), 'NAME="rkt bench busybox"\nID=busybox\n')
  fs.copyFileSync('/bin/busybox', path.join(layout, 'rootfs', 'bin', 'busybox'))
  fs.symlinkSync('busybox', path.join(layout, 'rootfs', 'bin', 'sh'))
  fs.writeFileSync(
    path.join(layout, 'manifest'),
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: IMAGE.split(':')[0],
      labels: [
        {name: 'version', value: IMAGE.split(':')[1]},
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
      app: {exec: ['/bin/sh', '-c', 'echo hi'], user: '0', group: '0'},
    }),
  )
  execFileSync(path.join(root, 'bin', 'actool'), ['build', layout, aci])
  fs.mkdirSync(path.dirname(rootfs))
  execFileSync('tar', ['-xf', aci, '-C', path.dirname(rootfs)])
  for (const d of ['proc', 'sys', 'dev']) fs.mkdirSync(path.join(rootfs, d))
  execFileSync('tar', ['-cf', tar, '-C', rootfs, '.'])
  return {aci, rootfs, tar}
}

/** The line of a tool's stderr that says why it failed: the first naming an error, else the last. */
function reason(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim())
  return (lines.find((l) => /error/i.test(l)) ?? lines.pop() ?? 'failed').trim()
}

/** One untimed run of cmd (also the warm-up): why the row is unavailable, or undefined when it works. */
function probe(cmd: readonly string[], env: NodeJS.ProcessEnv, hint?: string): string | undefined {
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env,
    timeout: 60_000,
  })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return hint ?? `${cmd[0]} not installed`
  if (r.error || r.status !== 0) return reason(r.stderr || String(r.error))
  return undefined
}

/**
 * Times several commands by turns after one untimed probe run each (a failing probe makes the row
 * unavailable), one run of each per round, so that the machine's load drifts alike on all
 * of them (rows compared as ratios, such as a build against its baseline, are measured this way).
 */
function measureByTurns(
  items: readonly {what: string; cmd: readonly string[]; hint?: string}[],
  o: {runs: number; env: NodeJS.ProcessEnv},
  hint?: string,
): Row[] {
  const rows: Row[] = items.map((item) => {
    const {what, cmd} = item
    const note = probe(cmd, o.env, item.hint ?? hint)
    return note === undefined ? {what, ms: 0} : {what, ms: null, note}
  })
  const times = items.map((): number[] => [])
  for (let run = 0; run < o.runs; run++) {
    items.forEach(({cmd}, i) => {
      if (rows[i]!.ms === null) return
      try {
        times[i]!.push(...timeCommand(cmd, {runs: 1, warmup: 0, env: o.env}))
      } catch (err) {
        rows[i] = {what: rows[i]!.what, ms: null, note: reason(String(err))}
      }
    })
  }
  return rows.map((r, i) => (r.ms === null ? r : {what: r.what, ms: median(times[i]!)}))
}

/** Imports the rootfs tar into podman's store once; returns why podman can't be used, if it can't. */
function podmanImport(tar: string): string | undefined {
  const has = spawnSync('podman', ['image', 'exists', PODMAN_IMAGE], {stdio: 'ignore'})
  if ((has.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return PODMAN_HINT
  if (has.status === 0) return undefined
  const r = spawnSync('podman', ['import', tar, PODMAN_IMAGE], {stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'})
  return r.status === 0 ? undefined : `podman import failed: ${reason(r.stderr || String(r.error))}`
}

/** RSS and PSS of every process under rootPid except appPid and its descendants (the cost of running it). */
function overhead(rootPid: number, appPid: number): Overhead {
  const children = new Map<number, number[]>()
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)])
    } catch {
      // exited while we looked
    }
  }
  const tree = (pid: number): number[] => [pid, ...(children.get(pid) ?? []).flatMap(tree)]
  const app = new Set(tree(appPid))
  let rssKiB = 0
  let pssKiB = 0
  const processes: string[] = []
  for (const pid of tree(rootPid).filter((p) => !app.has(p))) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    rssKiB += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0)
    pssKiB += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0)
    processes.push(/^Name:\s+(.*)$/m.exec(status)?.[1] ?? String(pid))
  }
  return {rssKiB, pssKiB, processes}
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = fn()
    if (v !== undefined) return v
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const readOr = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** How to find a `sleep 30` pod's app: the PID of `rkt run` (the pod's top process), the pod's data. */
type AppFinder = (top: number, podDir: string) => number | undefined

/**
 * fly: `rkt run` becomes fly-exec by execve and forks the app, whose PID it writes to the pod's pid file.
 * Everything in that tree but the app is the pod's overhead.
 */
const flyApp: AppFinder = (_top, podDir) => {
  const pid = readOr(path.join(podDir, 'pid'))
  return pid ? Number(pid) : undefined
}

/**
 * nspawn: `rkt run` becomes systemd-nspawn by execve; its child is our supervisor (the pod's PID 1), whose
 * child is the app. Everything in that tree but the app is what the pod costs: nspawn and the supervisor.
 */
const nspawnApp: AppFinder = (top) => {
  // nspawn's first child is a helper of its own until it has exec'd the supervisor: wait for that.
  const supervisor = childrenOf(top)[0]
  if (supervisor === undefined || readOr(`/proc/${supervisor}/comm`)?.trim() !== 'supervisor') return undefined
  return childrenOf(supervisor)[0]
}

/** A `sleep 30` pod of a stage1: the memory of its process tree but the app. */
async function rktOverhead(
  rkt: string,
  stage1: string,
  findApp: AppFinder,
  data: string,
  env: NodeJS.ProcessEnv,
): Promise<Overhead> {
  const uuidFile = path.join(data, `bench-uuid-${path.basename(stage1, '.aci')}`)
  const args = [
    `--dir=${data}`,
    'run',
    '--pull-policy=never',
    `--stage1-path=${stage1}`,
    `--uuid-file-save=${uuidFile}`,
  ]
  const child = spawn(rkt, [...args, IMAGE, '--exec=/bin/sh', '--', '-c', 'sleep 30'], {stdio: 'ignore', env})
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let uuid: string | undefined
  try {
    const appPid = await waitFor('the pod to start', () => {
      if (child.exitCode !== null) throw new Error(`rkt run exited with ${child.exitCode}`)
      uuid ??= readOr(uuidFile)
      return uuid ? findApp(child.pid!, path.join(data, 'pods', 'run', uuid)) : undefined
    })
    return overhead(child.pid!, appPid)
  } catch (err) {
    return {note: reason(String(err))}
  } finally {
    if (uuid) spawnSync(rkt, [`--dir=${data}`, 'stop', uuid], {stdio: 'ignore'})
    await finish(child, exited)
  }
}

/** The same for a detached podman container: conmon (and anything else under it that isn't the app). */
function podmanOverhead(runtime: string): Overhead {
  const run = spawnSync(
    'podman',
    [...PODMAN_RUN, '-d', '--runtime', runtime, PODMAN_IMAGE, '/bin/sh', '-c', 'sleep 30'],
    {
      encoding: 'utf8',
    },
  )
  if (run.status !== 0) return {note: reason(run.stderr || String(run.error))}
  const id = run.stdout.trim()
  try {
    const [conmon, app] = execFileSync('podman', ['inspect', '-f', '{{.State.ConmonPid}} {{.State.Pid}}', id])
      .toString()
      .trim()
      .split(' ')
      .map(Number)
    return overhead(conmon!, app!)
  } catch (err) {
    return {note: reason(String(err))}
  } finally {
    spawnSync('podman', ['rm', '-f', '-t', '0', id], {stdio: 'ignore'})
  }
}

/** The children of a process, forked by any of its threads (from /proc/PID/task/TID/children). */
function childrenOf(pid: number): number[] {
  let tasks: string[]
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  return tasks.flatMap((tid) =>
    (readOr(`/proc/${pid}/task/${tid}/children`) ?? '').split(/\s+/).filter(Boolean).map(Number),
  )
}

/** A child of `pid` that runs the fixture's busybox (the payload once exec'd), if there is one yet. */
function busyboxChild(pid: number): number | undefined {
  return childrenOf(pid).find((p) => {
    try {
      return fs.readlinkSync(`/proc/${p}/exe`).endsWith('/busybox')
    } catch {
      return false
    }
  })
}

/** Ends a long-running peer we started: its process, then (after a bounded wait) with SIGKILL. */
async function finish(child: ReturnType<typeof spawn>, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  if ((await Promise.race([exited, sleep(10_000, 'timeout')])) === 'timeout') child.kill('SIGKILL')
}

/** Bare systemd-nspawn running `sleep 30` as the container's PID 1: its own cost is nspawn. */
async function nspawnOverhead(rootfs: string): Promise<Overhead> {
  const payload = ['/bin/sh', '-c', 'sleep 30']
  const child = spawn('systemd-nspawn', ['--register=no', '--keep-unit', '-q', '-D', rootfs, ...payload], {
    stdio: 'ignore',
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.once('error', () => {}) // ENOENT: reported below
  try {
    const appPid = await waitFor('nspawn to start its payload', () => {
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited with ${child.exitCode}`)
      if (child.pid === undefined) throw new Error(NSPAWN_HINT)
      // The payload, once exec'd (before that the child is nspawn's own helper).
      return busyboxChild(child.pid)
    })
    return overhead(child.pid!, appPid)
  } catch (err) {
    return {note: reason(String(err))}
  } finally {
    await finish(child, exited)
  }
}

/** An OCI bundle on the fixture's rootfs (read-only root, no terminal) whose process is `args`. */
function runcBundle(dir: string, rootfs: string, args: readonly string[]): string | undefined {
  fs.rmSync(dir, {recursive: true, force: true})
  fs.mkdirSync(dir, {recursive: true})
  const r = spawnSync('runc', ['spec', '--bundle', dir], {stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'})
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return RUNC_HINT
  if (r.status !== 0) return `runc spec failed: ${reason(r.stderr || String(r.error))}`
  const file = path.join(dir, 'config.json')
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    process: {terminal: boolean; args: string[]}
    root: {path: string; readonly: boolean}
  }
  config.process.terminal = false
  config.process.args = [...args]
  config.root = {path: path.resolve(rootfs), readonly: true}
  fs.writeFileSync(file, JSON.stringify(config, null, 2))
  return undefined
}

/** `runc run` of a `sleep 30` bundle: runc stays as the container's parent; that is its cost. */
async function runcOverhead(bundle: string, id: string): Promise<Overhead> {
  spawnSync('runc', ['delete', '-f', id], {stdio: 'ignore'})
  const child = spawn('runc', ['run', '--bundle', bundle, id], {stdio: 'ignore'})
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.once('error', () => {})
  try {
    const appPid = await waitFor('runc to start the container', () => {
      if (child.exitCode !== null) throw new Error(`runc run exited with ${child.exitCode}`)
      if (child.pid === undefined) throw new Error(RUNC_HINT)
      return busyboxChild(child.pid)
    })
    return overhead(child.pid!, appPid)
  } catch (err) {
    return {note: reason(String(err))}
  } finally {
    spawnSync('runc', ['kill', id, 'KILL'], {stdio: 'ignore'})
    await finish(child, exited)
    spawnSync('runc', ['delete', '-f', id], {stdio: 'ignore'})
  }
}

/** The UUIDs of every pod a data directory has (in any state). */
function podsOf(data: string): string[] {
  const pods = path.join(data, 'pods')
  return fs.existsSync(pods) ? fs.readdirSync(pods).flatMap((state) => fs.readdirSync(path.join(pods, state))) : []
}

/**
 * Pod cgroups (`<hierarchy>/rkt/<uuid>`) that exist now. Only those of the bench's own pods count as left by
 * it: whatever else runs on the machine (tests, other data directories) has pods of its own.
 */
function rktCgroups(): Set<string> {
  const out = new Set<string>()
  let hierarchies: string[]
  try {
    hierarchies = fs.readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h))
  } catch {
    return out
  }
  for (const h of hierarchies) {
    try {
      for (const e of fs.readdirSync(path.join(h, 'rkt'))) out.add(path.join(h, 'rkt', e))
    } catch {
      // no rkt cgroups in this hierarchy
    }
  }
  return out
}

export async function benchRun(o: {root: string; work: string; runs: number; env: NodeJS.ProcessEnv}) {
  const {aci, rootfs, tar} = fixture(o.root, path.join(o.work, 'run'))
  const rkt = path.join(o.root, 'bin', 'rkt')
  const stage1s = path.join(o.root, 'core', 'dist', 'stage1-images')
  const fly = path.join(stage1s, 'stage1-fly.aci')
  const nspawn = path.join(stage1s, 'stage1-nspawn.aci')
  const cgroupsBefore = rktCgroups()
  // A fresh data dir per bench, so the stage1 of the current build is the one that runs; the image is
  // fetched outside timing (podman runs from its store too).
  fs.mkdirSync(path.join(o.work, 'runs'), {recursive: true})
  const data = fs.mkdtempSync(path.join(o.work, 'runs', 'run-'))
  // Exited pods keep their mounts until gc, which runs after the timed batch, never between runs: its
  // deletions slow the disk for seconds (a gc before each run made rkt run 1.5-3 × slower here).
  const ranPods: string[] = []
  const gc = (): void => {
    ranPods.push(...podsOf(data))
    const r = spawnSync(rkt, [`--dir=${data}`, 'gc', '--grace-period=0s'], {stdio: ['ignore', 'ignore', 'pipe']})
    if (r.status !== 0) console.log(`   warning: rkt gc failed (${r.status}): ${reason(String(r.stderr))}`)
  }
  const podman = podmanImport(tar)
  const sh = ['/bin/sh', '-c', 'true']
  const podmanRow = (runtime: string, network = 'none'): Item => {
    const what = `podman run (${runtime}${network === 'none' ? '' : `, --network=${network}`})`
    const flags = network === 'none' ? PODMAN_RUN : PODMAN_RUN.filter((f) => f !== '--network=none')
    return podman
      ? {what, ms: null, note: podman}
      : {what, cmd: ['podman', ...flags, '--runtime', runtime, PODMAN_IMAGE, ...sh]}
  }
  const runcId = `rkt-bench-${process.pid}`
  const bundles = path.join(o.work, 'runs', 'runc')
  const runc = runcBundle(path.join(bundles, 'true'), rootfs, sh)
  const nspawnNets = ['none', 'default'] as const
  /**
   * The rkt rows of one build (ours, or BENCH_BASELINE's: a checkout of an earlier commit, built, so one run
   * compares the two), with its own data directory and its own stage1 images. The stage1s go into the store
   * untimed and the rows pick them by ID: a --stage1-path run imports (hashes and checks) the ACI every time,
   * ~90 ms for nspawn's 4 MiB, which users of the default stage1 never pay. nspawn runs without a network and
   * with the default one, beside podman's rows of the same kind; fly has no network of its own.
   */
  const rktRows = (build: string, label: string): Item[] => {
    const bin = path.join(build, 'bin', 'rkt')
    const dir = build === o.root ? data : fs.mkdtempSync(path.join(o.work, 'runs', 'baseline-'))
    const images = path.join(build, 'core', 'dist', 'stage1-images')
    const files = {fly: path.join(images, 'stage1-fly.aci'), nspawn: path.join(images, 'stage1-nspawn.aci')}
    try {
      for (const f of [aci, files.fly, files.nspawn])
        execFileSync(bin, [`--dir=${dir}`, '--insecure-options=image', 'fetch', f], {stdio: 'ignore'})
    } catch (err) {
      return [{what: `rkt run${label}`, ms: null, note: `fetch into the bench store failed: ${reason(String(err))}`}]
    }
    const stored = JSON.parse(
      execFileSync(bin, [`--dir=${dir}`, 'image', 'list', '--format=json', '--full'], {encoding: 'utf8'}),
    ) as {id: string; name: string}[]
    const run = (engine: 'fly' | 'nspawn', net?: string): string[] => {
      const name = `rkt-ts/stage1-${engine}:`
      const id = stored.find((i) => i.name.startsWith(name))?.id
      if (id === undefined) throw new Error(`bench: ${name} is not in the bench store after fetching it`)
      const flags = net === undefined ? [] : [`--net=${net}`]
      return [bin, `--dir=${dir}`, 'run', '--pull-policy=never', `--stage1-hash=${id}`, ...flags, IMAGE].concat([
        '--exec=/bin/sh',
        '--',
        '-c',
        'true',
      ])
    }
    return [
      {what: `rkt run (fly${label})`, cmd: run('fly')},
      ...nspawnNets.map((n) => ({what: `rkt run (nspawn, --net=${n}${label})`, cmd: run('nspawn', n)})),
    ]
  }
  const baseline = process.env['BENCH_BASELINE']
  // Every row by turns (floors, peers, ours and the baseline's): their ratios compare like with like.
  const byTurns = (items: Item[]): Row[] => {
    const timed = measureByTurns(
      items.filter((i): i is Timed => 'cmd' in i),
      o,
    )
    return items.map((i) => ('cmd' in i ? timed.shift()! : i))
  }

  let rows: Row[]
  let memory: {rkt: Overhead; rktNspawn: Overhead; nspawn: Overhead; runc: Overhead; podman: Overhead}
  try {
    rows = byTurns([
      {what: 'floor: chroot', cmd: ['chroot', rootfs, ...sh]},
      {
        what: 'floor: unshare -m -p -f --mount-proc + chroot',
        cmd: ['unshare', '-m', '-p', '-f', `--mount-proc=${rootfs}/proc`, 'chroot', rootfs, ...sh],
      },
      {what: 'node -e 0', cmd: [process.execPath, '-e', '0']},
      {
        what: 'systemd-nspawn (bare)',
        cmd: ['systemd-nspawn', '--register=no', '--keep-unit', '-q', '-D', rootfs, ...sh],
        hint: NSPAWN_HINT,
      },
      runc
        ? {what: 'runc run', ms: null, note: runc}
        : {what: 'runc run', cmd: ['runc', 'run', '--bundle', path.join(bundles, 'true'), runcId], hint: RUNC_HINT},
      podmanRow('runc'),
      podmanRow('runc', 'bridge'),
      podmanRow('crun'),
      ...rktRows(o.root, ''),
      ...(baseline ? rktRows(path.resolve(baseline), ', baseline') : []),
    ])
    gc()
    const sleeping = runcBundle(path.join(bundles, 'sleep'), rootfs, ['/bin/sh', '-c', 'sleep 30'])
    memory = {
      rkt: await rktOverhead(rkt, fly, flyApp, data, o.env),
      rktNspawn: await rktOverhead(rkt, nspawn, nspawnApp, data, o.env),
      nspawn: await nspawnOverhead(rootfs),
      runc: sleeping ? {note: sleeping} : await runcOverhead(path.join(bundles, 'sleep'), runcId),
      podman: podman ? {note: podman} : podmanOverhead('runc'),
    }
  } finally {
    gc()
  }
  const leftover = mountsUnder(data)
  const benchPods = new Set(ranPods)
  const leftoverCgroups = [...rktCgroups()].filter((c) => !cgroupsBefore.has(c) && benchPods.has(path.basename(c)))

  const ms = (what: string): number | null => rows.find((r) => r.what.startsWith(what))?.ms ?? null
  const chroot = ms('floor: chroot')
  const bare = ms('systemd-nspawn (bare)')
  const runcMs = ms('runc run')
  const podmanRunc = ms('podman run (runc)')
  const flyMs = ms('rkt run (fly')
  const nspawnMs = ms('rkt run (nspawn, --net=none)')
  const nspawnNetMs = ms('rkt run (nspawn, --net=default)')
  const podmanBridge = ms('podman run (runc, --network=bridge)')
  const times = (a: number, b: number | null): string => (b ? `${(a / b).toFixed(2)}` : '')
  console.log(
    `3. rkt run (stage1 fly and nspawn) beside peers: busybox-static image (${(fs.statSync(aci).size / 1e6).toFixed(1)} MB gzip), /bin/sh -c true, NODE_EXTRA_CA_CERTS unset`,
  )
  console.log(
    `   ${'what'.padEnd(48)}${'ms'.padStart(8)}${'× chroot'.padStart(10)}${'× nspawn'.padStart(10)}${'× runc'.padStart(10)}${'× podman'.padStart(10)}`,
  )
  for (const r of rows) {
    const cells =
      r.ms === null
        ? `${'—'.padStart(8)}   unavailable: ${r.note}`
        : `${r.ms.toFixed(1).padStart(8)}${[chroot, bare, runcMs, podmanRunc].map((b) => times(r.ms!, b).padStart(10)).join('')}`
    console.log(`   ${r.what.padEnd(48)}${cells}`)
  }
  const goalLine = (what: string, ratio: number | null, max: number): string =>
    `   goal: ${what} ≤ ${max} × podman run (runc): ${
      ratio === null
        ? 'not measured (a row is unavailable)'
        : `${ratio.toFixed(2)} × — ${ratio <= max ? 'met' : 'NOT met'}`
    }`
  const ratio = flyMs !== null && podmanRunc !== null ? flyMs / podmanRunc : null
  const nspawnRatio = nspawnMs !== null && podmanRunc !== null ? nspawnMs / podmanRunc : null
  console.log(goalLine('rkt run (fly)', ratio, GOAL))
  console.log(goalLine('rkt run (nspawn, --net=none)', nspawnRatio, NSPAWN_GOAL))
  // Like with like: each with its default network (rkt's CNI bridge, podman's).
  if (nspawnNetMs !== null && podmanBridge !== null)
    console.log(
      `   rkt run (nspawn, --net=default): ${(nspawnNetMs / podmanBridge).toFixed(2)} × podman run (runc, --network=bridge)`,
    )
  // BENCH_BASELINE: each rkt row over the same row of the baseline build, measured in this run.
  for (const r of rows.filter((x) => x.what.endsWith(', baseline)'))) {
    const ours = ms(r.what.replace(', baseline)', ')'))
    if (r.ms !== null && ours !== null)
      console.log(`   ${r.what.replace(', baseline)', ')')}: ${(ours / r.ms).toFixed(2)} × the baseline build`)
  }
  if (nspawnMs !== null) {
    const vs = (b: number | null, name: string): string =>
      b ? `${(nspawnMs / b).toFixed(2)} × ${name}` : `${name} unavailable`
    console.log(
      `   rkt run (nspawn): ${vs(bare, 'bare nspawn')}, ${vs(runcMs, 'runc run')}, ${vs(podmanRunc, 'podman run (runc)')}`,
    )
  }
  console.log(`   per-container memory besides the app (sleep 30)${'RSS KiB'.padStart(10)}${'PSS KiB'.padStart(10)}`)
  for (const [what, m] of [
    ['rkt run (fly)', memory.rkt],
    ['rkt run (nspawn)', memory.rktNspawn],
    ['systemd-nspawn (bare)', memory.nspawn],
    ['runc run', memory.runc],
    ['podman run (runc)', memory.podman],
  ] as const) {
    const cells =
      'note' in m
        ? `${'—'.padStart(10)}   unavailable: ${m.note}`
        : `${String(m.rssKiB).padStart(10)}${String(m.pssKiB).padStart(10)}   ${m.processes.join(', ')}`
    console.log(`   ${what.padEnd(48)}${cells}`)
  }
  const ours = memory.rktNspawn
  const theirs = memory.nspawn
  const memoryGoal =
    'note' in ours || 'note' in theirs
      ? null
      : {
          pssOverKiB: ours.pssKiB - theirs.pssKiB,
          rssOverKiB: ours.rssKiB - theirs.rssKiB,
          met:
            ours.pssKiB - theirs.pssKiB <= NSPAWN_MEMORY_GOAL_KIB &&
            ours.rssKiB - theirs.rssKiB <= NSPAWN_MEMORY_GOAL_KIB,
        }
  console.log(
    `   goal: rkt run (nspawn) ≤ bare nspawn’s own + ${NSPAWN_MEMORY_GOAL_KIB / 1024} MiB: ${
      memoryGoal === null
        ? 'not measured (a row is unavailable)'
        : `+${memoryGoal.pssOverKiB} KiB PSS, +${memoryGoal.rssOverKiB} KiB RSS — ${memoryGoal.met ? 'met' : 'NOT met'}`
    }`,
  )
  console.log(
    leftover.length
      ? `   WARNING: ${leftover.length} mounts left under ${data} after rkt gc (a gc bug): ${leftover[0]} …`
      : '   after rkt gc: no mounts left under the data dir',
  )
  console.log(
    leftoverCgroups.length
      ? `   WARNING: ${leftoverCgroups.length} pod cgroups left after rkt gc (a gc bug): ${leftoverCgroups[0]} …`
      : '   after rkt gc: no pod cgroups left',
  )
  return {
    imageFileBytes: fs.statSync(aci).size,
    rows: Object.fromEntries(rows.map((r) => [r.what, r.note === undefined ? {ms: r.ms} : {ms: r.ms, note: r.note}])),
    goal: {ratio, max: GOAL, met: ratio === null ? null : ratio <= GOAL},
    nspawnGoal: {ratio: nspawnRatio, max: NSPAWN_GOAL, met: nspawnRatio === null ? null : nspawnRatio <= NSPAWN_GOAL},
    nspawnMemoryGoal: {maxOverKiB: NSPAWN_MEMORY_GOAL_KIB, ...(memoryGoal ?? {met: null})},
    memoryKiB: memory,
    leftoverMounts: leftover.length,
    leftoverCgroups: leftoverCgroups.length,
  }
}
