// Crash and concurrency safety of the image store through the CLI (docs/security.md FI-01, FI-02,
// FI-10, FI-18; SEC-45): a fetch or render killed with SIGKILL half-way leaves nothing visible and the next
// command succeeds; concurrent fetches of one image store it once; a damaged index fails closed with the fix
// named, and rebuild-index restores it without touching the image files; a commit that a full disk stops
// half-way (a rename failing with ENOSPC, injected with strace) leaves an orphan blob that neither blocks the
// next fetch nor outlives `rkt image gc`.
import {encodeUstarHeader} from '@rkt/core/aci/index'
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test, type TestContext} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {ACTOOL, makeLayout, requireTool, RKT, Sandbox} from '../util/harness.js'

const MiB = 1024 * 1024
const BIG_FILES = 20
const BIG_FILE_SIZE = 10 * MiB

/** A ~200 MiB uncompressed image of random files, built once for the suite; sha256 of each file. */
interface BigImage {
  readonly aci: string
  readonly size: number
  readonly files: ReadonlyMap<string, string>
}

let shared: string
let big: BigImage

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex')
}

function sha512File(file: string): string {
  return crypto.createHash('sha512').update(fs.readFileSync(file)).digest('hex')
}

before(async () => {
  shared = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-crash-'))
  const layout = path.join(shared, 'layout')
  const files = new Map<string, string>()
  const spec: Record<string, Buffer> = {}
  for (let i = 0; i < BIG_FILES; i++) {
    const data = crypto.randomBytes(BIG_FILE_SIZE)
    spec[`/data/f${String(i).padStart(2, '0')}`] = data
    files.set(`data/f${String(i).padStart(2, '0')}`, sha256(data))
  }
  makeLayout(layout, {name: 'example.com/big', version: '1.0', noBusybox: true, files: spec})
  const aci = path.join(shared, 'big.aci')
  await execa(ACTOOL, ['build', '--no-compression', layout, aci])
  fs.rmSync(layout, {recursive: true})
  big = {aci, size: fs.statSync(aci).size, files}
})

after(() => {
  if (shared && process.env['RKT_TEST_KEEP'] !== '1') fs.rmSync(shared, {recursive: true, force: true})
})

/** Polls `probe` every 2 ms until it returns a value, or fails after `ms`. */
async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

/** Files under a directory with their sizes (missing directory: none). */
function filesUnder(dir: string): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (d: string): void => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(d, {withFileTypes: true})
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else {
        try {
          out.set(p, fs.lstatSync(p).size)
        } catch {
          // removed while we looked
        }
      }
    }
  }
  walk(dir)
  return out
}

/** Blob files with their sha512, for "untouched" checks. */
function blobDigests(s: Sandbox): Map<string, string> {
  const out = new Map<string, string>()
  for (const f of s.storeFiles()) out.set(f, sha512File(path.join(s.data, f)))
  return out
}

/** A small image (no busybox) built into the sandbox's work dir. */
async function smallImage(s: Sandbox, name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(s.work, `layout-${name.replace(/\W/g, '_')}`)
  makeLayout(dir, {name, version: '1.0', noBusybox: true, files})
  const aci = path.join(s.work, `${name.replace(/\W/g, '_')}.aci`)
  const r = await s.actool(['build', dir, aci])
  assert.equal(r.exitCode, 0, r.stderr)
  return aci
}

