// Bench 6: `rkt fetch docker://` of a ~100 MiB image from a local registry (Debian's docker-registry on
// loopback, plain http), beside the same work done by the peers: `skopeo copy docker://… oci:` (download and
// digest-check the blobs) plus `umoci unpack` (extract the layers into a root file system). Then the fetch
// of a second image that shares the big base layer, into the same store: only its small layer should be
// downloaded and converted. And, for information, `rkt image render` of the converted image.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {buildBigImages, layoutManifest, push, spawnRegistry} from '../util/registry.js'
import {median, timeCommand} from './timing.js'

const MiB = 1024 * 1024
const GOAL_FETCH = 1.0
const GOAL_SHARED = 0.25

/** `rkt image list --format=json` of a data dir. */
function listImages(rkt: string, dir: string): {id: string; name: string}[] {
  return JSON.parse(execFileSync(rkt, [`--dir=${dir}`, 'image', 'list', '--format=json'], {encoding: 'utf8'})) as {
    id: string
    name: string
  }[]
}

export async function benchDocker(o: {root: string; work: string; runs: number}) {
  const dir = path.join(o.work, 'docker')
  const tools = ['docker-registry', 'skopeo', 'umoci'].filter(
    (t) => execFileSync('sh', ['-c', `command -v ${t} || true`], {encoding: 'utf8'}).trim() === '',
  )
  console.log(`6. docker:// fetch of a ~100 MiB image from a registry on loopback, beside skopeo copy + umoci unpack`)
  if (tools.length > 0) {
    console.log(`   unavailable: ${tools.join(', ')} missing (scripts/setup)\n`)
    return {unavailable: tools}
  }
  if (!fs.existsSync(path.join(dir, 'images', 'done.json'))) console.log('  (making the 100 MiB images: once)')
  const images = buildBigImages(path.join(dir, 'images'))
  const big = layoutManifest(images.layout, 'big')
  const big2 = layoutManifest(images.layout, 'big2')
  const baseLayer = big.layers[0]!
  const baseBlob = path.join(images.layout, 'blobs', ...baseLayer.digest.split(':'))
  const gzipBytes = fs.statSync(baseBlob).size
  const tarBytes = Number(execFileSync('sh', ['-c', `gzip -dc ${baseBlob} | wc -c`], {encoding: 'utf8'}).trim())
  const smallLayer = big2.layers.at(-1)!.digest

  const rkt = path.join(o.root, 'bin', 'rkt')
  const runsDir = path.join(o.work, 'runs', 'docker')
  fs.mkdirSync(runsDir, {recursive: true})
  const emptyConfig = path.join(runsDir, 'etc')
  fs.mkdirSync(emptyConfig, {recursive: true})
  let n = 0
  const fresh = (what: string): string => {
    const d = path.join(runsDir, `${what}-${n++}`)
    fs.mkdirSync(d)
    return d
  }
  const env = {...process.env, REGISTRY_AUTH_FILE: path.join(runsDir, 'skopeo-auth.json')}

  const reg = await spawnRegistry({dir: path.join(dir, 'registry')})
  try {
    const bigUrl = push(images.refs.big, 'big:latest', reg.host)
    const big2Url = push(images.refs.big2, 'big2:latest', reg.host)
    const bigRef = bigUrl.slice('docker://'.length)

    // (a) the peers: download + digest check into an OCI layout, then unpack the layers into a rootfs.
    const peer = median(
      timeCommand([], {
        runs: o.runs,
        env,
        before: () => {
          const d = fresh('peer')
          return [
            'sh',
            '-c',
            `skopeo copy --quiet --src-tls-verify=false docker://${bigRef} oci:${d}/oci:big && umoci unpack --image ${d}/oci:big ${d}/bundle`,
          ]
        },
      }),
    )
    const skopeoOnly = median(
      timeCommand([], {
        runs: o.runs,
        env,
        before: () => [
          'skopeo',
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${bigRef}`,
          `oci:${fresh('skopeo')}/oci:big`,
        ],
      }),
    )

    // For information: the same download with plain tar extraction (umoci unpack also hashes every file
    // for its mtree manifest).
    const untar = big.layers
      .map((l) => `tar -xzf DIR/oci/blobs/${l.digest.replace(':', '/')} -C DIR/rootfs`)
      .join(' && ')
    const skopeoTar = median(
      timeCommand([], {
        runs: o.runs,
        env,
        before: () => {
          const d = fresh('tar')
          return [
            'sh',
            '-c',
            `skopeo copy --quiet --src-tls-verify=false docker://${bigRef} oci:${d}/oci:big && mkdir ${d}/rootfs && ${untar.replaceAll('DIR', d)}`,
          ]
        },
      }),
    )

    const mibs = (ms: number): string => ((tarBytes / MiB / ms) * 1000).toFixed(0)
    console.log(
      `   base layer ${(tarBytes / MiB).toFixed(1)} MiB tar (${(gzipBytes / 1e6).toFixed(1)} MB gzip, ${(tarBytes / gzipBytes).toFixed(2)}× ratio); second image adds ${big2.layers.length - big.layers.length} small layer`,
    )
    console.log(`   ${'what'.padEnd(52)}${'ms'.padStart(8)}${'MiB/s'.padStart(8)}   ratio`)
    const line = (what: string, ms: number, ratio = '', rate = true): void =>
      console.log(`   ${what.padEnd(52)}${ms.toFixed(0).padStart(8)}${(rate ? mibs(ms) : '').padStart(8)}   ${ratio}`)
    line('(a) peer: skopeo copy docker:// oci: + umoci unpack', peer, '1.00')
    line('    (skopeo copy alone)', skopeoOnly)
    line('    (skopeo copy + tar -xzf of the layers)', skopeoTar)

    const rktArgs = (d: string, url: string): string[] => [
      rkt,
      `--dir=${d}`,
      `--local-config=${emptyConfig}`,
      '--system-config=/nonexistent',
      '--insecure-options=image,http',
      'fetch',
      url,
    ]
    // (b) rkt fetch into a fresh store; the stores (warm-up included) are kept for (c) and (d).
    const stores: string[] = []
    let fetchMs: number
    try {
      fetchMs = median(
        timeCommand([], {
          runs: o.runs,
          before: () => {
            const d = fresh('rkt')
            stores.push(d)
            return rktArgs(d, bigUrl)
          },
        }),
      )
    } catch (err) {
      console.log(
        `   (b) rkt fetch docker:// failed: ${String((err as Error).message)
          .split('\n')
          .slice(0, 3)
          .join(' ')}`,
      )
      console.log(`   goals: (b)/(a) ≤ ${GOAL_FETCH.toFixed(2)}, (c)/(b) ≤ ${GOAL_SHARED.toFixed(2)}\n`)
      return {
        imageBytes: tarBytes,
        gzipBytes,
        peerMs: peer,
        skopeoMs: skopeoOnly,
        skopeoTarMs: skopeoTar,
        rkt: 'failed',
      }
    }
    line('(b) rkt fetch docker:// (fresh store)', fetchMs, `${(fetchMs / peer).toFixed(2)} × (a)`)

    // (c) the second image, sharing the base layer, into each store (b) filled.
    await reg.settle()
    const baseGetsBefore = reg.blobGets('*', baseLayer.digest)
    const smallGetsBefore = reg.blobGets('*', smallLayer)
    let k = 0
    const sharedMs = median(timeCommand([], {runs: o.runs, before: () => rktArgs(stores[k++]!, big2Url)}))
    await reg.settle()
    const baseGets = reg.blobGets('*', baseLayer.digest) - baseGetsBefore
    const smallGets = reg.blobGets('*', smallLayer) - smallGetsBefore
    line(
      '(c) rkt fetch of a 2nd image sharing the base layer',
      sharedMs,
      `${(sharedMs / fetchMs).toFixed(2)} × (b)`,
      false,
    )

    // (d) rendering the converted image out of each store, for information.
    const id = listImages(rkt, stores[0]!).find((i) => /big(?!2)/.test(i.name))?.id
    let renderMs: number | undefined
    if (id) {
      k = 0
      renderMs = median(
        timeCommand([], {
          runs: o.runs,
          before: () => {
            const d = stores[k++]!
            return [rkt, `--dir=${d}`, 'image', 'render', id, path.join(d, `render-${n++}`)]
          },
        }),
      )
      line('(d) rkt image render of the converted image', renderMs, '(information)')
    } else {
      console.log('   (d) no image named like big in the store: not measured')
    }
    console.log(
      `   layer downloads during the ${o.runs + 1} runs of (c): base ${baseGets} (want 0), own layer ${smallGets} (want ${o.runs + 1})`,
    )
    console.log(
      `   goals: (b)/(a) ≤ ${GOAL_FETCH.toFixed(2)} (${fetchMs / peer <= GOAL_FETCH ? 'met' : 'NOT met'}), (c)/(b) ≤ ${GOAL_SHARED.toFixed(2)} (${sharedMs / fetchMs <= GOAL_SHARED ? 'met' : 'NOT met'})\n`,
    )
    return {
      imageBytes: tarBytes,
      gzipBytes,
      cpus: os.cpus().length,
      peerMs: peer,
      skopeoMs: skopeoOnly,
      skopeoTarMs: skopeoTar,
      fetchMs,
      sharedMs,
      renderMs,
      ratioFetch: fetchMs / peer,
      ratioShared: sharedMs / fetchMs,
      sharedBaseLayerGets: baseGets,
    }
  } finally {
    await reg.stop()
  }
}
