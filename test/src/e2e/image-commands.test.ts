// The image commands as a user runs them, as rkt had them: list (table and JSON), rm, cat-manifest,
// export, extract, render (dependencies and pathWhitelist), verify, gc; then version, exit codes, global flags
// and --debug. Real CLIs, a fresh data dir per test.
import {encodeUstarHeader} from '@rkt/core/aci/index'
import {execa} from 'execa'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'

import {makeLayout, requireTool, RKT, Sandbox, type LayoutSpec} from '../util/harness.js'

/** Builds a layout with actool and fetches it; returns the ACI path and the full image ID. */
async function addImage(s: Sandbox, spec: LayoutSpec): Promise<{aci: string; id: string}> {
  const slug = `${spec.name.replace(/\W/g, '_')}-${spec.version ?? 'none'}`
  const dir = makeLayout(path.join(s.work, `layout-${slug}`), spec)
  const aci = path.join(s.work, `${slug}.aci`)
  const build = await s.actool(['build', dir, aci])
  assert.equal(build.exitCode, 0, build.stderr)
  const fetch = await s.rkt(['--insecure-options=image', 'fetch', '--full', aci])
  assert.equal(fetch.exitCode, 0, fetch.stderr)
  const id = fetch.stdout.trim()
  assert.match(id, /^sha512-[0-9a-f]{128}$/)
  return {aci, id}
}

/** The store key (`sha512-` + 64 hex) of a full ID, as `image list` and `image rm` show it. */
const keyOf = (id: string): string => id.slice(0, 7 + 64)

const BASE: LayoutSpec = {
  name: 'example.com/base',
  version: '1.0',
  files: {'/etc/base': 'base\n', '/etc/conflict': 'from base\n'},
}
const APP: LayoutSpec = {
  name: 'example.com/app',
  version: '2.0',
  noBusybox: true,
  dependencies: [{imageName: 'example.com/base'}],
  files: {'/etc/app': 'app\n', '/etc/conflict': 'from app\n'},
}

/** Two images: example.com/base:1.0 (busybox) and example.com/app:2.0, fetched in that order. */
async function twoImages(t: TestContext) {
  const s = Sandbox.create(t)
  const base = await addImage(s, BASE)
  const app = await addImage(s, APP)
  return {s, base, app}
}

/** Splits a tabwriter table into trimmed cells. */
function table(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(/\t+/).map((c) => c.trim()))
}

/** Every file and symlink under a directory, relative, sorted (symlinks as `name -> target`). */
function tree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const r = rel ? `${rel}/${name}` : name
      const st = fs.lstatSync(p)
      if (st.isDirectory()) walk(p, r)
      else out.push(st.isSymbolicLink() ? `${r} -> ${fs.readlinkSync(p)}` : r)
    }
  }
  walk(dir, '')
  return out
}

/** An uncompressed image made by hand (no actool): manifest, rootfs/, rootfs/variant with `content`. */
function tarImage(name: string, content: string): Buffer {
  const manifest = Buffer.from(
    JSON.stringify({
      acKind: 'ImageManifest',
      acVersion: '0.8.11',
      name,
      labels: [
        {name: 'os', value: 'linux'},
        {name: 'arch', value: 'amd64'},
      ],
    }),
  )
  const entry = (n: string, typeflag: string, data = Buffer.alloc(0)): Buffer =>
    Buffer.concat([
      encodeUstarHeader({name: n, typeflag, size: data.length, mode: typeflag === '5' ? 0o755 : 0o644}),
      data,
      Buffer.alloc((512 - (data.length % 512)) % 512),
    ])
  return Buffer.concat([
    entry('manifest', '0', manifest),
    entry('rootfs/', '5'),
    entry('rootfs/variant', '0', Buffer.from(content)),
    Buffer.alloc(1024),
  ])
}