describe('crash safety', () => {
  test('FI-01/FI-02: SIGKILL during the fetch of a 200 MiB image leaves nothing visible; the next fetch succeeds', async (t) => {
    const s = Sandbox.create(t)
    assert.ok(big.size > 200 * 1e6, `the image is ${big.size} bytes`)
    const tmpDir = path.join(s.data, 'cas', 'tmp')
    const child = s.spawnRkt(['--insecure-options=image', 'fetch', big.aci])
    t.after(() => child.kill('SIGKILL'))

    // Freeze the fetch once its staging file is past 20 MiB, check it is mid-way, then kill it.
    const [staging, size] = await waitFor('a staging file over 20 MiB', () => {
      for (const [f, n] of filesUnder(tmpDir)) if (n > 20 * MiB) return [f, n] as const
      return undefined
    })
    child.kill('SIGSTOP')
    const frozen = fs.statSync(staging).size
    assert.ok(frozen >= size && frozen < big.size, `killed mid-way: ${frozen} of ${big.size} bytes staged`)
    child.kill('SIGKILL')
    const killed = await child
    assert.equal(killed.signal, 'SIGKILL')

    assert.deepEqual(await s.images(), [], 'the killed fetch is not listed')
    assert.deepEqual(
      s.storeFiles().filter((f) => f.startsWith('cas/blob/')),
      [],
      'no blob exists',
    )
    assert.ok(fs.existsSync(staging), 'the staging file of the killed fetch is still there (nobody cleaned it yet)')

    const again = await s.rkt(['--insecure-options=image', 'fetch', big.aci])
    assert.equal(again.exitCode, 0, again.stderr)
    const images = await s.images()
    assert.equal(images.length, 1)
    assert.equal(images[0]!.name, 'example.com/big:1.0')
    assert.ok(images[0]!.id.startsWith(again.stdout.trim()))
    assert.equal(fs.existsSync(staging), false, "the next fetch removed the dead fetch's staging file")
    const stored = s.storeFiles()
    assert.deepEqual(stored, [`cas/blob/sha512/${images[0]!.id.slice(7, 9)}/${images[0]!.id}`], 'exactly one blob')
    assert.equal(fs.statSync(path.join(s.data, stored[0]!)).size, big.size)
  })

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`FI-23: ${sig} during a fetch removes its staging file at once and exits ${sig === 'SIGTERM' ? 143 : 130}`, async (t) => {
      const s = Sandbox.create(t)
      const tmpDir = path.join(s.data, 'cas', 'tmp')
      const child = s.spawnRkt(['--insecure-options=image', 'fetch', big.aci])
      t.after(() => child.kill('SIGKILL'))
      const [staging] = await waitFor('a staging file over 20 MiB', () => {
        for (const [f, n] of filesUnder(tmpDir)) if (n > 20 * MiB) return [f, n] as const
        return undefined
      })
      child.kill(sig)
      const r = await child
      assert.equal(r.exitCode, sig === 'SIGTERM' ? 143 : 130, String(r.stderr))
      assert.equal(fs.existsSync(staging), false, 'the interrupted fetch cleaned up after itself')
      assert.deepEqual(s.storeFiles(), [])
      assert.deepEqual(await s.images(), [])
    })
  }

  test('FI-10: five concurrent fetches of one image: same ID, one blob, one index entry, no leftovers', async (t) => {
    const s = Sandbox.create(t)
    const aci = await smallImage(s, 'example.com/race', {
      '/data/a': crypto.randomBytes(8 * MiB),
      '/data/b': crypto.randomBytes(8 * MiB),
    })
    const children = Array.from({length: 5}, () => s.spawnRkt(['--insecure-options=image', 'fetch', '--full', aci]))
    t.after(() => children.forEach((c) => c.kill('SIGKILL')))
    const results = await Promise.all(children)
    for (const r of results) assert.equal(r.exitCode, 0, String(r.stderr))
    const ids = new Set(results.map((r) => String(r.stdout).trim()))
    assert.equal(ids.size, 1, `all fetches print the same ID: ${[...ids].join(', ')}`)
    const [id] = ids
    assert.match(id!, /^sha512-[0-9a-f]{128}$/)

    const images = await s.images()
    assert.equal(images.length, 1)
    assert.ok(id!.startsWith(images[0]!.id))
    const index = JSON.parse(fs.readFileSync(path.join(s.data, 'cas', 'db', 'index.json'), 'utf8')) as {
      images: unknown[]
    }
    assert.equal(index.images.length, 1, 'one index entry')
    assert.deepEqual(s.storeFiles(), [`cas/blob/sha512/${images[0]!.id.slice(7, 9)}/${images[0]!.id}`])
    const left = fs.readdirSync(path.join(s.data, 'cas', 'db')).filter((n) => n.includes('.tmp-'))
    assert.deepEqual(left, [], 'no temporary index files')
  })

  for (const [what, damage] of [
    ['truncated to half', (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))],
    ['overwritten with garbage', (f: string) => fs.writeFileSync(f, crypto.randomBytes(777))],
    ['that is valid JSON of another kind', (f: string) => fs.writeFileSync(f, '{"images": 3}\n')],
  ] as const) {
    test(`FI-18/SEC-45: an index ${what} fails closed naming rebuild-index; rebuild-index restores it`, async (t) => {
      const s = Sandbox.create(t)
      for (const [name, file] of [
        ['example.com/one', '/etc/one'],
        ['example.com/two', '/etc/two'],
      ] as const) {
        const aci = await smallImage(s, name, {[file]: `${name}\n`})
        const r = await s.rkt(['--insecure-options=image', 'fetch', aci])
        assert.equal(r.exitCode, 0, r.stderr)
      }
      const listed = (await s.images())
        .map((i) => ({id: i.id, name: i.name}))
        .sort((a, b) => a.name.localeCompare(b.name))
      assert.equal(listed.length, 2)
      const blobs = blobDigests(s)
      assert.equal(blobs.size, 2)

      const indexFile = path.join(s.data, 'cas', 'db', 'index.json')
      damage(indexFile)
      const damaged = fs.readFileSync(indexFile)

      const list = await s.rkt(['image', 'list'])
      assert.equal(list.exitCode, 254)
      assert.match(list.stderr, /image index .*index\.json is unusable/)
      assert.match(list.stderr, /rkt image rebuild-index/, 'the message names the fix')
      assert.equal(list.stdout, '')

      // Every other store command fails closed too, and none of them rewrites the index or deletes a blob.
      const one = path.join(s.work, 'example_com_one.aci')
      for (const args of [
        ['--insecure-options=image', 'fetch', one],
        ['image', 'rm', 'example.com/one'],
        ['image', 'gc', '--grace-period=0s'],
        ['image', 'cat-manifest', 'example.com/two'],
      ]) {
        const r = await s.rkt(args)
        assert.equal(r.exitCode, 254, `${args.join(' ')}: ${r.stderr}`)
        assert.match(r.stderr, /rkt image rebuild-index/, args.join(' '))
        assert.deepEqual(fs.readFileSync(indexFile), damaged, `${args.join(' ')} leaves the damaged index as it was`)
        assert.deepEqual(blobDigests(s), blobs, `${args.join(' ')} leaves the blobs untouched`)
      }

      const rebuild = await s.rkt(['image', 'rebuild-index'])
      assert.equal(rebuild.exitCode, 0, rebuild.stderr)
      assert.match(rebuild.stdout, /indexed 2 image\(s\)/)
      assert.match(rebuild.stderr, /previous index kept as .*index\.json\.old-\d+/)
      const kept = /previous index kept as (\S+)/.exec(rebuild.stderr)![1]!
      assert.deepEqual(fs.readFileSync(kept), damaged, 'the damaged index is kept for inspection')
      assert.deepEqual(blobDigests(s), blobs, 'the blobs are untouched')
      const restored = (await s.images())
        .map((i) => ({id: i.id, name: i.name}))
        .sort((a, b) => a.name.localeCompare(b.name))
      assert.deepEqual(restored, listed, 'the same IDs and names are listed again')
      const cat = await s.rkt(['image', 'cat-manifest', 'example.com/two'])
      assert.equal(cat.exitCode, 0, cat.stderr)
      assert.equal((JSON.parse(cat.stdout) as {name: string}).name, 'example.com/two')
    })
  }

  test('SIGKILL during `rkt image render` of a 200 MiB image: the output never appears half-written', async (t) => {
    const s = Sandbox.create(t)
    const fetch = await s.rkt(['--insecure-options=image', 'fetch', big.aci])
    assert.equal(fetch.exitCode, 0, fetch.stderr)
    const outParent = path.join(s.dir, 'render')
    fs.mkdirSync(outParent)
    const out = path.join(outParent, 'out')
    const child = s.spawnRkt(['image', 'render', 'example.com/big', out])
    t.after(() => child.kill('SIGKILL'))

    const written = (): number => [...filesUnder(outParent).values()].reduce((a, b) => a + b, 0)
    await waitFor('20 MiB rendered', () => (written() > 20 * MiB ? true : undefined))
    child.kill('SIGSTOP')
    const frozen = written()
    assert.ok(frozen < BIG_FILES * BIG_FILE_SIZE, `killed mid-way: ${frozen} bytes written`)
    assert.equal(fs.existsSync(out), false, 'the output is not there while being written')
    child.kill('SIGKILL')
    assert.equal((await child).signal, 'SIGKILL')

    assert.equal(fs.existsSync(out), false, 'the killed render left no output directory')
    const leftovers = fs.readdirSync(outParent)
    for (const n of leftovers) assert.match(n, /^\.out\.tmp-/, 'at most a temporary directory beside the output')

    // The next render produces the whole tree.
    const r = await s.rkt(['image', 'render', 'example.com/big', out])
    assert.equal(r.exitCode, 0, r.stderr)
    for (const [rel, digest] of big.files) {
      assert.equal(sha256(fs.readFileSync(path.join(out, 'rootfs', rel))), digest, rel)
    }
    assert.equal(fs.readdirSync(path.join(out, 'rootfs', 'data')).length, BIG_FILES)
  })
  test('SIGKILL during `rkt image render --overwrite`: the previous output stays whole until replaced', async (t) => {
    // Many small files, so that deleting a tree takes long enough to be seen: 20 000 entries, made by hand.
    const s = Sandbox.create(t)
    const N = 5_000
    const manifest = Buffer.from(
      JSON.stringify({
        acKind: 'ImageManifest',
        acVersion: '0.8.11',
        name: 'example.com/many',
        labels: [
          {name: 'os', value: 'linux'},
          {name: 'arch', value: 'amd64'},
        ],
      }),
    )
    const entry = (name: string, typeflag: string, data = Buffer.alloc(0)): Buffer =>
      Buffer.concat([
        encodeUstarHeader({name, typeflag, size: data.length, mode: typeflag === '5' ? 0o755 : 0o644}),
        data,
        Buffer.alloc((512 - (data.length % 512)) % 512),
      ])
    const parts = [entry('manifest', '0', manifest), entry('rootfs/', '5'), entry('rootfs/many/', '5')]
    for (let i = 0; i < N; i++) parts.push(entry(`rootfs/many/f${i}`, '0', Buffer.from(`${i}\n`)))
    parts.push(Buffer.alloc(1024))
    const aci = path.join(s.work, 'many.aci')
    fs.writeFileSync(aci, Buffer.concat(parts))
    assert.equal((await s.rkt(['--insecure-options=image', 'fetch', aci])).exitCode, 0)

    const outParent = path.join(s.dir, 'render')
    fs.mkdirSync(outParent)
    const out = path.join(outParent, 'out')
    const first = await s.rkt(['image', 'render', 'example.com/many', out])
    assert.equal(first.exitCode, 0, first.stderr)
    const many = path.join(out, 'rootfs', 'many')
    /** Entries in the output's rootfs/many, or -1 when the output is not there. */
    const count = (): number => {
      try {
        return fs.readdirSync(many).length
      } catch {
        return -1
      }
    }
    assert.equal(count(), N)

    // Killed while the new tree is being written: the old output is untouched.
    const killed = s.spawnRkt(['image', 'render', '--overwrite', 'example.com/many', out])
    t.after(() => killed.kill('SIGKILL'))
    await waitFor('the new tree half-written beside the output', () => {
      for (const n of fs.readdirSync(outParent)) {
        if (!n.startsWith('.out.tmp-')) continue
        try {
          if (fs.readdirSync(path.join(outParent, n, 'rootfs', 'many')).length > N / 4) return true
        } catch {
          // not there yet
        }
      }
      return undefined
    })
    killed.kill('SIGKILL')
    await killed
    assert.equal(count(), N, 'the previous output is whole')

    // Watched all the way through the replacement: the output is whole (or, for an instant, absent), never
    // half-deleted. On a violation the render is killed on the spot, leaving the evidence.
    const child = s.spawnRkt(['image', 'render', '--overwrite', 'example.com/many', out])
    t.after(() => child.kill('SIGKILL'))
    let exited = false
    void child.finally(() => (exited = true))
    let violation: number | undefined
    while (!exited) {
      const n = count()
      if (n !== N && n !== -1) {
        child.kill('SIGKILL')
        violation = n
        break
      }
      await sleep(1)
    }
    const r = await child
    assert.equal(violation, undefined, `the output was seen half-deleted: ${violation} of ${N} files`)
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.equal(count(), N)
  })
})

