// What a pod may leave on the host, as snapshots taken before the suite and after its `rkt gc`: mounts,
// cgroup directories, named network namespaces, iptables rules and processes. Other pods may come and go
// on the host meanwhile, so what is new counts as a leftover only when it names one of the suite's pods
// (its UUID or address) or its data directory.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** One snapshot: lines per kind. */
export type HostState = Readonly<Record<'mounts' | 'cgroups' | 'netns' | 'iptables' | 'processes', readonly string[]>>

function lines(cmd: string, args: string[]): string[] {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
      .split('\n')
      .filter((l) => l !== '')
  } catch {
    return [] // the tool is missing (no iptables on the host): nothing of that kind to leave
  }
}

/** The cgroup hierarchies' directories (to a depth that reaches rkt's `rkt/<uuid>/<app>` and systemd's). */
function cgroupDirs(): string[] {
  const roots = new Set<string>()
  for (const l of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = l.split(' - ')
    if (post?.startsWith('cgroup')) roots.add(pre!.split(' ')[4]!)
  }
  const out: string[] = []
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true})
    } catch {
      return // gone meanwhile
    }
    for (const e of entries)
      if (e.isDirectory()) {
        out.push(path.join(dir, e.name))
        if (depth < 6) walk(path.join(dir, e.name), depth + 1)
      }
  }
  for (const r of roots) walk(r, 0)
  return out
}

function processes(): string[] {
  const out: string[] = []
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
      const root = fs.readlinkSync(`/proc/${pid}/root`)
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`)
      out.push(`${pid} ${cmdline} (root ${root}, cwd ${cwd})`)
    } catch {
      // gone, or a kernel thread
    }
  }
  return out
}

/** The host's state now. */
export function snapshot(): HostState {
  return {
    mounts: fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ').slice(3, 5).join(' ')), // root and mount point: IDs change, places don't
    cgroups: cgroupDirs(),
    netns: lines('ip', ['netns', 'list']),
    iptables: lines('iptables-save', []).filter((l) => !l.startsWith('#') && !/^:\S+ \S+ \[/.test(l)),
    processes: processes(),
  }
}

/**
 * What `after` has and `before` had not, naming one of `marks` (pod UUIDs, addresses, the data directory),
 * by kind. A mount `keep` accepts stays out (the data directory's pods/ fence, which outlives its pods).
 */
export function leftovers(
  before: HostState,
  after: HostState,
  marks: readonly string[],
  keep: (mount: string) => boolean,
): string[] {
  const out: string[] = []
  for (const kind of Object.keys(after) as (keyof HostState)[]) {
    const old = new Set(before[kind])
    for (const l of after[kind]) {
      if (old.has(l) || !marks.some((m) => l.includes(m))) continue
      if (kind === 'mounts' && keep(l)) continue
      out.push(`${kind}: ${l}`)
    }
  }
  return out
}
