import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {describe, test} from 'node:test'

import type {EntrySpec} from '../aci/testing.js'

import {AciValidator, TarReader} from '../aci/index.js'
import {parseImageManifest} from '../schema/index.js'
import {convertLayer} from './layer.js'
import type {LowerState} from './layer.js'
import {layerManifest} from './convert.js'
import {makeLayer} from './testing.js'

const EMPTY: LowerState = {paths: new Set(), groups: []}
const config = {architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: []}}

async function convert(entries: EntrySpec[], lower: LowerState = EMPTY, opts: {gzip?: boolean; diffId?: string} = {}) {
  const layer = await makeLayer(entries, opts.gzip ?? true)
  const parts: Buffer[] = []
  const r = await convertLayer(Readable.from([layer.blob]), {
    diffId: opts.diffId ?? layer.diffId,
    what: 'layer test',
    lower,
    selfName: 'docker-layer/test',
    manifest: (whitelist, groups) => layerManifest({name: 'docker-layer/test', config, whitelist, groups}),
    write: (c) => parts.push(Buffer.from(c)),
  })
  const aci = Buffer.concat(parts)
  const v = new AciValidator()
  v.push(aci)
  const {manifest} = v.finish()
  const names: string[] = []
  const reader = new TarReader({
    onEntry: (e) => names.push(e.type === 'hardlink' ? `${e.name}->${e.linkname}` : e.name),
    onData: () => {},
    onEntryEnd: () => {},
  })
  reader.push(aci)
  reader.end()
  return {aci, names, whitelist: r.whitelist, groups: r.groups, manifest: parseImageManifest(manifest).manifest}
}

describe('convertLayer', () => {
  test('moves entries under rootfs/ and lists the files in the whitelist', async () => {
    const r = await convert([
      {name: './'},
      {name: 'etc/'},
      {name: 'etc/motd', data: 'hi\n'},
      {name: 'bin/sh', type: 'symlink', linkname: 'busybox'},
    ])
    assert.deepEqual(r.names, ['rootfs', 'rootfs/etc', 'rootfs/etc/motd', 'rootfs/bin/sh', 'manifest'])
    assert.deepEqual(r.whitelist, ['/bin/sh', '/etc/motd'])
    assert.deepEqual(r.manifest.pathWhitelist, ['/bin/sh', '/etc/motd'])
  })

  for (const root of ['/', './', '.', '//', '/./'] as const) {
    test(`takes the entry ${JSON.stringify(root)} for the root directory, as GNU tar and containerd do`, async () => {
      const r = await convert([{name: root, mode: 0o755}, {name: 'etc/'}, {name: 'etc/motd', data: 'hi\n'}])
      assert.deepEqual(r.names, ['rootfs', 'rootfs/etc', 'rootfs/etc/motd', 'manifest'])
    })
  }

  test('refuses a root entry that is not a directory, and absolute names beside it', async () => {
    await assert.rejects(convert([{name: '/', data: 'x'}]), /root of the layer must be a directory/)
    await assert.rejects(convert([{name: '/'}, {name: '/etc/passwd', data: 'x'}]), /absolute/)
  })

  test('is deterministic: the same layer gives the same bytes', async () => {
    const e: EntrySpec[] = [
      {name: 'a', data: 'x'},
      {name: 'dir/'},
      {name: 'dir/b', data: 'y', mode: 0o4755, uid: 5000000},
    ]
    const a = await convert(e)
    const b = await convert(e, EMPTY, {gzip: false})
    assert.ok(a.aci.equals(b.aci))
  })

  test('whiteouts delete lower files and directories, and are not emitted', async () => {
    const lower: LowerState = {paths: new Set(['/etc/a', '/etc/b', '/d/x', '/d/sub/y', '/keep', '/dd']), groups: []}
    const r = await convert(
      [
        {name: 'etc/.wh.a', data: ''},
        {name: '.wh.d', data: ''},
        {name: 'new', data: 'n'},
      ],
      lower,
    )
    assert.deepEqual(r.whitelist, ['/dd', '/etc/b', '/keep', '/new'])
    assert.ok(!r.names.some((n) => n.includes('.wh.')))
  })

  test('an opaque directory removes only lower children; `.wh.x/file` is a plain file', async () => {
    const lower: LowerState = {paths: new Set(['/o/x', '/o/sub/y', '/other']), groups: []}
    const r = await convert(
      [
        {name: 'o/'},
        {name: 'o/.wh..wh..opq', data: ''},
        {name: 'o/z', data: 'z'},
        {name: '.wh.etc/somefile', data: 's'},
      ],
      lower,
    )
    assert.deepEqual(r.whitelist, ['/.wh.etc/somefile', '/o/z', '/other'])
  })

  test('a file replacing a lower directory removes its children; a directory replacing a file removes it', async () => {
    const lower: LowerState = {paths: new Set(['/p/child', '/f']), groups: []}
    const r = await convert([{name: 'p', data: 'now a file'}, {name: 'f/'}], lower)
    assert.deepEqual(r.whitelist, ['/p'])
  })

  test('hardlinks stay hardlinks and are remembered as groups', async () => {
    const r = await convert([
      {name: 'A', data: 'content'},
      {name: 'B', type: 'link', linkname: 'A'},
      {name: 'C', type: 'link', linkname: 'B'},
    ])
    assert.deepEqual(r.names, ['rootfs', 'rootfs/A', 'rootfs/B->rootfs/A', 'rootfs/C->rootfs/A', 'manifest'])
    assert.deepEqual(r.groups, [{layer: 'docker-layer/test', target: '/A', links: ['/B', '/C']}])
  })

  for (const [name, why] of [
    ['../victim/x', /'\.\.' in the name/],
    ['rootfs/../../victim/x', /'\.\.' in the name/],
    ['/etc/passwd', /absolute/],
    ['.wh..', /SEC-36/],
    ['.wh...', /SEC-36/],
    ['etc/.wh..', /SEC-36/],
    ['etc/.wh...', /SEC-36/],
    ['etc/.wh.', /SEC-36/],
  ] as const) {
    test(`refuses the hostile entry ${name}`, async () => {
      await assert.rejects(convert([{name: 'etc/'}, {name, data: 'x'}]), (e: Error) => {
        assert.match(e.message, why)
        assert.ok(e.message.includes(JSON.stringify(name)) || e.message.includes(name), e.message)
        return true
      })
    })
  }

  test('refuses a hardlink to a file of another layer', async () => {
    await assert.rejects(
      convert([{name: 'B', type: 'link', linkname: 'etc/passwd'}]),
      /not an earlier file of this layer/,
    )
  })

  test('refuses a layer whose tar is not the diff ID', async () => {
    await assert.rejects(
      convert([{name: 'a', data: 'x'}], EMPTY, {diffId: `sha256:${'0'.repeat(64)}`}),
      /image config says/,
    )
  })

  test('refuses zstd layers with a clear error', async () => {
    const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])
    await assert.rejects(
      convertLayer(Readable.from([zstd]), {
        diffId: `sha256:${'0'.repeat(64)}`,
        what: 'layer z',
        lower: EMPTY,
        selfName: 'x',
        manifest: () => Buffer.from('{}'),
        write: () => {},
      }),
      /zstd, which is not supported/,
    )
  })
})
