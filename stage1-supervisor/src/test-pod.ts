// Test support for the supervisor's C programs (supervisor.test.ts, enter.test.ts): a throwaway stage1
// root with busybox apps, the supervisor configuration written token by token, and the pod run for real as
// `systemd-nspawn … -- /supervisor /rkt/supervisor.conf`, the way run.cjs runs it. Needs root.
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const supervisorBin = path.join(import.meta.dirname, 'supervisor')
export const enterBin = path.join(import.meta.dirname, 'enter')

/** What the tests need from the machine; each missing one is named. */
export function missingPrerequisites(): string[] {
  const missing: string[] = []
  if (process.getuid?.() !== 0) missing.push('root')
  for (const f of [supervisorBin, enterBin]) if (!fs.existsSync(f)) missing.push(`${f} (npm run build)`)
  if (!fs.existsSync('/bin/busybox')) missing.push('/bin/busybox (busybox-static)')
  if (!['/usr/bin/systemd-nspawn', '/bin/systemd-nspawn'].some((f) => fs.existsSync(f))) missing.push('systemd-nspawn')
  return missing
}

/** One supervisor.conf record: a key and its value. */
export type ConfRecord = readonly [key: string, value: string]

/** The configuration file's bytes: every token NUL-terminated. */
export function encodeConf(records: readonly ConfRecord[]): Buffer {
  return Buffer.concat(records.flatMap(([k, v]) => [Buffer.from(`${k}\0`), Buffer.from(`${v}\0`)]))
}

export interface AppSpec {
  name: string
  /** Run as `/bin/sh -c script` unless argv is given. */
  script?: string
  argv?: string[]
  uid?: number
  gid?: number
  caps?: string
  /** Records after the app's defaults (root, args, env, uid, gid, caps): cwd, seccomp, pre-start… */
  extra?: ConfRecord[]
  env?: string[]
}

export interface PodOptions {
  grace?: number
  /** Host fds passed into the container as 3, 4, … with LISTEN_FDS, as run.cjs passes the cgroup fds. */
  fds?: number[]
  /** Replaces the generated configuration. */
  conf?: Buffer
  /** Runs nspawn with --console=interactive on a terminal of its own (script(1)'s pty), as `rkt run -i`. */
  tty?: boolean
}

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

const applets = ['sh', 'cat', 'ls', 'id', 'env', 'touch', 'chmod', 'sleep', 'echo', 'head', 'tr', 'wc', 'mkdir']
applets.push('readlink', 'grep', 'kill', 'pwd', 'true', 'test', 'stat', 'sed', 'rm', 'awk')

export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The pids of a process's children. */
export function children(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((s) => s)
      .map(Number)
  } catch {
    return []
  }
}

/** Fields of /proc/<pid>/status ("CapEff" → "00000000a80425fb"). */
export function procStatus(pid: number | string, text?: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of (text ?? fs.readFileSync(`/proc/${pid}/status`, 'utf8')).split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim())
  }
  return m
}

let seq = 0

/** An app's section of the configuration. */
export function appRecords(a: AppSpec): ConfRecord[] {
  const records: ConfRecord[] = [
    ['app', a.name],
    ['root', `/opt/stage2/${a.name}/rootfs`],
  ]
  for (const arg of a.argv ?? ['/bin/sh', '-c', a.script ?? 'true']) records.push(['arg', arg])
  for (const e of a.env ?? ['PATH=/bin']) records.push(['env', e])
  records.push(['uid', `${a.uid ?? 0}`], ['gid', `${a.gid ?? 0}`], ['caps', a.caps ?? 'a80425fb'])
  return [...records, ...(a.extra ?? [])]
}

/**
 * A pod: a stage1 root in a temp dir with the supervisor, /rkt/status, /rkt/pids, and one busybox rootfs per
 * app at /opt/stage2/<app>/rootfs, in which the host dir `shared` is bound at /shared (nspawn's --bind,
 * like a volume: gone with the container).
 */
export class Pod {
  readonly dir: string
  readonly root: string
  readonly shared: string
  readonly machine: string
  child: ChildProcess | undefined
  private done: Promise<Result> | undefined

  constructor(
    readonly apps: AppSpec[],
    readonly opts: PodOptions = {},
  ) {
    this.machine = `rkt-test-${process.pid}-${++seq}`
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nspawn-pod-'))
    this.root = path.join(this.dir, 'root')
    this.shared = path.join(this.dir, 'shared')
    fs.mkdirSync(this.shared, {mode: 0o777})
    fs.chmodSync(this.shared, 0o777)
    for (const d of ['usr', 'etc', 'rkt/status', 'rkt/pids']) fs.mkdirSync(path.join(this.root, d), {recursive: true})
    fs.writeFileSync(path.join(this.root, 'etc/os-release'), 'ID=rkt-test\n')
    fs.copyFileSync(supervisorBin, path.join(this.root, 'supervisor'))
    fs.chmodSync(path.join(this.root, 'supervisor'), 0o755)
    const busybox = path.join(this.dir, 'busybox')
    fs.copyFileSync('/bin/busybox', busybox)
    fs.chmodSync(busybox, 0o755)
    for (const app of apps) {
      const r = this.appRoot(app.name)
      for (const d of ['bin', 'etc', 'shared', 'home/app']) fs.mkdirSync(path.join(r, d), {recursive: true})
      fs.chownSync(path.join(r, 'home/app'), 1000, 1000)
      fs.linkSync(busybox, path.join(r, 'bin/busybox'))
      for (const a of applets) fs.symlinkSync('busybox', path.join(r, 'bin', a))
    }
    fs.writeFileSync(path.join(this.root, 'rkt/supervisor.conf'), opts.conf ?? this.conf())
  }

