// actool as image authors use it (appc's tool for ACIs): build (reproducible, refusing bad layouts and outputs),
// validate (ACIs, layout directories, image and pod manifests; --strict), cat-manifest.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {makeLayout, requireTool, Sandbox} from '../util/harness.js'

/** A layout with busybox and a couple of files, for building. */
function layout(s: Sandbox, name = 'layout'): string {
  return makeLayout(path.join(s.work, name), {
    name: 'example.com/hello',
    version: '1.0',
    labels: {env: 'test'},
    files: {'/etc/greeting': 'hello\n', '/usr/share/doc/readme': 'doc\n'},
  })
}

/** Rewrites the layout's manifest through `edit`. */
function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'manifest')
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>
  edit(m)
  fs.writeFileSync(file, JSON.stringify(m, null, 2))
}

describe('actool build', () => {
  test('is reproducible: the same layout gives byte-identical ACIs, which validate', async (t) => {
    const s = Sandbox.create(t)
    const l1 = layout(s, 'l1')
    // The same layout, content and metadata, somewhere else, built a second later.
    await execa('cp', ['-a', l1, path.join(s.work, 'l2')])
    const a = path.join(s.work, 'a.aci')
    const b = path.join(s.work, 'b.aci')
    const ra = await s.actool(['build', 'l1', a])
    assert.equal(ra.exitCode, 0, ra.stderr)
    await sleep(1100)
    const rb = await s.actool(['build', 'l2', b])
    assert.equal(rb.exitCode, 0, rb.stderr)
    assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), 'the two builds are byte-identical')
    assert.deepEqual([...fs.readFileSync(a).subarray(0, 2)], [0x1f, 0x8b], 'gzip-compressed by default')

    const ua = path.join(s.work, 'ua.aci')
    const ub = path.join(s.work, 'ub.aci')
    assert.equal((await s.actool(['build', '--no-compression', 'l1', ua])).exitCode, 0)
    assert.equal((await s.actool(['build', '--no-compression', 'l2', ub])).exitCode, 0)
    assert.ok(fs.readFileSync(ua).equals(fs.readFileSync(ub)), 'uncompressed builds too')
    assert.equal(fs.readFileSync(ua).toString('latin1', 257, 262), 'ustar', 'a plain tar')

    // A change in the layout changes the image (the comparison above can fail).
    fs.writeFileSync(path.join(s.work, 'l2/rootfs/etc/greeting'), 'hellO\n')
    const c = path.join(s.work, 'c.aci')
    assert.equal((await s.actool(['build', 'l2', c])).exitCode, 0)
    assert.ok(!fs.readFileSync(a).equals(fs.readFileSync(c)))

    const v = await s.actool(['--debug', 'validate', a, b, ua])
    assert.equal(v.exitCode, 0, v.stderr)
    for (const f of [a, b, ua]) assert.match(v.stderr, new RegExp(`^${f}: valid app container image$`, 'm'))
    const quiet = await s.actool(['validate', a])
    assert.equal(quiet.exitCode, 0)
    assert.equal(quiet.stderr, '', 'valid files are only reported with --debug')
  })

  test('refuses a layout with an extra top-level file, an output not ending in .aci, an existing output', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'stray\n')
    const extra = await s.actool(['build', dir, path.join(s.work, 'x.aci')])
    assert.equal(extra.exitCode, 1)
    assert.match(extra.stderr, /unrecognized file path in layout: "notes\.txt"/)
    assert.equal(fs.existsSync(path.join(s.work, 'x.aci')), false)
    fs.rmSync(path.join(dir, 'notes.txt'))

    for (const out of ['image.tar', 'image.aci.gz', 'image']) {
      const r = await s.actool(['build', dir, path.join(s.work, out)])
      assert.equal(r.exitCode, 1, out)
      assert.match(r.stderr, /extension must be \.aci/, out)
      assert.equal(fs.existsSync(path.join(s.work, out)), false, out)
    }

    const out = path.join(s.work, 'image.aci')
    fs.writeFileSync(out, 'keep\n')
    const exists = await s.actool(['build', dir, out])
    assert.equal(exists.exitCode, 1)
    assert.match(exists.stderr, /already exists[\s\S]*--overwrite/)
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep\n')
    const over = await s.actool(['build', '--overwrite', dir, out])
    assert.equal(over.exitCode, 0, over.stderr)
    assert.equal((await s.actool(['validate', out])).exitCode, 0)

    const missing = await s.actool(['build', dir])
    assert.equal(missing.exitCode, 2, 'a missing argument is a usage error')
  })

  test('refuses an invalid manifest, naming the JSON path', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    editManifest(dir, (m) => {
      ;(m['app'] as Record<string, unknown>)['ports'] = [{name: 'http', port: 99999, protocol: 'tcp'}]
    })
    const r = await s.actool(['build', dir, path.join(s.work, 'bad.aci')])
    assert.equal(r.exitCode, 1)
    assert.match(r.stderr, /^actool: app\.ports\[0\]\.port: /)
    assert.equal(fs.existsSync(path.join(s.work, 'bad.aci')), false)
  })
})

