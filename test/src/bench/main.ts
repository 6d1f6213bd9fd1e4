// npm run bench: speed of rkt beside the floors and peers on this machine, printed as ratios.
// A benchmark, not a test: it asserts nothing and prints the goals beside the numbers.
//
//   1. fetch + verify + store of a ~100 MiB signed ACI, beside `gzip -dc | sha512sum` plus `gpg --verify`
//      of the same file (the work a fetch cannot avoid);
//   2. render of a 5,000-file image, beside `tar -xf` of the same archive;
//   3. rkt run (stage1 fly and nspawn) of a busybox image, beside chroot, unshare, bare systemd-nspawn, runc
//      and podman, and the memory a running pod costs besides its app, beside bare nspawn's, runc's and
//      podman's conmon;
//   4. the first answered request on a forwarded port (rkt --net=default --port, --net=host, podman -p);
//   5. rkt run with the kvm stage1 beside a bare QEMU boot of the same kernel, and a pod's disk cost; then
//      real applications (Debian packages): a Python import under kvm beside a bare QEMU guest booted from the
//      image's disk and nspawn, and PostgreSQL's first answered query under kvm and nspawn;
//   6. rkt fetch docker:// of a ~100 MiB image from a local docker-registry, beside skopeo copy + umoci
//      unpack of the same image, then the fetch of a second image sharing its base layer.
//
// Fixtures are made once under .bench/ (gitignored) and reused. BENCH_RUNS sets the runs per measurement;
// BENCH_ONLY=run (or a comma list of startup, fetch, render, run, net, kvm, docker) runs only those sections.
// BENCH_BASELINE=DIR (a checkout of another commit, built) adds its rkt run rows to section 3, as ratios.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {benchDocker} from './docker.js'
import {benchFetch} from './fetch.js'
import {benchKvm} from './kvm.js'
import {benchKvmApps} from './kvm-apps.js'
import {benchRender} from './render.js'
import {benchNet} from './net.js'
import {benchRun} from './run.js'
import {median, removeDataDirs, timeCommand} from './timing.js'

const root = path.resolve(import.meta.dirname, '..', '..', '..')
const work = path.join(root, '.bench')
const runs = Number(process.env['BENCH_RUNS'] ?? 5)
const SECTIONS = ['startup', 'fetch', 'render', 'run', 'net', 'kvm', 'docker'] as const
const only = (process.env['BENCH_ONLY'] ?? '').split(',').filter(Boolean)
const unknown = only.filter((s) => !(SECTIONS as readonly string[]).includes(s))
if (unknown.length > 0) {
  console.error(`bench: BENCH_ONLY: unknown section ${unknown.join(', ')} (${SECTIONS.join(', ')})`)
  process.exit(2)
}
const wanted = (s: (typeof SECTIONS)[number]): boolean => only.length === 0 || only.includes(s)

if (process.getuid?.() !== 0) {
  console.error('bench: run as root (rkt extracts with ownership and uses the store like a root user)')
  process.exit(1)
}
if (!fs.existsSync(path.join(root, 'core', 'dist', 'cli', 'rkt.cjs'))) {
  console.error('bench: build first: npm run build')
  process.exit(1)
}
fs.mkdirSync(work, {recursive: true})

const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
console.log(
  `rkt bench — ${new Date().toISOString()} — node ${process.version}, ${os.cpus().length} × ${cpu}, ${runs} runs per row (median)`,
)
// 0. Start-up of the CLI: from its V8 snapshot (what bin/rkt runs), from the plain bundle, and bare node.
// Measured without NODE_EXTRA_CA_CERTS, which costs bare node about 90 ms per start and which bin/rkt
// defers anyway (core/native/launch.c), so the ratios compare like with like.
const startEnv = {...process.env}
delete startEnv['NODE_EXTRA_CA_CERTS']
const timeStart = (cmd: string[]): number => median(timeCommand(cmd, {runs, warmup: 1, env: startEnv}))
let startup: {nodeMs: number; rktVersionMs: number; bundleVersionMs: number} | undefined
if (wanted('startup')) {
  const nodeStart = timeStart([process.execPath, '-e', '0'])
  const rktVersion = timeStart([path.join(root, 'bin', 'rkt'), 'version'])
  const bundleVersion = timeStart([process.execPath, path.join(root, 'core', 'dist', 'cli', 'rkt.cjs'), 'version'])
  console.log('0. CLI start-up (NODE_EXTRA_CA_CERTS unset)')
  for (const [what, ms] of [
    ['node -e 0', nodeStart],
    ['rkt version (V8 snapshot, bin/rkt)', rktVersion],
    ['rkt version (plain bundle)', bundleVersion],
  ] as const) {
    console.log(`   ${what.padEnd(36)}${ms.toFixed(1).padStart(8)} ms   ${(ms / nodeStart).toFixed(2)} × node`)
  }
  console.log()
  startup = {nodeMs: nodeStart, rktVersionMs: rktVersion, bundleVersionMs: bundleVersion}
}

const results = {
  date: new Date().toISOString(),
  node: process.version,
  runs,
  ...(startup ? {startup} : {}),
  ...(wanted('fetch') ? {fetch: await benchFetch({root, work, runs})} : {}),
  ...(wanted('render') ? {render: await benchRender({root, work, runs})} : {}),
  ...(wanted('run') ? {run: await benchRun({root, work, runs, env: startEnv})} : {}),
  ...(wanted('net') ? {net: await benchNet({root, work, runs})} : {}),
  ...(wanted('kvm') ? {kvm: benchKvm({root, work, runs}), kvmApps: await benchKvmApps({root, work, runs})} : {}),
  ...(wanted('docker') ? {docker: await benchDocker({root, work, runs})} : {}),
}
fs.writeFileSync(path.join(work, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nresults: ${path.relative(process.cwd(), path.join(work, 'results.json'))}`)

// Delete the per-run directories last, outside every timed section.
removeDataDirs(path.join(work, 'runs'))