  appRoot(name: string): string {
    return path.join(this.root, 'opt/stage2', name, 'rootfs')
  }

  conf(): Buffer {
    const records: ConfRecord[] = [['version', '1']]
    if (this.opts.grace !== undefined) records.push(['grace', `${this.opts.grace}`])
    for (const a of this.apps) records.push(...appRecords(a))
    return encodeConf(records)
  }

  start(): this {
    const console = this.opts.tty ? 'interactive' : 'pipe'
    const args = ['--register=no', '--keep-unit', '-q', `--console=${console}`, '--kill-signal=SIGTERM']
    args.push(`--machine=${this.machine}`, '-D', this.root)
    for (const a of this.apps) args.push(`--bind=${this.shared}:/opt/stage2/${a.name}/rootfs/shared`)
    args.push('--', '/supervisor', '/rkt/supervisor.conf')
    const fds = this.opts.fds ?? []
    // nspawn passes fds to the container only when they are its socket activation fds (LISTEN_PID = its pid).
    const shq = (a: string): string => `'${a.replaceAll("'", `'\\''`)}'`
    const cmd = `LISTEN_PID=$$ LISTEN_FDS=${fds.length} exec systemd-nspawn ${args.map(shq).join(' ')}`
    const child = this.opts.tty
      ? spawn('script', ['-qec', cmd, '/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: {...process.env, SHELL: '/bin/sh'},
        })
      : spawn('/bin/sh', ['-c', cmd], {stdio: ['pipe', 'pipe', 'pipe', ...fds]})
    this.child = child
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    this.done = new Promise((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code, signal) => {
        // nspawn's own notice when /run is not a tmpfs, not the supervisor's business.
        stderr = stderr.replace(/^Attempted to remove disk file system under .*\n/gm, '')
        resolve({code, signal, stdout, stderr})
      })
    })
    return this
  }

  wait(): Promise<Result> {
    if (!this.done) throw new Error('the pod was not started')
    return this.done
  }

  run(): Promise<Result> {
    return this.start().wait()
  }

  /** A file under the stage1 root's /rkt, or undefined when it does not exist. */
  rkt(file: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.root, 'rkt', file), 'utf8')
    } catch {
      return undefined
    }
  }

  sharedFile(name: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.shared, name), 'utf8')
    } catch {
      return undefined
    }
  }

  async waitShared(name: string, ms = 5000): Promise<string> {
    await waitFor(`/shared/${name}`, () => fs.existsSync(path.join(this.shared, name)), ms)
    return fs.readFileSync(path.join(this.shared, name), 'utf8')
  }

  /** nspawn's host pid (under script(1) with tty). */
  nspawnPid(): number {
    const pid = this.child?.pid ?? -1
    return this.opts.tty ? (children(pid)[0] ?? -1) : pid
  }

  /** The supervisor's host pid: nspawn's only child. */
  supervisorPid(): number {
    const [pid] = children(this.nspawnPid())
    if (pid === undefined) throw new Error('the supervisor is not running')
    return pid
  }

  /** The host pid of an app's process: the supervisor's child whose innermost NSpid is /rkt/pids/<app>. */
  appHostPid(name: string): number {
    const inPod = this.rkt(`pids/${name}`)
    for (const pid of children(this.supervisorPid())) {
      const nspid = procStatus(pid).get('NSpid')?.split('\t')
      if (nspid?.[nspid.length - 1] === inPod) return pid
    }
    throw new Error(`no process for app ${name}`)
  }

  /** Kills whatever is left (the supervisor: its pid namespace goes with it) and removes the files. */
  async destroy(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      for (const pid of children(this.nspawnPid())) process.kill(pid, 'SIGKILL')
      await waitFor('nspawn to exit', () => this.child?.exitCode !== null || this.child?.signalCode !== null).catch(
        () => this.child?.kill('SIGKILL'),
      )
      await this.done
    }
    fs.rmSync(this.dir, {recursive: true, force: true})
  }
}

/**
 * A cgroup v1 memory cgroup of its own, for an app (as run.cjs makes the app's cgroups): fds on its
 * cgroup.procs (to write) and memory.oom_control (to read), to pass into the pod.
 */
export class MemoryCgroup {
  readonly dir: string
  readonly procsFd: number
  readonly oomFd: number

  constructor(limitBytes: number) {
    this.dir = `/sys/fs/cgroup/memory/rkt-test-${process.pid}-${++seq}`
    fs.mkdirSync(this.dir)
    fs.writeFileSync(path.join(this.dir, 'memory.limit_in_bytes'), `${limitBytes}`)
    // Without a swap limit too, the app would swap instead of being OOM-killed (when the host has swap).
    const memsw = path.join(this.dir, 'memory.memsw.limit_in_bytes')
    if (fs.existsSync(memsw)) fs.writeFileSync(memsw, `${limitBytes}`)
    this.procsFd = fs.openSync(path.join(this.dir, 'cgroup.procs'), 'w')
    this.oomFd = fs.openSync(path.join(this.dir, 'memory.oom_control'), 'r')
  }

  static available(): boolean {
    return fs.existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')
  }

  pids(): number[] {
    return fs
      .readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((s) => s)
      .map(Number)
  }

  /** Closes the fds and removes the cgroup once its processes are gone. */
  async destroy(): Promise<void> {
    fs.closeSync(this.procsFd)
    fs.closeSync(this.oomFd)
    for (const pid of this.pids()) process.kill(pid, 'SIGKILL')
    await waitFor(`${this.dir} to be empty`, () => this.pids().length === 0)
    fs.rmdirSync(this.dir)
  }
}
