// Bench 2: rendering a 5,000-file image, beside `tar -xf` of the same archive into a fresh directory.
// The in-process numbers exclude Node start-up (the goal's terms); the CLI row includes everything.
import {extractAci} from '@rkt/core/aci/index'
import {hashTree, ImageStore} from '@rkt/core/store/index'
import {syncfs} from '@rkt/core/sys/native'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {median, timeCommand, timeFn} from './timing.js'

/** 50 directories × 100 files of 512 B–8 KiB random data, as peers.md's tree. */
function fixture(root: string, dir: string): {store: string; key: string; blob: string} {
  const store = path.join(dir, 'store')
  const keyFile = path.join(dir, 'key')
  if (fs.existsSync(keyFile)) {
    const key = fs.readFileSync(keyFile, 'utf8').trim()
    return {store, key, blob: ImageStore.open(store).blobPath(key)}
  }
  console.log('  (making the 5,000-file fixture: once)')
  fs.rmSync(dir, {recursive: true, force: true})
  const rootfs = path.join(dir, 'layout', 'rootfs')
  let seed = 1
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (let d = 0; d < 50; d++) {
    fs.mkdirSync(path.join(rootfs, `d${d}`), {recursive: true})
    for (let f = 0; f < 100; f++) {
      fs.writeFileSync(path.join(rootfs, `d${d}`, `f${f}`), crypto.randomBytes(512 + Math.floor(rand() * 7680)))
    }
  }
  fs.writeFileSync(
    path.join(dir, 'layout', 'manifest'),
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name: 'bench.example/tree',
      labels: [
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
    }),
  )
  const aci = path.join(dir, 'tree.aci')
  execFileSync(path.join(root, 'bin', 'actool'), ['build', '--no-compression', path.join(dir, 'layout'), aci])
  const id = execFileSync(
    path.join(root, 'bin', 'rkt'),
    [`--dir=${store}`, '--insecure-options=image', 'fetch', '--full', aci],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  )
    .toString()
    .trim()
  const key = id.slice(0, 'sha512-'.length + 64)
  fs.writeFileSync(keyFile, `${key}\n`)
  return {store, key, blob: ImageStore.open(store).blobPath(key)}
}

export async function benchRender(o: {root: string; work: string; runs: number}) {
  const {store, key, blob} = fixture(o.root, path.join(o.work, 'render'))
  const runsDir = path.join(o.work, 'runs')
  fs.mkdirSync(runsDir, {recursive: true})
  let n = 0
  const fresh = (): string => {
    const d = path.join(runsDir, `render-${n++}`)
    fs.mkdirSync(d)
    return d
  }
  const entries = Number(
    execFileSync('sh', ['-c', `tar -tf ${blob} | wc -l`])
      .toString()
      .trim(),
  )
  const bytes = fs.statSync(blob).size

  const tar = median(timeCommand([], {runs: o.runs, before: () => ['tar', '-xf', blob, '-C', fresh()]}))
  const hashOf: string[] = []
  const extract = median(
    await timeFn(
      () => {
        const d = fresh()
        extractAci(blob, d)
        hashOf.push(d)
      },
      {runs: o.runs},
    ),
  )
  const hash = median(await timeFn((i) => void hashTree(path.join(hashOf[i + 1]!, 'rootfs')), {runs: o.runs}))
  const sync = median(
    await timeFn(
      () => {
        const fd = fs.openSync(runsDir, 'r')
        try {
          syncfs(fd)
        } finally {
          fs.closeSync(fd)
        }
      },
      {runs: o.runs},
    ),
  )
  const cli = median(
    timeCommand([], {
      runs: o.runs,
      before: () => [
        path.join(o.root, 'bin', 'rkt'),
        `--dir=${store}`,
        'image',
        'render',
        key,
        path.join(fresh(), 'out'),
      ],
    }),
  )
  const treeStore = extract + hash + sync
  console.log(
    `2. render: ${entries.toLocaleString('en')}-entry image (${(bytes / 1024 / 1024).toFixed(1)} MiB tar), each run into a fresh directory`,
  )
  const lines: [string, number, string][] = [
    ['floor: tar -xf (same archive)', tar, '1.00'],
    ['extract (library, in process)', extract, (extract / tar).toFixed(2)],
    ['  + tree hash (for image verify)', hash, ''],
    ['  + syncfs before the rendered marker', sync, ''],
    ['tree-store render (sum)', treeStore, (treeStore / tar).toFixed(2)],
    ['rkt image render (CLI, end to end)', cli, (cli / tar).toFixed(2)],
  ]
  console.log(`   ${'what'.padEnd(40)}${'ms'.padStart(8)}   time × tar -x`)
  for (const [what, ms, ratio] of lines) console.log(`   ${what.padEnd(40)}${ms.toFixed(0).padStart(8)}   ${ratio}`)
  console.log('   goal: extract ≤ 3 × tar -x, excluding Node start-up')
  return {
    entries,
    tarBytes: bytes,
    tarMs: tar,
    extractMs: extract,
    hashMs: hash,
    syncMs: sync,
    treeStoreMs: treeStore,
    cliMs: cli,
    ratio: extract / tar,
  }
}