describe('rkt image list', () => {
  test('the table: header, short IDs, --full, --no-legend, --fields, --sort/--order', async (t) => {
    const {s, base, app} = await twoImages(t)

    const r = await s.rkt(['image', 'list'])
    assert.equal(r.exitCode, 0, r.stderr)
    const rows = table(r.stdout)
    assert.deepEqual(rows[0], ['ID', 'NAME', 'SIZE', 'IMPORT TIME', 'LAST USED'])
    assert.equal(rows.length, 3)
    // Default order: import time, oldest first.
    assert.deepEqual(
      rows.slice(1).map((row) => [row[0], row[1]]),
      [
        [base.id.slice(0, 7 + 32), 'example.com/base:1.0'],
        [app.id.slice(0, 7 + 32), 'example.com/app:2.0'],
      ],
    )
    for (const row of rows.slice(1)) {
      assert.match(row[0]!, /^sha512-[0-9a-f]{32}$/)
      assert.match(row[2]!, /^\d+(\.\d)? (B|KiB|MiB)$/, 'a human size')
      assert.match(row[3]!, /^(now|\d+ seconds? ago)$/)
      assert.match(row[4]!, /^(now|\d+ seconds? ago)$/)
    }
    // The busybox image is about 2 MB, the app a few KiB: humanized sizes show it.
    assert.match(rows[1]![2]!, /MiB$/)
    assert.match(rows[2]![2]!, /KiB$/)

    const json = (await s.images()).sort((a, b) => a.name.localeCompare(b.name))
    const full = await s.rkt(['image', 'list', '--full'])
    assert.equal(full.exitCode, 0, full.stderr)
    const fullRows = table(full.stdout)
    assert.deepEqual(fullRows[0], ['ID', 'NAME', 'SIZE', 'IMPORT TIME', 'LAST USED'])
    for (const row of fullRows.slice(1)) {
      assert.match(row[0]!, /^sha512-[0-9a-f]{64}$/)
      const entry = json.find((j) => j.id === row[0])
      assert.ok(entry, `${row[0]} is listed in the JSON too`)
      assert.equal(row[2], String(entry.size), '--full shows sizes in bytes')
      assert.match(row[3]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})? [+-]\d{4} \S+$/, 'an absolute time')
    }

    const noLegend = await s.rkt(['image', 'list', '--no-legend'])
    assert.equal(table(noLegend.stdout).length, 2)
    assert.ok(!noLegend.stdout.includes('IMPORT TIME'))

    const fields = await s.rkt(['image', 'list', '--fields=name,id', '--sort=name', '--order=desc'])
    assert.equal(fields.exitCode, 0, fields.stderr)
    assert.deepEqual(table(fields.stdout), [
      ['NAME', 'ID'],
      ['example.com/base:1.0', base.id.slice(0, 7 + 32)],
      ['example.com/app:2.0', app.id.slice(0, 7 + 32)],
    ])
    const asc = await s.rkt(['image', 'list', '--no-legend', '--fields=name', '--sort=name'])
    assert.equal(asc.stdout, 'example.com/app:2.0\nexample.com/base:1.0')

    const bad = await s.rkt(['image', 'list', '--fields=name,colour'])
    assert.equal(bad.exitCode, 2)
    assert.match(bad.stderr, /--fields: unknown value "colour"/)
    assert.match(bad.stderr, /id, name, size, importtime, lastused/)
  })

  test('JSON: exactly id, name, import_time, last_used_time, size; ns integer timestamps; json-pretty uses tabs', async (t) => {
    const t0 = BigInt(Date.now()) * 1_000_000n
    const {s, base, app} = await twoImages(t)
    const t1 = BigInt(Date.now()) * 1_000_000n

    const r = await s.rkt(['image', 'list', '--format=json'])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout.split('\n').length, 1, 'one line')
    const list = JSON.parse(r.stdout) as Record<string, unknown>[]
    assert.equal(list.length, 2)
    for (const e of list) assert.deepEqual(Object.keys(e), ['id', 'name', 'import_time', 'last_used_time', 'size'])
    assert.deepEqual(
      list.map((e) => [e['id'], e['name']]),
      [
        [keyOf(base.id), 'example.com/base:1.0'],
        [keyOf(app.id), 'example.com/app:2.0'],
      ],
    )
    // Timestamps are int64 nanoseconds: read them from the text (they exceed double precision).
    const times = [...r.stdout.matchAll(/"(import_time|last_used_time)":(-?[0-9.e+]+)/g)]
    assert.equal(times.length, 4)
    for (const [, field, value] of times) {
      assert.match(value!, /^\d{19}$/, `${field} is an integer count of nanoseconds`)
      const ns = BigInt(value!)
      assert.ok(ns >= t0 - 1_000_000_000n && ns <= t1 + 1_000_000_000n, `${field} ${ns} is the fetch time`)
    }
    for (const e of list) assert.ok(Number.isInteger(e['size']) && (e['size'] as number) > 0)

    const pretty = await s.rkt(['image', 'list', '--format=json-pretty'])
    assert.equal(pretty.exitCode, 0, pretty.stderr)
    assert.match(pretty.stdout, /^\[\n\t\{\n\t\t"id": "sha512-[0-9a-f]{64}",\n\t\t"name": "example\.com\/base:1\.0",\n/)
    assert.equal(pretty.stdout.replace(/\s+/g, ''), r.stdout.replace(/\s+/g, ''), 'the same document, indented')

    const empty = Sandbox.create(t)
    const none = await empty.rkt(['image', 'list', '--format=json'])
    assert.equal(none.stdout, '[]')

    const bad = await s.rkt(['image', 'list', '--format=yaml'])
    assert.equal(bad.exitCode, 2, `an invalid flag value is a usage error: ${bad.stderr}`)
    assert.match(bad.stderr, /json, json-pretty/)
  })
})

