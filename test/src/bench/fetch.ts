// Bench 1: `rkt fetch` of a ~100 MiB gzip ACI with a detached RSA signature, beside the floor of the same
// work done by the fastest tools on the machine: `gzip -dc | sha512sum` (decompress and hash, the image ID)
// plus `gpg --verify` (the signature).
import type {Globals} from '@rkt/core/config/globals'

import {fetchFile} from '@rkt/core/fetch/index'
import {ImageStore} from '@rkt/core/store/index'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {median, timeCommand, timeFn} from './timing.js'

const MiB = 1024 * 1024

function sh(cmd: string, env?: NodeJS.ProcessEnv): void {
  execFileSync('sh', ['-c', cmd], {stdio: ['ignore', 'ignore', 'inherit'], env: env ?? process.env})
}

/** A 100 MiB rootfs like peers.md's (random, base64 text, number text), built, signed and trusted once. */
function fixture(root: string, dir: string): {aci: string; etc: string; gnupg: string} {
  const aci = path.join(dir, 'big.aci')
  const etc = path.join(dir, 'etc')
  const gnupg = path.join(dir, 'gnupg')
  if (fs.existsSync(`${aci}.asc`) && fs.existsSync(etc)) return {aci, etc, gnupg}
  console.log('  (making the 100 MiB fixture: once)')
  fs.rmSync(dir, {recursive: true, force: true})
  const rootfs = path.join(dir, 'layout', 'rootfs')
  fs.mkdirSync(path.join(rootfs, 'bin'), {recursive: true})
  fs.mkdirSync(path.join(rootfs, 'data'))
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'))
  sh(`head -c ${40 * MiB} /dev/urandom > ${rootfs}/data/random.bin`)
  sh(`head -c ${(30 * MiB * 3) / 4} /dev/urandom | base64 > ${rootfs}/data/text.b64`)
  sh(`seq 1 100000000 | head -c ${30 * MiB} > ${rootfs}/data/seq.txt`)
  fs.writeFileSync(
    path.join(dir, 'layout', 'manifest'),
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: 'bench.example/big',
      labels: [
        {name: 'version', value: '1.0'},
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
      app: {exec: ['/bin/busybox', 'true'], user: '0', group: '0'},
    }),
  )
  execFileSync(path.join(root, 'bin', 'actool'), ['build', path.join(dir, 'layout'), aci])
  fs.mkdirSync(gnupg, {mode: 0o700})
  const g = `gpg --homedir ${gnupg} --batch --passphrase '' --pinentry-mode loopback`
  sh(`${g} --quick-gen-key 'rkt bench <bench@example.invalid>' rsa3072 sign never 2>/dev/null`)
  sh(`${g} --armor --detach-sign --output ${aci}.asc ${aci}`)
  sh(`${g} --armor --export bench@example.invalid > ${dir}/key.asc`)
  execFileSync(
    path.join(root, 'bin', 'rkt'),
    [`--local-config=${etc}`, 'trust', '--prefix=bench.example', '--skip-fingerprint-review', `${dir}/key.asc`],
    {
      stdio: 'ignore',
    },
  )
  sh(`gpgconf --homedir ${gnupg} --kill all`)
  return {aci, etc, gnupg}
}

export async function benchFetch(o: {root: string; work: string; runs: number}) {
  const dir = path.join(o.work, 'fetch')
  const {aci, etc, gnupg} = fixture(o.root, dir)
  const runsDir = path.join(o.work, 'runs')
  fs.mkdirSync(runsDir, {recursive: true})
  const size = fs.statSync(aci).size
  const tarBytes = Number(
    execFileSync('sh', ['-c', `gzip -dc ${aci} | wc -c`])
      .toString()
      .trim(),
  )

  const unzipHash = median(timeCommand(['sh', '-c', `gzip -dc ${aci} | sha512sum > /dev/null`], {runs: o.runs}))
  const gpgVerify = median(
    timeCommand(['gpg', '--homedir', gnupg, '--batch', '-q', '--verify', `${aci}.asc`, aci], {runs: o.runs}),
  )
  sh(`gpgconf --homedir ${gnupg} --kill all`)
  const floor = unzipHash + gpgVerify

  let n = 0
  const fresh = (): string => {
    const d = path.join(runsDir, `fetch-${n++}`)
    fs.mkdirSync(d)
    return d
  }
  const cli = median(
    timeCommand([], {
      runs: o.runs,
      before: () => [
        path.join(o.root, 'bin', 'rkt'),
        `--dir=${fresh()}`,
        `--local-config=${etc}`,
        '--system-config=/nonexistent',
        'fetch',
        aci,
      ],
    }),
  )

  const phases: Record<string, number[]> = {}
  const inproc = median(
    await timeFn(
      async () => {
        const d = fresh()
        const globals: Globals = {
          dir: d,
          localConfig: etc,
          systemConfig: '/nonexistent',
          userConfig: '',
          debug: false,
          insecure: new Set(),
          trustKeysFromHttps: false,
        }
        const timings: Record<string, number> = {}
        await fetchFile(ImageStore.open(d), aci, {globals, timings})
        for (const [k, v] of Object.entries(timings)) (phases[k] ??= []).push(v)
      },
      {runs: o.runs},
    ),
  )

  const mibs = (ms: number): string => ((tarBytes / MiB / ms) * 1000).toFixed(0)
  console.log(
    `1. fetch + verify + store: ${(tarBytes / MiB).toFixed(1)} MiB image (${(size / 1e6).toFixed(1)} MB gzip), RSA-3072 detached signature`,
  )
  const lines: [string, number, string][] = [
    ['floor: gzip -dc | sha512sum', unzipHash, ''],
    ['floor: gpg --verify', gpgVerify, ''],
    ['floor total (sequential)', floor, '1.00'],
    ['rkt fetch (CLI, end to end)', cli, (floor / cli).toFixed(2)],
    ['rkt fetch (library, in process)', inproc, (floor / inproc).toFixed(2)],
  ]
  console.log(`   ${'what'.padEnd(36)}${'ms'.padStart(8)}${'MiB/s'.padStart(8)}   throughput × floor`)
  for (const [what, ms, ratio] of lines) {
    console.log(`   ${what.padEnd(36)}${ms.toFixed(0).padStart(8)}${mibs(ms).padStart(8)}   ${ratio}`)
  }
  console.log("   goal: ≥ 0.60 × the floor's throughput")
  const ph = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)]))
  console.log(
    `   phases (library): ${Object.entries(ph)
      .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
      .join(', ')} (verify runs concurrently with staging)\n`,
  )
  return {
    imageBytes: tarBytes,
    fileBytes: size,
    floor: {unzipHash, gpgVerify, total: floor},
    cliMs: cli,
    libraryMs: inproc,
    phases: ph,
    ratio: floor / cli,
  }
}
