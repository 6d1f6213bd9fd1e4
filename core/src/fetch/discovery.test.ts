import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {describe, test} from 'node:test'

import {prefixCovers} from '../trust/names.js'
import {discoverEndpoints, discoverPublicKeys, parseMetaTags, renderTemplate} from './discovery.js'

type Server = {port: number; requests: string[]}

/** Serves pages by path ('' = host root) on loopback, 404 elsewhere, records the requests, and runs `use`. */
async function serve(pages: Record<string, string>, use: (srv: Server) => Promise<void>): Promise<void> {
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    requests.push(u.pathname + u.search)
    const body = u.searchParams.get('ac-discovery') === '1' ? pages[u.pathname.replace(/^\//, '')] : undefined
    if (body === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, {'content-type': 'text/html'}).end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  try {
    await use({port: (server.address() as AddressInfo).port, requests})
  } finally {
    await new Promise((r) => server.close(r))
  }
}

// Discovery pages as an image host would serve them. The prefix names the test server, 127.0.0.1.
const KEYS = 'https://example.org/keys/aci-signing.gpg'
const PLATFORM = 'https://images.example.org/{name}_{version}_{os}_{arch}.{ext}'
const PER_VERSION = 'https://images.example.org/{name}_{version}.{ext}'
const meta = (name: string, uri: string): string => `<meta name="${name}" content="127.0.0.1 ${uri}">`
const html = (...metas: string[]): string =>
  `<!doctype html>\n<html><head><meta charset="utf-8"><title>images</title>\n${metas.join('\n')}\n</head><body></body></html>\n`
const PAGES = {
  keysAndTemplate: html(meta('ac-discovery', PLATFORM), meta('ac-discovery-pubkeys', KEYS)),
  templateOnly: html(meta('ac-discovery', PLATFORM)),
  keysOnly: html(meta('ac-discovery-pubkeys', KEYS)),
  mirror: html(
    meta('ac-discovery', 'https://mirror.images.example.org/{name}_{version}_{os}_{arch}.{ext}'),
    meta('ac-discovery-pubkeys', KEYS),
  ),
  twoTemplates: html(
    meta('ac-discovery', PLATFORM),
    meta('ac-discovery', PER_VERSION),
    meta('ac-discovery-pubkeys', KEYS),
  ),
  threeTemplates: html(
    meta('description', 'https://not-a-template.example.org/{name}.{ext}'),
    meta('ac-discovery', PLATFORM),
    meta('ac-discovery', PER_VERSION),
    meta('ac-discovery', 'hdfs://archive.example.org:8020/aci/{name}_{version}_{os}_{arch}.{ext}'),
    meta('ac-discovery-pubkeys', KEYS),
  ),
}
const app = (name: string, labels: Record<string, string> = {}) => ({name: `127.0.0.1/${name}`, labels})
const PLATFORM_LABELS = {version: '2.3.1', os: 'linux', arch: 'aarch64'}

describe('appc discovery', () => {
  test('meta tags are read in document order; only ac-* tags with a prefix and a template count', () => {
    const metas = parseMetaTags(PAGES.threeTemplates)
    assert.deepEqual(
      metas.map((m) => m.name),
      ['ac-discovery', 'ac-discovery', 'ac-discovery', 'ac-discovery-pubkeys'],
    )
    assert.ok(metas.every((m) => m.prefix === '127.0.0.1'))
    assert.match(metas[2]!.uri, /^hdfs:\/\//)
    assert.deepEqual(
      parseMetaTags('<meta name="description" content="x y"><meta name="ac-discovery" content="onlyprefix">'),
      [],
    )
  })

  test('prefixes match whole path components only (SEC-59)', () => {
    assert.equal(prefixCovers('example.com', 'example.com/app'), true)
    assert.equal(prefixCovers('example.com/app', 'example.com/app'), true)
    assert.equal(prefixCovers('example.com/ap', 'example.com/app'), false)
  })

  test('templates with an unfilled placeholder are skipped (appc spec/discovery.md)', () => {
    const vars = new Map([
      ['name', 'a/b'],
      ['version', '1.0'],
    ])
    assert.equal(renderTemplate('https://s/{name}-{version}.aci', vars), 'https://s/a/b-1.0.aci')
    assert.equal(renderTemplate('https://s/{name}-{os}.aci', vars), undefined)
  })

  test('a page at the host root serves a deeper name by walking up; version defaults to latest', () =>
    serve({'': PAGES.keysAndTemplate}, async ({port}) => {
      const r = await discoverEndpoints(app('thumbnailer/nightly', {os: 'linux', arch: 'aarch64'}), {
        insecure: true,
        port,
      })
      assert.deepEqual(r.endpoints, [
        {
          aci: 'https://images.example.org/127.0.0.1/thumbnailer/nightly_latest_linux_aarch64.aci',
          asc: 'https://images.example.org/127.0.0.1/thumbnailer/nightly_latest_linux_aarch64.aci.asc',
        },
      ])
      assert.deepEqual(
        r.attempts.map((a) => a.prefix),
        ['127.0.0.1/thumbnailer/nightly', '127.0.0.1/thumbnailer'],
      )
      const k = await discoverPublicKeys(app('thumbnailer/nightly'), {insecure: true, port})
      assert.deepEqual(k.keys, [KEYS])
    }))

  test('a mirror at the root, a template at /thumbnailer: endpoints from the most specific level, keys from the root', () =>
    serve({'': PAGES.mirror, thumbnailer: PAGES.templateOnly}, async ({port}) => {
      const r = await discoverEndpoints(app('thumbnailer', PLATFORM_LABELS), {insecure: true, port})
      assert.deepEqual(
        r.endpoints.map((e) => e.aci),
        ['https://images.example.org/127.0.0.1/thumbnailer_2.3.1_linux_aarch64.aci'],
      )
      const k = await discoverPublicKeys(app('thumbnailer', PLATFORM_LABELS), {insecure: true, port})
      assert.deepEqual(k.keys, [KEYS])
    }))

  test('templates and keys are looked up independently, each at the nearest level that offers it', async () => {
    await serve({'': PAGES.templateOnly, thumbnailer: PAGES.keysOnly}, async ({port, requests}) => {
      const r = await discoverEndpoints(app('thumbnailer', PLATFORM_LABELS), {insecure: true, port})
      assert.deepEqual(
        r.endpoints.map((e) => e.aci),
        ['https://images.example.org/127.0.0.1/thumbnailer_2.3.1_linux_aarch64.aci'],
      )
      requests.length = 0
      const k = await discoverPublicKeys(app('thumbnailer', PLATFORM_LABELS), {insecure: true, port})
      assert.deepEqual(k.keys, [KEYS])
      assert.deepEqual(requests, ['/thumbnailer?ac-discovery=1'], 'the keys come from /thumbnailer alone')
    })
    await serve({'': PAGES.keysOnly}, async ({port}) => {
      assert.deepEqual((await discoverEndpoints(app('thumbnailer'), {insecure: true, port})).endpoints, [])
    })
    await serve({'': PAGES.templateOnly}, async ({port}) => {
      assert.deepEqual((await discoverPublicKeys(app('thumbnailer'), {insecure: true, port})).keys, [])
    })
  })

  test('only templates that can be filled are used (a "name" label is ignored); all are kept in order, any scheme', async () => {
    await serve({'': PAGES.twoTemplates}, async ({port}) => {
      const r = await discoverEndpoints(app('thumbnailer', {version: '2.3.1', name: 'other'}), {insecure: true, port})
      assert.deepEqual(
        r.endpoints.map((e) => e.aci),
        ['https://images.example.org/127.0.0.1/thumbnailer_2.3.1.aci'],
      )
    })
    await serve({'': PAGES.threeTemplates}, async ({port}) => {
      const r = await discoverEndpoints(app('thumbnailer', PLATFORM_LABELS), {insecure: true, port})
      assert.deepEqual(
        r.endpoints.map((e) => e.aci),
        [
          'https://images.example.org/127.0.0.1/thumbnailer_2.3.1_linux_aarch64.aci',
          'https://images.example.org/127.0.0.1/thumbnailer_2.3.1.aci',
          'hdfs://archive.example.org:8020/aci/127.0.0.1/thumbnailer_2.3.1_linux_aarch64.aci',
        ],
      )
    })
  })

  test('without --insecure, plain http is never tried; label values cannot inject URL syntax', () =>
    serve({'': PAGES.keysAndTemplate}, async ({port, requests}) => {
      const r = await discoverEndpoints(app('thumbnailer'), {port, timeoutMs: 2000})
      assert.deepEqual(r.endpoints, [])
      assert.equal(requests.length, 0, 'the https attempt fails at the TLS handshake; no http request is made')
      await assert.rejects(
        discoverEndpoints(app('thumbnailer', {version: '1.0/../../x'}), {insecure: true, port}),
        /URL syntax/,
      )
    }))
})