describe('rkt image rm', () => {
  test('by name, by name:version and by ID prefix; unknown images name `rkt image list`', async (t) => {
    const s = Sandbox.create(t)
    const one = await addImage(s, {name: 'example.com/one', version: '1.0', noBusybox: true, files: {'/a': 'a'}})
    const two = await addImage(s, {name: 'example.com/two', version: '1.0', noBusybox: true, files: {'/b': 'b'}})
    const three = await addImage(s, {name: 'example.com/three', version: '3.0', noBusybox: true, files: {'/c': 'c'}})

    const unknown = await s.rkt(['image', 'rm', 'example.com/nope'])
    assert.equal(unknown.exitCode, 254)
    assert.match(unknown.stderr, /no image named example\.com\/nope in the store/)
    assert.match(unknown.stderr, /rkt image list/, 'the message points at the list of stored images')
    const wrongVersion = await s.rkt(['image', 'rm', 'example.com/one:9.9'])
    assert.equal(wrongVersion.exitCode, 254)
    const unknownId = await s.rkt(['image', 'rm', `sha512-${'0'.repeat(32)}`])
    assert.equal(unknownId.exitCode, 254)
    assert.match(unknownId.stderr, /rkt image list/)
    assert.equal((await s.images()).length, 3, 'nothing was removed')

    for (const [ref, img] of [
      ['example.com/one', one],
      ['example.com/two:1.0', two],
      [three.id.slice(0, 7 + 20), three],
    ] as const) {
      const r = await s.rkt(['image', 'rm', ref])
      assert.equal(r.exitCode, 0, r.stderr)
      assert.equal(r.stdout, `successfully removed aci for image: "${keyOf(img.id)}"`, ref)
      assert.ok(!(await s.images()).some((i) => i.id === keyOf(img.id)), `${ref} is gone`)
    }
    assert.deepEqual(await s.images(), [])
    assert.deepEqual(s.storeFiles(), [], 'the blobs are deleted with the images')
  })

  test('an ambiguous ID prefix is refused, never resolved to the first match (SEC-43)', async (t) => {
    const s = Sandbox.create(t)
    // Search variants of a tiny image until two IDs share their first 4 hex digits (a few hundred tries).
    const seen = new Map<string, number>()
    let pair: [number, number] | undefined
    for (let i = 0; i < 20_000 && !pair; i++) {
      const prefix = crypto
        .createHash('sha512')
        .update(tarImage('example.com/twin', `variant ${i}\n`))
        .digest('hex')
      const p = prefix.slice(0, 4)
      const j = seen.get(p)
      if (j !== undefined) pair = [j, i]
      else seen.set(p, i)
    }
    assert.ok(pair, 'found two images whose IDs share 4 hex digits')
    const ids: string[] = []
    for (const i of pair) {
      const aci = path.join(s.work, `twin-${i}.aci`)
      fs.writeFileSync(aci, tarImage('example.com/twin', `variant ${i}\n`))
      const r = await s.rkt(['--insecure-options=image', 'fetch', '--full', aci])
      assert.equal(r.exitCode, 0, r.stderr)
      ids.push(r.stdout.trim())
    }
    const shared = ids[0]!.slice(0, 7 + 4)
    assert.equal(ids[1]!.slice(0, 7 + 4), shared)
    assert.notEqual(ids[0], ids[1])

    for (const args of [
      ['image', 'rm', shared],
      ['image', 'cat-manifest', shared],
      ['image', 'export', shared, path.join(s.work, 'out.aci')],
    ]) {
      const r = await s.rkt(args)
      assert.equal(r.exitCode, 254, args.join(' '))
      assert.match(r.stderr, /ambiguous/, args.join(' '))
      assert.match(r.stderr, new RegExp(ids[0]!.slice(0, 7 + 32)), 'the candidates are named')
      assert.match(r.stderr, new RegExp(ids[1]!.slice(0, 7 + 32)))
    }
    assert.equal((await s.images()).length, 2, 'nothing was removed')
    assert.equal(fs.existsSync(path.join(s.work, 'out.aci')), false)

    // IDs are validated before use (SEC-41): path tricks and upper case are not IDs.
    for (const bad of ['sha512-../x', `sha512-${ids[0]!.slice(7, 20).toUpperCase()}`, 'sha512-']) {
      const r = await s.rkt(['image', 'rm', bad])
      assert.equal(r.exitCode, 254, bad)
      assert.match(r.stderr, /invalid image ID/, bad)
    }
    assert.equal((await s.images()).length, 2)
  })
})

