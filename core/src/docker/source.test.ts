import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {parseManifestDoc, pickPlatform} from './source.js'

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const D = (c: string) => `sha256:${c.repeat(64)}`
const manifest = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('a'), size: 10},
  layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('b'), size: 20}],
}
const index = {
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [
    {mediaType: OCI_MANIFEST, digest: D('c'), size: 1, platform: {os: 'linux', architecture: 'arm64'}},
    {mediaType: OCI_MANIFEST, digest: D('d'), size: 1, platform: {os: 'linux', architecture: 'amd64'}},
  ],
}
const doc = (o: unknown) => Buffer.from(JSON.stringify(o))

describe('manifest documents', () => {
  test('a manifest and an index are told apart; an index picks linux/amd64 or lists what it has', () => {
    const m = parseManifestDoc(doc(manifest), 'm', OCI_MANIFEST)
    assert.equal(m.kind, 'manifest')
    const i = parseManifestDoc(doc(index), 'i', OCI_INDEX)
    assert.equal(i.kind, 'index')
    if (i.kind !== 'index') return
    assert.equal(pickPlatform(i.entries, 'i').digest, D('d'))
    assert.throws(() => pickPlatform(i.entries.slice(0, 1), 'app:1'), /no linux\/amd64 image \(it has: linux\/arm64\)/)
  })

  test('SEC-39: both "manifests" and "layers", or a mediaType the Content-Type contradicts, are refused', () => {
    assert.throws(() => parseManifestDoc(doc({...index, layers: manifest.layers}), 'x', OCI_INDEX), /ambiguous/)
    assert.throws(
      () => parseManifestDoc(doc({...manifest, manifests: index.manifests}), 'x', OCI_MANIFEST),
      /ambiguous/,
    )
    assert.throws(() => parseManifestDoc(doc(manifest), 'x', OCI_INDEX), /differs from the Content-Type/)
  })

  test('schema 1 is refused with the fix named', () => {
    assert.throws(
      () => parseManifestDoc(doc({schemaVersion: 1, name: 'a', fsLayers: []}), 'old', 'application/json'),
      /schema 1 manifest, which is not supported/,
    )
  })
})