describe('a commit stopped half-way by a full disk (ENOSPC on a rename)', () => {
  // A fetch commits in three renames: the staged blob into cas/blob, then the manifest copy, then the index.
  const RENAMES = {manifest: 2, index: 3} as const

  /** `rkt fetch` under strace, the Nth rename(2) of the whole process tree failing with ENOSPC. */
  async function fetchFailingRename(s: Sandbox, aci: string, nth: number) {
    const r = await execa(
      'strace',
      [
        '-f',
        '-o',
        '/dev/null',
        '-e',
        `inject=rename,renameat,renameat2:error=ENOSPC:when=${nth}`,
        RKT,
        ...s.globals,
        '--insecure-options=image',
        'fetch',
        aci,
      ],
      {reject: false, stdin: 'ignore'},
    )
    return {exitCode: r.exitCode ?? -1, stderr: String(r.stderr)}
  }

  /** A sandbox whose data directory is a tmpfs of `size` (a nearly full disk), unmounted with the sandbox. */
  async function smallDisk(t: TestContext, size: string): Promise<Sandbox> {
    const s = Sandbox.create(t)
    fs.mkdirSync(s.data)
    await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', s.data])
    return s
  }

  for (const [step, nth] of Object.entries(RENAMES)) {
    test(`ENOSPC renaming the ${step}: the orphan blob is not listed, and the next fetch succeeds on a disk with room for one copy`, async (t) => {
      await requireTool(t, 'strace')
      // 24 MiB of random data in a 40 MiB store: one copy of the image fits, the orphan and a new copy do not.
      const s = await smallDisk(t, '40m')
      const first = await smallImage(s, 'example.com/first', {'/etc/first': 'first\n'})
      assert.equal((await s.rkt(['--insecure-options=image', 'fetch', first])).exitCode, 0)
      const aci = await smallImage(s, 'example.com/full', {'/data/blob': crypto.randomBytes(24 * MiB)})

      const failed = await fetchFailingRename(s, aci, nth)
      assert.equal(failed.exitCode, 254, failed.stderr)
      assert.match(failed.stderr, /ENOSPC: no space left on device, rename/)
      assert.deepEqual(
        (await s.images()).map((i) => i.name),
        ['example.com/first:1.0'],
      )
      const blobs = s.storeFiles().filter((f) => f.startsWith('cas/blob/'))
      assert.equal(blobs.length, 2, `the failed commit left its blob: ${blobs.join(', ')}`)

      const again = await s.rkt(['--insecure-options=image', 'fetch', '--full', aci])
      assert.equal(again.exitCode, 0, again.stderr)
      const id = again.stdout.trim()
      assert.deepEqual((await s.images()).map((i) => i.name).sort(), ['example.com/first:1.0', 'example.com/full:1.0'])
      const blob = path.join(s.data, 'cas', 'blob', 'sha512', id.slice(7, 9), id.slice(0, 71))
      assert.equal(`sha512-${sha512File(blob)}`, id, 'the stored blob is the whole image')
      const cat = await s.rkt(['image', 'cat-manifest', 'example.com/full'])
      assert.equal(cat.exitCode, 0, cat.stderr)
    })
  }

  test('rkt image gc removes orphan blobs and manifests; neither it nor a fetch touches one whose lock is held', async (t) => {
    await requireTool(t, 'strace')
    await requireTool(t, 'flock')
    const s = Sandbox.create(t)
    const kept = await smallImage(s, 'example.com/kept', {'/etc/kept': 'kept\n'})
    assert.equal((await s.rkt(['--insecure-options=image', 'fetch', kept])).exitCode, 0)
    const keptImage = (await s.images())[0]!
    const blobs = (): string[] => s.storeFiles().filter((f) => f.startsWith('cas/blob/') && !f.includes(keptImage.id))
    const manifests = (): string[] =>
      fs
        .readdirSync(path.join(s.data, 'cas', 'imageManifest', 'sha512'), {recursive: true})
        .map(String)
        .filter((f) => /\/sha512-/.test(f) && !f.includes(keptImage.id))
    /** The orphan blob a fetch failing at `step` leaves. */
    const failedFetch = async (step: keyof typeof RENAMES): Promise<string> => {
      const aci = await smallImage(s, `example.com/orphan-${step}`, {'/etc/x': `${step}\n`})
      const before = blobs()
      assert.equal((await fetchFailingRename(s, aci, RENAMES[step])).exitCode, 254)
      return blobs().find((f) => !before.includes(f))!
    }

    // A: a blob without a manifest. While its image lock is held (as a commit of that image holds it), the
    // next fetch sweeps no orphan it cannot lock: B, a blob and a manifest, is made beside it.
    const a = await failedFetch('manifest')
    const locked = path.basename(a)
    const holder = execa(
      'flock',
      ['-x', path.join(s.data, 'cas', 'imagelocks', locked), 'sh', '-c', 'echo; sleep 60'],
      {
        reject: false,
      },
    )
    t.after(() => holder.kill('SIGKILL'))
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()))
    const b = await failedFetch('index')
    assert.deepEqual(blobs().sort(), [a, b].sort(), 'two orphan blobs')
    assert.deepEqual(manifests(), [path.relative(path.join('cas', 'blob', 'sha512'), b)], 'and one orphan manifest')

    const busy = await s.rkt(['image', 'gc', '--grace-period=24h'])
    assert.equal(busy.exitCode, 0, busy.stderr)
    assert.deepEqual(blobs(), [a], 'gc removed the orphan it could lock, not the locked one')
    assert.deepEqual(manifests(), [])
    assert.match(busy.stderr, new RegExp(`removed orphaned files of image "${path.basename(b)}"`))
    holder.kill('SIGKILL')
    await holder

    const gc = await s.rkt(['image', 'gc', '--grace-period=24h'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.match(gc.stderr, new RegExp(`removed orphaned files of image "${locked}"`))
    assert.deepEqual(blobs(), [])
    assert.deepEqual(
      (await s.images()).map((i) => i.id),
      [keptImage.id],
      'the listed image stays',
    )
    assert.equal((await s.rkt(['image', 'cat-manifest', 'example.com/kept'])).exitCode, 0)
  })
})
