import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'
import zlib from 'node:zlib'

import {RktError} from '../errors.js'
import {openAci} from './compression.js'
import {ImageIdHasher} from './image-id.js'
import type {AciLimits} from './limits.js'
import {encodePaxHeader, encodeUstarHeader} from './tar-header.js'
import {AciValidator} from './validate.js'
import type {AciValidation} from './validate.js'
import {TEST_MANIFEST, packImage, packTar} from './testing.js'

function validate(buf: Buffer, limits: Partial<AciLimits> = {}, chunk = 4096): AciValidation {
  const v = new AciValidator({limits})
  for (let i = 0; i < buf.length; i += chunk) v.push(buf.subarray(i, i + chunk))
  return v.finish()
}

function rejects(buf: Buffer, code: string, pattern: RegExp, limits: Partial<AciLimits> = {}): void {
  assert.throws(
    () => validate(buf, limits),
    (err: unknown) => err instanceof RktError && err.code === code && pattern.test(err.message),
  )
}

test('a valid image yields its manifest bytes exactly, and counts', async () => {
  const buf = await packImage([
    {name: 'rootfs/bin/sh', data: 'x'.repeat(10_000)},
    {name: 'rootfs/bin/ls', type: 'link', linkname: 'rootfs/bin/sh'},
  ])
  for (const chunk of [1, 100, 512, 65536]) {
    const r = validate(buf, {}, chunk)
    assert.deepEqual(r.manifest, TEST_MANIFEST)
    assert.equal(r.entries, 4)
    assert.equal(r.bytes, buf.length)
  }
})

test('the fetch pipeline: decompress, validate, hash and store the same chunks', async () => {
  const tar = await packImage([{name: 'rootfs/a', data: 'a'}])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-val-'))
  try {
    fs.writeFileSync(path.join(dir, 'x.aci'), zlib.gzipSync(tar))
    const {stream} = await openAci(path.join(dir, 'x.aci'))
    const v = new AciValidator()
    const h = new ImageIdHasher()
    const out = fs.openSync(path.join(dir, 'blob'), 'w')
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      v.push(chunk)
      h.update(chunk)
      fs.writeSync(out, chunk)
    }
    fs.closeSync(out)
    const r = v.finish()
    assert.deepEqual(r.manifest, TEST_MANIFEST)
    assert.equal(h.digest(), `sha512-${crypto.createHash('sha512').update(tar).digest('hex')}`)
    assert.deepEqual(fs.readFileSync(path.join(dir, 'blob')), tar)
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('SEC-32: two manifests (also manifest + ./manifest) are rejected, so no reader can pick a different one', async () => {
  rejects(await packImage([{name: 'manifest', data: '{"evil":1}'}]), 'EBADACI', /duplicate entry 'manifest'/)
  rejects(await packImage([{name: './manifest', data: '{"evil":1}'}]), 'EBADACI', /duplicate entry 'manifest'/)
  rejects(
    await packImage([
      {name: 'rootfs/bin/app', data: '1'},
      {name: 'rootfs/bin/app', data: '2'},
    ]),
    'EBADACI',
    /duplicate entry/,
  )
  const smuggled = Buffer.concat([
    (await packImage([])).subarray(0, -1024),
    encodePaxHeader([['size', '1024']]),
    encodeUstarHeader({name: 'rootfs/a', typeflag: '0', size: 512}),
    Buffer.alloc(1024),
    Buffer.alloc(1024),
  ])
  rejects(smuggled, 'EBADTAR', /pax size 1024 disagrees/)
})

test('layout rules: rootfsjunk, stray top-level entries, wrong types, missing parts, oversized manifest', async () => {
  rejects(await packImage([{name: 'rootfsjunk', data: 'x'}]), 'EBADACI', /only 'manifest' and 'rootfs/)
  rejects(await packImage([{name: 'etc/passwd', data: 'x'}]), 'EBADACI', /only 'manifest' and 'rootfs/)
  rejects(await packTar([{name: 'manifest/'}, {name: 'rootfs/'}]), 'EBADACI', /manifest is a directory/)
  rejects(
    await packTar([
      {name: 'manifest', data: '{}'},
      {name: 'rootfs', data: 'x'},
    ]),
    'EBADACI',
    /rootfs is a file/,
  )
  rejects(await packTar([{name: 'rootfs/'}, {name: 'rootfs/a', data: 'x'}]), 'EBADACI', /no 'manifest'/)
  rejects(await packTar([{name: 'manifest', data: '{}'}]), 'EBADACI', /no 'rootfs'/)
  rejects(
    await packTar([{name: 'manifest', data: 'x'.repeat(2000)}, {name: 'rootfs/'}]),
    'ELIMIT',
    /maxManifestBytes/,
    {maxManifestBytes: 1000},
  )
  rejects(
    await packImage([
      {name: 'rootfs/f', data: 'x'},
      {name: 'rootfs/f/g', data: 'y'},
    ]),
    'EBADACI',
    /parent "rootfs\/f" is a regular file/,
  )
  rejects(
    await packImage([
      {name: 'rootfs/l', type: 'link', linkname: 'rootfs/later'},
      {name: 'rootfs/later', data: 'x'},
    ]),
    'EBADACI',
    /not an earlier entry/,
  )
})

test('once failed, the validator stays failed', async () => {
  const v = new AciValidator()
  const bad = await packImage([{name: '../x', data: 'x'}])
  assert.throws(() => v.push(bad))
  assert.throws(() => v.push(Buffer.alloc(512)))
  assert.throws(() => v.finish())
})

test('device nodes are refused at fetch (rendering would refuse them), unless allowed', async () => {
  const img = await packImage([
    {name: 'rootfs/dev/', type: 'directory'},
    {name: 'rootfs/dev/mem', type: 'character-device', devmajor: 1, devminor: 1},
  ])
  const v = new AciValidator()
  assert.throws(
    () => v.push(img),
    (err: unknown) =>
      err instanceof RktError &&
      /rootfs\/dev\/mem is a character device \(1:1\)/.test(err.message) &&
      /\/dev/.test(err.hint ?? ''),
  )
  const allowed = new AciValidator({allowDevices: true})
  allowed.push(img)
  assert.equal(allowed.finish().entries > 0, true)
})