describe('device nodes: one rule for actool build and rkt fetch', () => {
  test('both refuse an image with a device node, with the same message and the fix; without it both accept', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    fs.mkdirSync(path.join(dir, 'rootfs/dev'), {recursive: true})
    await execa('mknod', [path.join(dir, 'rootfs/dev/null'), 'c', '1', '3'])
    const rule =
      /rootfs\/dev\/null is a character device \(1:3\): device nodes are not allowed[\s\S]*remove rootfs\/dev\/null from the image layout/
    const built = await s.actool(['build', dir, path.join(s.work, 'dev.aci')])
    assert.equal(built.exitCode, 1, 'actool build refuses it (it used to warn and exit 0)')
    assert.match(built.stderr, rule)
    assert.equal(fs.existsSync(path.join(s.work, 'dev.aci')), false)

    // The same image packed by another tool: rkt fetch says the same.
    const packed = path.join(s.work, 'packed.aci')
    await execa('tar', ['-C', dir, '-cf', packed, 'manifest', 'rootfs'])
    const fetched = await s.rkt(['--insecure-options=image', 'fetch', packed])
    assert.equal(fetched.exitCode, 254)
    assert.match(fetched.stderr, rule)

    fs.rmSync(path.join(dir, 'rootfs/dev/null'))
    const ok = path.join(s.work, 'ok.aci')
    assert.equal((await s.actool(['build', dir, ok])).exitCode, 0)
    const f = await s.rkt(['--insecure-options=image', 'fetch', ok])
    assert.equal(f.exitCode, 0, f.stderr)
  })
})

