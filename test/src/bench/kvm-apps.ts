// Bench section 5, real applications (images of Debian packages, scripts/test-images.mjs):
//   - a Python-import-heavy start (flask, gunicorn, werkzeug, jinja2: what the Flask test app imports), timed
//     inside the app, under kvm beside the same import in a bare QEMU guest booted from an ext4 disk of the
//     same image's files (the TCG floor: the same kernel, machine, memory and vCPUs, nothing of rkt's), with
//     nspawn printed beside;
//   - PostgreSQL's first answered query (from `rkt run` to psql's answer through the Unix socket, the cluster
//     made at first start), under kvm beside nspawn.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {median, removeDataDirs} from './timing.js'

const IMPORT_GOAL = 1.3
const IMPORT =
  'import time; t = time.perf_counter(); import flask, gunicorn.app.wsgiapp, werkzeug.serving, jinja2; ' +
  "print('import-ms %.0f' % ((time.perf_counter() - t) * 1000))"
// The app starts the server and asks until it answers (or the server has died: then it fails).
const PG_FIRST_QUERY =
  '/usr/local/bin/start-postgres & ' +
  "until /usr/lib/postgresql/15/bin/psql -h /run/postgresql -U postgres -Atc 'select 6*7' 2>/dev/null; " +
  'do kill -0 $! || exit 1; sleep 0.1; done'

/** The image's ACI from the machine cache (built first if missing: minutes). */
function testImage(root: string, name: string): string {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'test-images.mjs'), name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return out.trim().split(' ')[1]!
}

/** One timed run: wall ms and the import time the program printed (NaN if it printed none). */
function timedImport(argv: readonly string[]): {wallMs: number; importMs: number} {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(argv[0]!, argv.slice(1), {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000})
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const m = /import-ms (\d+)/.exec(r.stdout)
  if (!m) throw new Error(`${argv.join(' ')}: no import time (exit ${r.status}): ${r.stdout}${r.stderr}`.slice(-2000))
  return {wallMs, importMs: Number(m[1])}
}

/** A raw ext4 disk of the ACI's rootfs plus /bench-init (the bare guest's PID 1), made once. */
function bareDisk(dir: string, aci: string): string {
  const disk = path.join(dir, `${path.basename(aci, '.aci')}.ext4`)
  if (fs.existsSync(disk)) return disk
  const tree = path.join(dir, 'bare-tree')
  fs.rmSync(tree, {recursive: true, force: true})
  fs.mkdirSync(tree)
  execFileSync('tar', ['-xf', aci, '-C', tree, 'rootfs'])
  const rootfs = path.join(tree, 'rootfs')
  // PID 1 runs the import as the app does, prints on the console and exits: the kernel panics, and panic=-1
  // with -no-reboot ends QEMU.
  fs.writeFileSync(path.join(rootfs, 'bench-init'), `#!/bin/sh\n/usr/bin/python3 -c "${IMPORT}"\n`, {mode: 0o755})
  const mib = Math.ceil(Number(execFileSync('du', ['-sm', rootfs], {encoding: 'utf8'}).split('\t')[0]) * 1.3) + 64
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', rootfs, `${disk}.tmp`, `${mib}M`])
  fs.renameSync(`${disk}.tmp`, disk)
  fs.rmSync(tree, {recursive: true, force: true})
  return disk
}

/** Time from starting `argv` to the first stdout line matching `answer`; then the process is left to end. */
function timeToAnswer(argv: readonly string[], answer: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const p = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    let ms: number | undefined
    p.stdout.on('data', (d: Buffer) => {
      out += String(d)
      if (ms === undefined && answer.test(out)) ms = Number(process.hrtime.bigint() - t0) / 1e6
    })
    p.stderr.on('data', (d: Buffer) => (err += String(d)))
    p.on('close', (code) => {
      if (ms !== undefined) resolve(ms)
      else reject(new Error(`${argv.join(' ')} exited ${code} without ${answer}: ${out}${err}`.slice(-2000)))
    })
  })
}

