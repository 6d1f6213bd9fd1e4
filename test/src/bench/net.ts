// Bench section 4: time to the first answered request on a forwarded port — `rkt run --net=default
// --port=…` (CNI ptp + portmap) beside `--net=host` (no network set-up at all) and `podman run -p` with
// podman's default network. Each run starts busybox httpd in a pod, polls http://127.0.0.1:PORT/ until it
// answers 200, then stops the pod and collects it (untimed: an exited pod keeps its port forward until gc).
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {median} from './timing.js'

const IMAGE = 'bench.example/httpd:1.0'
const PODMAN_IMAGE = 'localhost/rkt-bench-httpd:1'
const PORT = 18181
const HTTPD = ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www']

type Row = {what: string; ms: number | null; note?: string}

/** busybox with httpd serving /www/index.html on 8080, which the manifest names `http`; and a tar for podman. */
function fixture(root: string, dir: string): {aci: string; tar: string} {
  const aci = path.join(dir, 'httpd.aci')
  const tar = path.join(dir, 'rootfs.tar')
  if (fs.existsSync(aci) && fs.existsSync(tar)) return {aci, tar}
  fs.rmSync(dir, {recursive: true, force: true})
  const rootfs = path.join(dir, 'layout', 'rootfs')
  for (const d of ['bin', 'usr', 'etc', 'www', 'proc', 'sys', 'dev', 'tmp'])
    fs.mkdirSync(path.join(rootfs, d), {recursive: true})
  fs.writeFileSync(path.join(rootfs, 'etc', 'os-release'), 'NAME="rkt bench httpd"\nID=busybox\n')
  fs.writeFileSync(path.join(rootfs, 'www', 'index.html'), 'ok\n')
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'))
  fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'))
  const [name, version] = IMAGE.split(':') as [string, string]
  fs.writeFileSync(
    path.join(dir, 'layout', 'manifest'),
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name,
      labels: [
        {name: 'version', value: version},
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
      app: {exec: HTTPD, user: '0', group: '0', ports: [{name: 'http', protocol: 'tcp', port: 8080}]},
    }),
  )
  execFileSync(path.join(root, 'bin', 'actool'), ['build', path.join(dir, 'layout'), aci])
  execFileSync('tar', ['-cf', tar, '-C', rootfs, '.'])
  return {aci, tar}
}

/** One GET; resolves true on a 200. */
function answered(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({host: '127.0.0.1', port, path: '/', timeout: 500}, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => {
      req.destroy()
      resolve(false)
    })
  })
}

/** Starts cmd, polls the port until it answers (≤ 20 s), stops the process; returns ms to the first answer. */
async function firstRequest(cmd: readonly string[], port: number, stop: () => void): Promise<number> {
  const t0 = performance.now()
  const child = spawn(cmd[0]!, cmd.slice(1), {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    for (const end = t0 + 20_000; performance.now() < end;) {
      if (await answered(port)) return performance.now() - t0
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr.trim().split('\n').pop()}`)
      await sleep(5)
    }
    throw new Error('no answer within 20 s')
  } finally {
    stop()
    if ((await Promise.race([exited, sleep(10_000, 'timeout')])) === 'timeout') child.kill('SIGKILL')
  }
}

async function row(what: string, runs: number, run: () => Promise<number>): Promise<Row> {
  const times: number[] = []
  try {
    for (let i = 0; i < runs; i++) times.push(await run())
    return {what, ms: median(times)}
  } catch (err) {
    return {what, ms: null, note: String((err as Error).message ?? err)}
  }
}

export async function benchNet(o: {root: string; work: string; runs: number}) {
  const {aci, tar} = fixture(o.root, path.join(o.work, 'net'))
  const rkt = path.join(o.root, 'bin', 'rkt')
  fs.mkdirSync(path.join(o.work, 'runs'), {recursive: true})
  const data = fs.mkdtempSync(path.join(o.work, 'runs', 'net-'))
  execFileSync(rkt, [`--dir=${data}`, '--insecure-options=image', 'fetch', aci], {stdio: 'ignore'})
  const uuidFile = path.join(data, 'uuid')
  const stopPod = (): void => {
    const uuid = fs.existsSync(uuidFile) ? fs.readFileSync(uuidFile, 'utf8').trim() : ''
    if (uuid) spawnSync(rkt, [`--dir=${data}`, 'stop', uuid], {stdio: 'ignore'})
    fs.rmSync(uuidFile, {force: true})
    // Untimed, but needed: an exited pod keeps its port forward until gc, and the next pod's rule for the
    // same host port would sit behind it.
    spawnSync(rkt, [`--dir=${data}`, 'gc', '--grace-period=0s'], {stdio: 'ignore'})
  }
  const rktRun = (net: string[]): string[] => [
    rkt,
    `--dir=${data}`,
    'run',
    '--pull-policy=never',
    `--uuid-file-save=${uuidFile}`,
    ...net,
    IMAGE,
  ]
  const runs = Math.min(o.runs, 5)
  const rows: Row[] = []
  rows.push(await row('rkt run --net=host (nspawn)', runs, () => firstRequest(rktRun(['--net=host']), 8080, stopPod)))
  rows.push(
    await row('rkt run --net=default --port=http:… (nspawn)', runs, () =>
      firstRequest(rktRun(['--net=default', `--port=http:${PORT}`]), PORT, stopPod),
    ),
  )
  spawnSync(rkt, [`--dir=${data}`, 'gc', '--grace-period=0s'], {stdio: 'ignore'})

  const podmanName = `rkt-bench-net-${process.pid}`
  const imported =
    spawnSync('podman', ['image', 'exists', PODMAN_IMAGE]).status === 0 ||
    spawnSync('podman', ['import', tar, PODMAN_IMAGE], {stdio: 'ignore'}).status === 0
  rows.push(
    imported
      ? await row('podman run -p (default network, runc)', runs, () =>
          firstRequest(
            [
              'podman',
              'run',
              '--rm',
              '--runtime',
              'runc',
              '--name',
              podmanName,
              '--ulimit',
              'nofile=20000:20000',
              '--ulimit',
              'nproc=32768:32768',
              '-p',
              `127.0.0.1:${PORT}:8080`,
              PODMAN_IMAGE,
              ...HTTPD,
            ],
            PORT,
            () => void spawnSync('podman', ['stop', '-t', '1', podmanName], {stdio: 'ignore'}),
          ),
        )
      : {what: 'podman run -p (default network, runc)', ms: null, note: 'podman not installed or import failed'},
  )

  console.log('4. first answered request on a forwarded port: busybox httpd, GET / from the host’s 127.0.0.1')
  const podman = rows[2]!.ms
  console.log(`   ${'what'.padEnd(48)}${'ms'.padStart(8)}${'× podman'.padStart(10)}`)
  for (const r of rows) {
    const cells =
      r.ms === null
        ? `${'—'.padStart(8)}   unavailable: ${r.note}`
        : `${r.ms.toFixed(1).padStart(8)}${(podman === null ? '—' : (r.ms / podman).toFixed(2)).padStart(10)}`
    console.log(`   ${r.what.padEnd(48)}${cells}`)
  }
  return Object.fromEntries(rows.map((r) => [r.what, r.note === undefined ? {ms: r.ms} : {ms: r.ms, note: r.note}]))
}