describe('actool validate', () => {
  test('a layout directory, an image manifest and a pod manifest', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    const pod = path.join(s.work, 'pod.json')
    fs.writeFileSync(
      pod,
      JSON.stringify({
        acVersion: '0.8.11',
        acKind: 'PodManifest',
        apps: [{name: 'hello', image: {name: 'example.com/hello', id: `sha512-${'ab'.repeat(64)}`}}],
      }),
    )
    const manifest = path.join(dir, 'manifest')
    const r = await s.actool(['validate', '--debug', dir, manifest, pod])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(r.stderr.split('\n'), [
      `${dir}: valid image layout`,
      `${manifest}: valid ImageManifest`,
      `${pod}: valid PodManifest`,
    ])
    const typed = await s.actool(['validate', '--debug', '--type=manifest', pod])
    assert.equal(typed.exitCode, 0, typed.stderr)
  })

  test('an invalid manifest fails with 1 and a message that starts with the JSON path', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    editManifest(dir, (m) => {
      ;(m['app'] as Record<string, unknown>)['ports'] = [{name: 'http', port: 99999, protocol: 'tcp'}]
    })
    const manifest = path.join(dir, 'manifest')
    for (const target of [dir, manifest]) {
      const r = await s.actool(['validate', target])
      assert.equal(r.exitCode, 1, target)
      const first = r.stderr.split('\n')[0]!
      assert.ok(first.startsWith(`${target}: `), first)
      assert.match(first.slice(target.length + 2), /^app\.ports\[0\]\.port: .*99999/, 'the JSON path comes first')
      assert.match(r.stderr, /1 of 1 file\(s\) failed validation/)
    }

    const pod = path.join(s.work, 'pod.json')
    fs.writeFileSync(
      pod,
      JSON.stringify({
        acVersion: '0.8.11',
        acKind: 'PodManifest',
        apps: [
          {name: 'ok', image: {id: `sha512-${'ab'.repeat(64)}`}},
          {name: 'Not_OK', image: {id: `sha512-${'ab'.repeat(64)}`}},
        ],
      }),
    )
    const bad = await s.actool(['validate', pod])
    assert.equal(bad.exitCode, 1)
    assert.match(bad.stderr, new RegExp(`^${pod}: apps\\[1\\]\\.name: "Not_OK"`))

    // One bad file among good ones: the others are still checked, and the run fails.
    const good = layout(s, 'good')
    const mixed = await s.actool(['validate', '--debug', pod, good])
    assert.equal(mixed.exitCode, 1)
    assert.match(mixed.stderr, new RegExp(`^${good}: valid image layout$`, 'm'))
    assert.match(mixed.stderr, /1 of 2 file\(s\) failed validation/)
  })

  test('--strict turns a Go-tolerated deviation (name example.com//app) into a failure', async (t) => {
    const s = Sandbox.create(t)
    const dir = layout(s)
    editManifest(dir, (m) => {
      m['name'] = 'example.com//app'
    })
    const lax = await s.actool(['validate', dir])
    assert.equal(lax.exitCode, 0, lax.stderr)
    assert.match(lax.stderr, /warning: name: "example\.com\/\/app" is not a valid AC Identifier/)
    const strict = await s.actool(['validate', '--strict', dir])
    assert.equal(strict.exitCode, 1)
    assert.match(strict.stderr, new RegExp(`^${dir}: name: "example\\.com//app" is not a valid AC Identifier`, 'm'))
    assert.doesNotMatch(strict.stderr, /warning/)

    // The image builds (as Go's actool would), with the warning; the ACI then validates the same way.
    const aci = path.join(s.work, 'lax.aci')
    const build = await s.actool(['build', dir, aci])
    assert.equal(build.exitCode, 0, build.stderr)
    assert.match(build.stderr, /warning: .*example\.com\/\/app/)
    assert.equal((await s.actool(['validate', aci])).exitCode, 0)
    assert.equal((await s.actool(['validate', '--strict', aci])).exitCode, 1)
  })
})

describe('actool cat-manifest', () => {
  test('prints the manifest stored in the image', async (t) => {
    await requireTool(t, 'tar')
    const s = Sandbox.create(t)
    const aci = path.join(s.work, 'hello.aci')
    assert.equal((await s.actool(['build', layout(s), aci])).exitCode, 0)
    const stored = (await execa('tar', ['-xzOf', aci, 'manifest'])).stdout

    const r = await s.actool(['cat-manifest', aci])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(r.stdout, stored, 'exactly the archived manifest')
    const m = JSON.parse(r.stdout) as {name: string; labels: {name: string; value: string}[]}
    assert.equal(m.name, 'example.com/hello')
    assert.deepEqual(
      m.labels.find((l) => l.name === 'env'),
      {name: 'env', value: 'test'},
    )
    const pretty = await s.actool(['cat-manifest', '--pretty-print', aci])
    assert.equal(pretty.exitCode, 0, pretty.stderr)
    assert.ok(pretty.stdout.split('\n').length > 10)
    assert.deepEqual(JSON.parse(pretty.stdout), m)

    const missing = await s.actool(['cat-manifest', path.join(s.work, 'absent.aci')])
    assert.equal(missing.exitCode, 1)
    assert.match(missing.stderr, /absent\.aci/)
  })
})

