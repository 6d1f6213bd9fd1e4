// Benchmark: verifyDetached on a 100 MiB file vs `gpg --verify` of the same file and signature.
// Run: node --import tsx core/src/trust/verify.bench.ts [sizeMiB]
import {execFile} from 'node:child_process'
import crypto from 'node:crypto'
import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

import {Gpg} from './gpg-fixture.js'
import {parsePublicKey} from './keys.js'
import {verifyDetached} from './verify.js'

const sizeMiB = Number(process.argv[2] ?? 100)
const runs = 5

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return median(samples)
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err) => (err ? reject(new Error(`${cmd} failed`, {cause: err})) : resolve()))
  })
}

const gpg = await Gpg.create()
try {
  const file = path.join(gpg.work, 'image.aci')
  const handle = await fs.open(file, 'w')
  for (let i = 0; i < sizeMiB; i++) await handle.write(crypto.randomBytes(1024 * 1024))
  await handle.close()
  for await (const _ of createReadStream(file)); // warm the page cache for both contenders

  console.log(`verify of a ${sizeMiB} MiB file, median of ${runs} runs (node ${process.version})`)
  for (const algo of ['ed25519', 'rsa3072']) {
    const fpr = await gpg.genKey(`Bench ${algo} <bench@example.com>`, {algo})
    const signature = await gpg.detachSign(file, [fpr])
    const sigFile = await gpg.writeFile(`${algo}.asc`, signature)
    const keys = [await parsePublicKey(await gpg.exportKey(fpr))]
    const hash = openpgpHashName(signature)

    const gpgMs = await time(() => run('gpg', ['--homedir', gpg.home, '--batch', '-q', '--verify', sigFile, file]))
    const sha = await time(async () => {
      const h = crypto.createHash(hash)
      for await (const c of createReadStream(file, {highWaterMark: 1 << 20})) h.update(c as Buffer)
      h.digest()
    })
    const ours64k = await time(() => verifyDetached({data: () => createReadStream(file), signature, keys}))
    const ours1m = await time(() =>
      verifyDetached({data: () => createReadStream(file, {highWaterMark: 1 << 20}), signature, keys}),
    )
    console.log(
      `${algo.padEnd(8)} (${hash}): gpg --verify ${gpgMs.toFixed(0)} ms | verifyDetached ${ours64k.toFixed(0)} ms ` +
        `(64 KiB reads), ${ours1m.toFixed(0)} ms (1 MiB reads) | bare node ${hash} of the file ${sha.toFixed(0)} ms`,
    )
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
} finally {
  await gpg.cleanup()
}

// The digest gpg chose, read from the signature packet (byte 5 of a v4 signature body).
function openpgpHashName(armored: string): string {
  const body = Buffer.from(armored.split('\n\n')[1]!.split('\n=')[0]!.replace(/\s/g, ''), 'base64')
  const header = body[0]! & 0x40 ? 2 : 1 + (1 << (body[0]! & 3))
  const names: Record<number, string> = {2: 'sha1', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224'}
  return names[body[header + 3]!] ?? 'sha256'
}