describe('the engine cache (docs/stage1.md "Engine cache")', () => {
  /** What an engine would leave for an image: 1 MiB of data, and a symlink out of the directory. */
  function fillEngineCache(s: Sandbox, id: string, outside: string): string {
    const dir = path.join(s.data, 'cas', 'enginecache', keyOf(id))
    fs.mkdirSync(path.join(dir, 'kvm'), {recursive: true})
    fs.writeFileSync(path.join(dir, 'kvm', 'base.raw'), crypto.randomBytes(1 << 20))
    fs.symlinkSync(outside, path.join(dir, 'kvm', 'escape'))
    return dir
  }
  const sizes = async (s: Sandbox): Promise<Map<string, number>> => {
    const r = await s.rkt(['image', 'list', '--format=json'])
    assert.equal(r.exitCode, 0, r.stderr)
    return new Map((JSON.parse(r.stdout) as {id: string; size: number}[]).map((e) => [e.id, e.size]))
  }

  test('image list counts it in the size; image rm and image gc delete it, never following a symlink out', async (t) => {
    const {s, base, app} = await twoImages(t)
    const outside = path.join(s.work, 'outside')
    fs.mkdirSync(outside)
    fs.writeFileSync(path.join(outside, 'keep'), "not the store's\n")
    const before = await sizes(s)
    const appCache = fillEngineCache(s, app.id, outside)
    const after = await sizes(s)
    const grown = after.get(keyOf(app.id))! - before.get(keyOf(app.id))!
    assert.ok(grown >= 1 << 20 && grown < 1.1 * (1 << 20), `the app's size grew by its 1 MiB cache: ${grown}`)
    assert.equal(after.get(keyOf(base.id)), before.get(keyOf(base.id)), "the other image's size is unchanged")

    const rm = await s.rkt(['image', 'rm', app.id])
    assert.equal(rm.exitCode, 0, rm.stderr)
    assert.ok(!fs.existsSync(appCache), 'image rm deleted the engine cache')
    const baseCache = fillEngineCache(s, base.id, outside)
    const gc = await s.rkt(['image', 'gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.ok(!fs.existsSync(baseCache), 'image gc deleted the engine cache')
    assert.deepEqual(fs.readdirSync(outside), ['keep'], 'nothing behind the symlink was touched')
  })
})

describe('rkt image cat-manifest, export, extract, render, verify, gc', () => {
  test('cat-manifest: pretty by default, compact with --pretty-print=false', async (t) => {
    const {s} = await twoImages(t)
    const pretty = await s.rkt(['image', 'cat-manifest', 'example.com/app:2.0'])
    assert.equal(pretty.exitCode, 0, pretty.stderr)
    assert.ok(pretty.stdout.split('\n').length > 10, 'indented over many lines')
    assert.match(pretty.stdout, /^\{\n\s+"acKind": "ImageManifest",\n/)
    const compact = await s.rkt(['image', 'cat-manifest', '--pretty-print=false', 'example.com/app'])
    assert.equal(compact.exitCode, 0, compact.stderr)
    assert.equal(compact.stdout.trim().split('\n').length, 1)
    assert.deepEqual(JSON.parse(compact.stdout), JSON.parse(pretty.stdout))
    const m = JSON.parse(compact.stdout) as {name: string; dependencies: {imageName: string}[]}
    assert.equal(m.name, 'example.com/app')
    assert.deepEqual(m.dependencies, [{imageName: 'example.com/base'}])
  })

  test('export: sha512sum of the file is the image ID, it fetches back as the same image, --overwrite', async (t) => {
    await requireTool(t, 'sha512sum')
    const s = Sandbox.create(t)
    const {id} = await addImage(s, {name: 'example.com/hello', version: '1.0', files: {'/etc/greeting': 'hi\n'}})
    const out = path.join(s.work, 'exported.aci')
    const r = await s.rkt(['image', 'export', 'example.com/hello:1.0', out])
    assert.equal(r.exitCode, 0, r.stderr)
    const sum = await execa('sha512sum', [out])
    assert.equal(`sha512-${sum.stdout.split(/\s+/)[0]}`, id, 'the exported file hashes to the image ID')

    const other = Sandbox.create(t)
    const back = await other.rkt(['--insecure-options=image', 'fetch', '--full', out])
    assert.equal(back.exitCode, 0, back.stderr)
    assert.equal(back.stdout.trim(), id)
    const strip = (l: {id: string; name: string; size: number}[]) => l.map(({id, name, size}) => ({id, name, size}))
    assert.deepEqual(strip(await other.images()), strip(await s.images()), 'the same image, name and size')
    assert.equal((await other.images())[0]!.name, 'example.com/hello:1.0')

    fs.writeFileSync(out, 'keep me\n')
    const again = await s.rkt(['image', 'export', keyOf(id), out])
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, /exists/)
    assert.match(again.stderr, /--overwrite/)
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep me\n', 'the existing file is untouched')
    const over = await s.rkt(['image', 'export', '--overwrite', keyOf(id), out])
    assert.equal(over.exitCode, 0, over.stderr)
    assert.equal(`sha512-${(await execa('sha512sum', [out])).stdout.split(/\s+/)[0]}`, id)
    assert.deepEqual(
      fs.readdirSync(s.work).filter((n) => n.includes('.tmp-')),
      [],
      'no temporary file is left beside the output',
    )
  })

  test('extract: the raw image (manifest + rootfs), or only the rootfs with --rootfs-only', async (t) => {
    const {s, app} = await twoImages(t)
    const out = path.join(s.dir, 'extracted')
    const r = await s.rkt(['image', 'extract', 'example.com/app', out])
    assert.equal(r.exitCode, 0, r.stderr)
    // Only the app's own files: extract does not apply dependencies.
    assert.deepEqual(tree(out), ['manifest', 'rootfs/etc/app', 'rootfs/etc/conflict'])
    assert.equal(fs.readFileSync(path.join(out, 'rootfs/etc/conflict'), 'utf8'), 'from app\n')
    assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'manifest'), 'utf8')) as {name: string}).name, APP.name)

    const again = await s.rkt(['image', 'extract', keyOf(app.id), out])
    assert.equal(again.exitCode, 254)
    assert.match(again.stderr, /exists[\s\S]*--overwrite/)

    const rootfsOnly = path.join(s.dir, 'rootfs-only')
    const r2 = await s.rkt(['image', 'extract', '--rootfs-only', 'example.com/base:1.0', rootfsOnly])
    assert.equal(r2.exitCode, 0, r2.stderr)
    assert.deepEqual(tree(rootfsOnly), ['bin/busybox', 'bin/sh -> busybox', 'etc/base', 'etc/conflict'])
    assert.equal(fs.statSync(path.join(rootfsOnly, 'bin/busybox')).mode & 0o777, 0o755)
  })

  test('render: dependencies applied, the image winning conflicts; pathWhitelist limits the result', async (t) => {
    const {s} = await twoImages(t)
    const out = path.join(s.dir, 'rendered')
    const r = await s.rkt(['image', 'render', 'example.com/app:2.0', out])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(tree(out), [
      'manifest',
      'rootfs/bin/busybox',
      'rootfs/bin/sh -> busybox',
      'rootfs/etc/app',
      'rootfs/etc/base',
      'rootfs/etc/conflict',
    ])
    assert.equal(fs.readFileSync(path.join(out, 'rootfs/etc/conflict'), 'utf8'), 'from app\n', 'the app wins')
    assert.equal(fs.readFileSync(path.join(out, 'rootfs/etc/base'), 'utf8'), 'base\n')
    assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'manifest'), 'utf8')) as {name: string}).name, APP.name)

    await addImage(s, {
      ...APP,
      name: 'example.com/app-whitelisted',
      pathWhitelist: ['/bin/busybox', '/bin/sh', '/etc/app', '/etc/conflict'],
    })
    const wl = path.join(s.dir, 'whitelisted')
    const r2 = await s.rkt(['image', 'render', '--rootfs-only', 'example.com/app-whitelisted', wl])
    assert.equal(r2.exitCode, 0, r2.stderr)
    assert.deepEqual(tree(wl), ['bin/busybox', 'bin/sh -> busybox', 'etc/app', 'etc/conflict'])
    assert.equal(fs.readFileSync(path.join(wl, 'etc/conflict'), 'utf8'), 'from app\n')
  })

  test('render and extract create missing parents of the output (as rkt); export names its output on failure', async (t) => {
    const s = Sandbox.create(t)
    await addImage(s, {name: 'example.com/hello', noBusybox: true, files: {'/etc/greeting': 'hi\n'}})
    const render = path.join(s.dir, 'a', 'b', 'rendered')
    const r = await s.rkt(['image', 'render', 'example.com/hello', render])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(tree(render), ['manifest', 'rootfs/etc/greeting'])
    const extract = path.join(s.dir, 'c', 'd', 'extracted')
    const x = await s.rkt(['image', 'extract', '--rootfs-only', 'example.com/hello', extract])
    assert.equal(x.exitCode, 0, x.stderr)
    assert.deepEqual(tree(extract), ['etc/greeting'])

    const aci = path.join(s.dir, 'missing', 'hello.aci')
    const e = await s.rkt(['image', 'export', 'example.com/hello', aci])
    assert.equal(e.exitCode, 254)
    assert.match(e.stderr, /^rkt: cannot write the output ACI file .*missing\/hello\.aci: .*ENOENT/)
    assert.equal(fs.existsSync(path.join(s.dir, 'missing')), false)
  })

  test('render: a dependency missing from the store fails with 254 naming it', async (t) => {
    const s = Sandbox.create(t)
    await addImage(s, APP)
    const out = path.join(s.dir, 'rendered')
    const r = await s.rkt(['image', 'render', 'example.com/app', out])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /dependency example\.com\/base of image example\.com\/app is not in the store/)
    assert.match(r.stderr, /rkt fetch/, 'the message names the fix')
    assert.equal(fs.existsSync(out), false)
    assert.deepEqual(
      fs.readdirSync(s.dir).filter((n) => n.includes('rendered')),
      [],
      'no output or temporary directory is left behind',
    )
  })

  test('verify: a fresh image verifies; a blob changed on disk is reported (SEC-43)', async (t) => {
    const s = Sandbox.create(t)
    const {id} = await addImage(s, {name: 'example.com/hello', files: {'/etc/greeting': 'hello there\n'}})
    const ok = await s.rkt(['image', 'verify', 'example.com/hello'])
    assert.equal(ok.exitCode, 0, ok.stderr)
    assert.match(ok.stdout, /example\.com\/hello/)

    const [blob] = s.storeFiles()
    const file = path.join(s.data, blob!)
    const bytes = fs.readFileSync(file)
    const at = bytes.indexOf('hello there')
    assert.ok(at > 0)
    bytes[at] = 'j'.charCodeAt(0)
    fs.writeFileSync(file, bytes)
    const bad = await s.rkt(['image', 'verify', keyOf(id)])
    assert.equal(bad.exitCode, 254)
    assert.match(bad.stderr, /does not match its ID/)
    assert.match(bad.stderr, new RegExp(id.slice(0, 7 + 32)))
  })

  test('gc: recently used images are kept; --grace-period=0s removes them and their files', async (t) => {
    const {s, base, app} = await twoImages(t)
    const keep = await s.rkt(['image', 'gc'])
    assert.equal(keep.exitCode, 0, keep.stderr)
    assert.equal((await s.images()).length, 2, 'the default grace period (24h) keeps images just fetched')

    const gc = await s.rkt(['image', 'gc', '--grace-period=0s'])
    assert.equal(gc.exitCode, 0, gc.stderr)
    assert.match(gc.stderr, new RegExp(`successfully removed aci for image: "${keyOf(base.id)}"`))
    assert.match(gc.stderr, new RegExp(`successfully removed aci for image: "${keyOf(app.id)}"`))
    assert.deepEqual(await s.images(), [])
    assert.deepEqual(s.storeFiles(), [])

    const bad = await s.rkt(['image', 'gc', '--grace-period=soon'])
    assert.equal(bad.exitCode, 2)
    assert.match(bad.stderr, /invalid duration "soon"/)
  })
})