describe('actool patch-manifest', () => {
  test('patches the manifest; every other entry is copied byte for byte; the result validates and fetches', async (t) => {
    await requireTool(t, 'tar')
    const s = Sandbox.create(t)
    const aci = path.join(s.work, 'in.aci')
    assert.equal((await s.actool(['build', '--no-compression', layout(s), aci])).exitCode, 0)
    const out = path.join(s.work, 'out.aci')
    const r = await s.actool([
      'patch-manifest',
      '--exec=/bin/sh -c true',
      '--user=1000',
      '--group=1000',
      '--capability=CAP_NET_BIND_SERVICE',
      '--ports=www,protocol=tcp,port=8080',
      '--mounts=data,path=/data',
      '--isolators=resource/memory,limit=64M',
      aci,
      out,
    ])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal((await s.actool(['--debug', 'validate', out])).exitCode, 0)

    const m = JSON.parse((await s.actool(['cat-manifest', out])).stdout) as {app: Record<string, unknown>}
    assert.deepEqual(m.app['exec'], ['/bin/sh', '-c', 'true'])
    assert.equal(m.app['user'], '1000')
    assert.deepEqual(m.app['ports'], [{name: 'www', protocol: 'tcp', port: 8080, count: 1, socketActivated: false}])
    assert.deepEqual(m.app['mountPoints'], [{name: 'data', path: '/data'}])
    assert.deepEqual(m.app['isolators'], [
      {name: 'os/linux/capabilities-retain-set', value: {set: ['CAP_NET_BIND_SERVICE']}},
      {name: 'resource/memory', value: {limit: '64M'}},
    ])

    // Everything but the manifest: identical bytes (tar -tv listing and content of every file).
    const listing = async (f: string): Promise<string> =>
      (await execa('tar', ['--numeric-owner', '-tvf', f])).stdout
        .split('\n')
        .filter((l) => !/ manifest$/.test(l))
        .join('\n')
    assert.equal(await listing(out), await listing(aci))
    const busybox = async (f: string): Promise<Buffer> =>
      Buffer.from((await execa('tar', ['-xOf', f, 'rootfs/bin/busybox'], {encoding: 'buffer'})).stdout)
    assert.ok((await busybox(out)).equals(await busybox(aci)))

    // The patched image is a normal image: it fetches.
    const fetch = await s.rkt(['--insecure-options=image', 'fetch', out])
    assert.equal(fetch.exitCode, 0, fetch.stderr)
  })

  test('--replace patches in place (gzip by default); bad combinations are usage errors; an invalid result is refused', async (t) => {
    const s = Sandbox.create(t)
    const aci = path.join(s.work, 'app.aci')
    assert.equal((await s.actool(['build', layout(s), aci])).exitCode, 0)
    assert.equal((await s.actool(['patch-manifest', '--replace', '--name=example.com/renamed', aci])).exitCode, 0)
    assert.match((await s.actool(['cat-manifest', aci])).stdout, /"name":"example.com\/renamed"/)
    assert.equal(fs.readFileSync(aci).subarray(0, 2).toString('hex'), '1f8b', 'still gzip')

    const both = await s.actool([
      'patch-manifest',
      '--replace',
      '--name=example.com/x',
      aci,
      path.join(s.work, 'o.aci'),
    ])
    assert.equal(both.exitCode, 2, both.stderr)
    const invalid = await s.actool(['patch-manifest', '--name=Not_Valid', aci, path.join(s.work, 'bad.aci')])
    assert.equal(invalid.exitCode, 1)
    assert.match(invalid.stderr, /name/)
    assert.equal(fs.existsSync(path.join(s.work, 'bad.aci')), false, 'nothing written for an invalid manifest')
  })
})