export async function benchKvmApps(o: {root: string; work: string; runs: number}) {
  const runs = Math.min(o.runs, 3)
  const dir = path.join(o.work, 'kvm-apps')
  fs.mkdirSync(dir, {recursive: true})
  const rkt = path.join(o.root, 'bin', 'rkt')
  const stage1s = path.join(o.root, 'core', 'dist', 'stage1-images')
  const kernel = path.join(o.root, 'stage1-kvm', 'dist', 'vmlinux')
  console.log(`5b. real applications (Debian packages): kvm beside a bare QEMU guest and nspawn (${runs} runs, median)`)
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], {encoding: 'utf8'}).stdout.trim()
  if (!qemu || !fs.existsSync(kernel)) {
    console.log('   unavailable: qemu-system-x86_64 or the guest kernel is missing (scripts/setup, npm run build)\n')
    return {note: 'unavailable'}
  }
  const flaskAci = testImage(o.root, 'flask')
  const pgAci = testImage(o.root, 'postgres')
  const data = path.join(dir, 'data')
  removeDataDirs(data)
  const fetch = (aci: string): string =>
    execFileSync(rkt, [`--dir=${data}`, '--insecure-options=image', 'fetch', '--full', aci], {encoding: 'utf8'}).trim()
  const engines = {
    kvm: fetch(path.join(stage1s, 'stage1-kvm.aci')),
    nspawn: fetch(path.join(stage1s, 'stage1-nspawn.aci')),
  }
  const flask = fetch(flaskAci)
  const pg = fetch(pgAci)
  const run = (engine: keyof typeof engines, image: string, exec: string, args: string[]): string[] => [
    rkt,
    `--dir=${data}`,
    'run',
    '--pull-policy=never',
    `--stage1-hash=${engines[engine]}`,
    '--net=none',
    image,
    `--exec=${exec}`,
    '--',
    ...args,
  ]
  const gc = (): void => void spawnSync(rkt, [`--dir=${data}`, 'gc', '--grace-period=0s'], {stdio: 'ignore'})

  // The floor: what the pod's VM is (accelerator, TSC, machine, 512 MiB, every host CPU), booted from a disk.
  const tcg = !fs.existsSync('/dev/kvm') || fs.existsSync('/sys/module/kvm_pvm')
  const khz = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]
  const append = ['console=ttyS0', 'quiet', 'panic=-1', 'reboot=t', 'root=/dev/vda', 'rootfstype=ext4', 'ro']
  append.push('init=/bench-init')
  if (tcg && khz) append.push(`tsc_early_khz=${Math.round(Number(khz) * 1000)}`)
  const bare = [
    qemu,
    ...['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off'],
    ...['-accel', tcg ? 'tcg,thread=multi' : 'kvm', '-cpu', tcg ? 'max' : 'host'],
    ...['-m', '512M', '-smp', String(os.availableParallelism())],
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', 'stdio'],
    ...['-kernel', kernel, '-append', append.join(' ')],
    ...['-drive', `file=${bareDisk(dir, flaskAci)},format=raw,if=none,id=root,readonly=on`],
    ...['-device', 'virtio-blk-device,drive=root'],
  ]
  // By turns (one run of each per round, after one untimed probe each), so the machine's drift hits all alike.
  const cmds = {
    bare,
    kvm: run('kvm', flask, '/usr/bin/python3', ['-c', IMPORT]),
    nspawn: run('nspawn', flask, '/usr/bin/python3', ['-c', IMPORT]),
  }
  const got: Record<keyof typeof cmds, {wallMs: number; importMs: number}[]> = {bare: [], kvm: [], nspawn: []}
  for (let i = -1; i < runs; i++)
    for (const [k, cmd] of Object.entries(cmds) as [keyof typeof cmds, string[]][]) {
      const r = timedImport(cmd)
      gc()
      if (i >= 0) got[k].push(r)
    }
  const med = (k: keyof typeof cmds) => ({
    wallMs: median(got[k].map((r) => r.wallMs)),
    importMs: median(got[k].map((r) => r.importMs)),
  })
  const floor = med('bare')
  const rows = {bare: floor, kvm: med('kvm'), nspawn: med('nspawn')}
  const label = {
    bare: `bare QEMU microvm (${tcg ? 'TCG' : 'KVM'}), ext4 disk of the image`,
    kvm: 'rkt run, kvm, --net=none',
    nspawn: 'rkt run, nspawn, --net=none',
  }
  console.log(`   python3: import flask, gunicorn, werkzeug, jinja2     import ms  × floor   wall ms`)
  for (const k of ['bare', 'kvm', 'nspawn'] as const) {
    const r = rows[k]
    const ratio = k === 'nspawn' ? '' : `${(r.importMs / floor.importMs).toFixed(2)} ×`
    console.log(
      `   ${label[k].padEnd(50)}${r.importMs.toFixed(0).padStart(10)}  ${ratio.padStart(7)}${r.wallMs.toFixed(0).padStart(10)}`,
    )
  }
  console.log(`   goal: the import under kvm ≤ ${IMPORT_GOAL} × the bare guest's`)

  // PostgreSQL: rkt run to the first answer through its socket (initdb included, as at a user's first start).
  // An engine on which the server does not answer gets its row with the reason instead of a time.
  const pgRows: Record<string, number | string> = {}
  console.log(`   PostgreSQL 15, rkt run to the first answered query (cluster made at start):`)
  for (const engine of ['kvm', 'nspawn'] as const) {
    const times: number[] = []
    try {
      for (let i = 0; i < runs; i++) {
        times.push(await timeToAnswer(run(engine, pg, '/bin/sh', ['-c', PG_FIRST_QUERY]), /^42$/m))
        gc()
      }
      pgRows[engine] = median(times)
    } catch (err) {
      gc()
      pgRows[engine] = `no answer: ${(err as Error).message
        .split('\n')
        .filter((l) => /FATAL|rror/.test(l))
        .join('; ')}`
    }
    const v = pgRows[engine]
    const shown = typeof v === 'number' ? `${v.toFixed(0).padStart(10)} ms` : v
    console.log(`   ${`rkt run, ${engine}, --net=none`.padEnd(50)}${shown}`)
  }
  const [k, n] = [pgRows['kvm'], pgRows['nspawn']]
  if (typeof k === 'number' && typeof n === 'number') console.log(`   kvm ÷ nspawn: ${(k / n).toFixed(2)} ×`)
  console.log()
  return {python: rows, importGoal: IMPORT_GOAL, postgresFirstQueryMs: pgRows}
}
