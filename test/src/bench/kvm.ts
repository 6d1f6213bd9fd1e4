// Bench section 5: the kvm stage1. `rkt run` of a busybox app that prints and exits, in a microVM (stage1
// and image from the store; --net=none, then the default network), beside the floor: a bare QEMU microvm
// boot of the same kernel with the same machine, memory, vCPUs and accelerator, to a static init in an
// initramfs that reboots at once (what a VM start cannot avoid). Then the disk a pod of a 100 MiB image
// costs (its directory on the host's file system: overlay upper dirs, console log, configuration), which
// copy-on-write keeps near zero. VM boots take seconds under TCG: at most 5 runs per row, by turns (one boot
// of each row per round, after an untimed one each), so that the machine's drifting load (other VMs) hits
// the floor and the pods alike.
import {execFileSync, spawnSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {median, removeDataDirs, timeCommand} from './timing.js'

const IMAGE = 'bench.example/kvm-hello:1.0'
const BIG_IMAGE = 'bench.example/kvm-100mib:1.0'
/** Goals, as ratios to the bare boot: --net=none, and the default network (CNI, tap). */
const GOALS = {none: 1.2, default: 1.5} as const
const DISK_GOAL_KIB = 1024
/** TCG's code cache as pods get it (TCG_CACHE_MIB in stage1-kvm/src/qemu.ts). */
const TCG_CACHE_MIB = 128

/** A static init that reboots at once (reboot=t and -no-reboot end QEMU), in a newc initramfs. */
function bareInitramfs(dir: string): string {
  const cpio = path.join(dir, 'init.cpio')
  if (fs.existsSync(cpio)) return cpio
  const src = path.join(dir, 'init.c')
  const tree = path.join(dir, 'initramfs')
  fs.mkdirSync(tree, {recursive: true})
  fs.writeFileSync(
    src,
    '#include <sys/reboot.h>\n#include <unistd.h>\nint main(void) { reboot(RB_AUTOBOOT); for (;;) pause(); }\n',
  )
  execFileSync('gcc', ['-O2', '-static', '-o', path.join(tree, 'init'), src])
  execFileSync('sh', ['-c', `cd ${tree} && echo init | /bin/busybox cpio -o -H newc > ${cpio}`])
  return cpio
}

/** An ACI of busybox plus `extra` (made once), running `exec`. */
function image(dir: string, actool: string, name: string, exec: string[], extra?: (rootfs: string) => void): string {
  const aci = path.join(dir, `${name.split('/')[1]!.split(':')[0]}.aci`)
  if (fs.existsSync(aci)) return aci
  const l = path.join(dir, 'layout')
  fs.rmSync(l, {recursive: true, force: true})
  fs.mkdirSync(path.join(l, 'rootfs', 'bin'), {recursive: true})
  fs.copyFileSync('/bin/busybox', path.join(l, 'rootfs', 'bin', 'busybox'))
  fs.symlinkSync('busybox', path.join(l, 'rootfs', 'bin', 'sh'))
  extra?.(path.join(l, 'rootfs'))
  const [n, version] = name.split(':') as [string, string]
  const labels = [
    {name: 'version', value: version},
    {name: 'os', value: 'linux'},
    {name: 'arch', value: 'amd64'},
  ]
  const manifest = {acKind: 'ImageManifest', acVersion: '0.8.11', name: n, labels, app: {exec, user: '0', group: '0'}}
  fs.writeFileSync(path.join(l, 'manifest'), JSON.stringify(manifest))
  execFileSync(actool, ['build', l, aci])
  fs.rmSync(l, {recursive: true, force: true})
  return aci
}

export function benchKvm(o: {root: string; work: string; runs: number}) {
  const runs = Math.min(o.runs, 5)
  const dir = path.join(o.work, 'kvm')
  fs.mkdirSync(dir, {recursive: true})
  const rkt = path.join(o.root, 'bin', 'rkt')
  const actool = path.join(o.root, 'bin', 'actool')
  const stage1 = path.join(o.root, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')
  const kernel = path.join(o.root, 'stage1-kvm', 'dist', 'vmlinux')
  console.log(`5. kvm stage1: rkt run in a microVM beside a bare QEMU boot of the same kernel (${runs} runs, median)`)
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], {encoding: 'utf8'}).stdout.trim()
  if (!qemu || !fs.existsSync(stage1)) {
    console.log('   unavailable: qemu-system-x86_64 or the kvm stage1 is missing (scripts/setup, npm run build)\n')
    return {note: 'unavailable'}
  }
  const data = path.join(dir, 'data')
  removeDataDirs(data)
  const fetch = (aci: string): string =>
    execFileSync(rkt, [`--dir=${data}`, '--insecure-options=image', 'fetch', '--full', aci], {encoding: 'utf8'}).trim()
  const built = (name: string, exec: string[], extra?: (rootfs: string) => void): string =>
    image(dir, actool, name, exec, extra)
  const stage1Id = fetch(stage1)
  fetch(built(IMAGE, ['/bin/sh', '-c', 'echo hi']))
  const run = (net: string): string[] => [
    rkt,
    `--dir=${data}`,
    'run',
    '--pull-policy=never',
    `--stage1-hash=${stage1Id}`,
    `--net=${net}`,
    IMAGE,
  ]
  // Everything as the pod gets it: accelerator and TSC from the same choice, the same size (one app, no limits).
  const tcg = !fs.existsSync('/dev/kvm') || fs.existsSync('/sys/module/kvm_pvm')
  const khz = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]
  const append = ['console=ttyS0', 'quiet', 'panic=-1', 'reboot=t']
  // The pod's TCG settings (stage1-kvm/src/qemu.ts): the TSC's rate, the delay loop's from it, the code cache.
  const tscKhz = Math.round(Number(khz) * 1000)
  if (tcg && khz) append.push(`tsc_early_khz=${tscKhz}`, `lpj=${tscKhz * 10}`)
  const bare = [
    qemu,
    ...['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off'],
    ...['-accel', tcg ? `tcg,thread=multi,tb-size=${TCG_CACHE_MIB}` : 'kvm', '-cpu', tcg ? 'max' : 'host'],
    ...['-m', '512M', '-smp', String(os.availableParallelism())],
    ...['-nodefaults', '-no-user-config', '-nographic', '-no-reboot', '-serial', 'null'],
    ...['-kernel', kernel, '-initrd', bareInitramfs(dir), '-append', append.join(' ')],
  ]
  const gc = (): void => void spawnSync(rkt, [`--dir=${data}`, 'gc', '--grace-period=0s'], {stdio: 'ignore'})
  const items: {what: string; cmd: string[]; goal?: number}[] = [
    {what: `bare QEMU microvm boot (${tcg ? 'TCG' : 'KVM'}), same kernel`, cmd: bare},
    {what: 'rkt run, kvm, --net=none', cmd: run('none'), goal: GOALS.none},
    {what: 'rkt run, kvm, --net=default (CNI + tap)', cmd: run('default'), goal: GOALS.default},
  ]
  const times = items.map((): number[] => [])
  for (let round = -1; round < runs; round++) {
    items.forEach(({cmd}, i) => {
      const [ms] = timeCommand(cmd, {runs: 1, warmup: 0})
      if (round >= 0) times[i]!.push(ms!)
    })
    gc()
  }
  const rows: [string, number][] = items.map(({what}, i) => [what, median(times[i]!)])
  const floor = rows[0]![1]
  items.forEach(({what, goal}, i) => {
    const ms = rows[i]![1]
    const ratio = goal === undefined ? '' : `${(ms / floor).toFixed(2)} × bare boot (goal ≤ ${goal})`
    console.log(`   ${what.padEnd(44)}${ms.toFixed(0).padStart(7)} ms   ${ratio}`)
  })

  // Disk: a pod of a 100 MiB image. The image is rendered once in the tree store; the pod gets overlays.
  fetch(
    built(BIG_IMAGE, ['/bin/sh', '-c', 'wc -c < /blob'], (rootfs) =>
      fs.writeFileSync(path.join(rootfs, 'blob'), crypto.randomBytes(100 * 2 ** 20)),
    ),
  )
  const uuidFile = path.join(dir, 'big.uuid')
  const r = spawnSync(
    rkt,
    [
      `--dir=${data}`,
      'run',
      `--uuid-file-save=${uuidFile}`,
      '--pull-policy=never',
      `--stage1-hash=${stage1Id}`,
      '--net=none',
      BIG_IMAGE,
    ],
    {encoding: 'utf8'},
  )
  let diskKiB: number | undefined
  if (r.status === 0 && r.stdout.trim() === String(100 * 2 ** 20)) {
    const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
    // -x: the pod's own files on the host's file system, not the overlays mounted over the shared trees
    const du = execFileSync('du', ['-skx', path.join(data, 'pods', 'run', uuid)], {encoding: 'utf8'})
    diskKiB = Number(du.split('\t')[0])
    console.log(
      `   disk of a pod of a 100 MiB image:          ${String(diskKiB).padStart(7)} KiB   goal ≤ ${DISK_GOAL_KIB} KiB`,
    )
  } else {
    console.log(
      `   disk of a pod of a 100 MiB image: unavailable (rkt run exited ${r.status}: ${r.stderr.trim().split('\n').pop()})`,
    )
  }
  gc()
  console.log()
  return {floorMs: floor, rows: Object.fromEntries(rows), diskKiB, goals: GOALS}
}