describe('rkt itself', () => {
  test('version prints the rkt and appc versions', async (t) => {
    const s = Sandbox.create(t)
    const r = await s.rkt(['version'])
    assert.equal(r.exitCode, 0, r.stderr)
    const lines = r.stdout.split('\n')
    assert.equal(lines[0], 'rkt Version: 1.30.0')
    assert.equal(lines[1], 'appc Version: 0.8.11')
    assert.ok(lines.some((l) => /^Features: /.test(l)))
  })

  test('exit codes: usage errors 2, runtime failures 254', async (t) => {
    const s = Sandbox.create(t)
    const unknownCmd = await s.rkt(['frobnicate'])
    assert.equal(unknownCmd.exitCode, 2)
    assert.match(unknownCmd.stderr, /unknown command "frobnicate"/)

    const unknownFlag = await s.rkt(['image', 'list', '--colour'])
    assert.equal(unknownFlag.exitCode, 2)
    assert.match(unknownFlag.stderr, /--colour/)

    const insecure = await s.rkt(['--insecure-options=bogus', 'image', 'list'])
    assert.equal(insecure.exitCode, 2)
    assert.match(insecure.stderr, /"bogus"/)
    assert.match(
      insecure.stderr,
      /none, image, tls, ondisk, http, pubkey, capabilities, paths, seccomp, all-fetch, all-run, all/,
      'the valid values are listed',
    )

    const missingArg = await s.rkt(['image', 'rm'])
    assert.equal(missingArg.exitCode, 2)
    assert.match(missingArg.stderr, /Missing 1 required arg/)
    assert.doesNotMatch(
      missingArg.stderr,
      /--insecure-options allows multiple values/,
      'no advice about a flag the user did not give',
    )

    const runtime = await s.rkt(['image', 'cat-manifest', 'example.com/absent'])
    assert.equal(runtime.exitCode, 254)
    assert.match(runtime.stderr, /^rkt: no image named example\.com\/absent in the store/)
  })

  test('global flags go before or after the command; --debug=true|false; --debug shows the cause chain', async (t) => {
    const {s} = await twoImages(t)
    const expected = (await s.images()).map((i) => i.id)
    const config = [`--local-config=${s.localConfig}`, `--system-config=${s.systemConfig}`]
    for (const argv of [
      [`--dir=${s.data}`, ...config, 'image', 'list', '--format=json'],
      ['--dir', s.data, ...config, 'image', 'list', '--format=json'],
      ['image', 'list', '--format=json', `--dir=${s.data}`, ...config],
      ['--debug=false', `--dir=${s.data}`, 'image', 'list', '--format=json'],
      ['--debug=true', `--dir=${s.data}`, 'image', 'list', '--format=json'],
      ['image', 'list', '--debug=false', '--format=json', `--dir=${s.data}`],
    ]) {
      const r = await execa(RKT, argv, {reject: false, cwd: s.work})
      assert.equal(r.exitCode, 0, `${argv.join(' ')}: ${r.stderr}`)
      assert.deepEqual(
        (JSON.parse(r.stdout) as {id: string}[]).map((i) => i.id),
        expected,
        argv.join(' '),
      )
    }
    const badBool = await s.rkt(['--debug=maybe', 'image', 'list'])
    assert.equal(badBool.exitCode, 2)
    assert.match(badBool.stderr, /--debug: "maybe" is not a boolean/)

    // A failure with causes: one line by default, the chain with --debug.
    const missing = path.join(s.work, 'missing.aci')
    const plain = await s.rkt(['fetch', missing])
    assert.equal(plain.exitCode, 254)
    const plainLines = plain.stderr.trim().split('\n')
    assert.equal(plainLines.length, 1, plain.stderr)
    assert.match(plainLines[0]!, /^rkt: cannot fetch image .*missing\.aci: .*ENOENT/)
    assert.doesNotMatch(plain.stderr, /└─/)

    const quiet = await s.rkt(['--debug=false', 'fetch', missing])
    assert.equal(quiet.stderr, plain.stderr)

    for (const flag of ['--debug', '--debug=true']) {
      const debug = await s.rkt([flag, 'fetch', missing])
      assert.equal(debug.exitCode, 254)
      assert.match(
        debug.stderr,
        /^(rkt: debug: .*\n)*rkt: cannot fetch image .*missing\.aci\n└─ cannot open image .*missing\.aci\n/,
      )
      assert.match(debug.stderr, /└─ ENOENT/)
    }
  })
})

describe('rkt config', () => {
  test('prints the merged configuration as rkt does, secrets hidden; paths.d data is the default --dir', async (t) => {
    const s = Sandbox.create(t)
    const write = (dir: string, rel: string, doc: unknown): void => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), {recursive: true})
      fs.writeFileSync(path.join(dir, rel), JSON.stringify(doc))
    }
    const data = path.join(s.dir, 'configured-data')
    write(s.systemConfig, 'paths.d/paths.json', {rktKind: 'paths', rktVersion: 'v1', data: '/var/lib/rkt-system'})
    write(s.localConfig, 'paths.d/paths.json', {rktKind: 'paths', rktVersion: 'v1', data})
    write(s.localConfig, 'auth.d/registry.json', {
      rktKind: 'auth',
      rktVersion: 'v1',
      domains: ['images.example.com'],
      type: 'basic',
      credentials: {user: 'bob', password: 's3cret'},
    })
    const cfg = ['--local-config', s.localConfig, '--system-config', s.systemConfig]
    const r = await execa(RKT, [...cfg, 'config'], {reject: false, stdin: 'ignore'})
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.match(r.stdout, /^{\n\t"stage0": \[/, 'tab-indented, as rkt')
    assert.doesNotMatch(r.stdout, /s3cret/)
    const stage0 = (JSON.parse(r.stdout) as {stage0: Record<string, unknown>[]}).stage0
    assert.deepEqual(
      stage0.find((e) => e['rktKind'] === 'auth'),
      {
        rktVersion: 'v1',
        rktKind: 'auth',
        domains: ['images.example.com'],
        type: 'basic',
        credentials: {user: 'bob', password: '***'},
      },
    )
    assert.equal(
      stage0.find((e) => e['rktKind'] === 'paths')?.['data'],
      data,
      'the local layer overrides the system one',
    )

    // Without --dir, the store goes where paths.d says.
    const list = await execa(RKT, [...cfg, 'image', 'list'], {reject: false, stdin: 'ignore'})
    assert.equal(list.exitCode, 0, String(list.stderr))
    assert.ok(fs.existsSync(path.join(data, 'cas')), 'the store was opened in the configured data directory')
  })
})
