import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {describe, test} from 'node:test'

import {prefixCovers} from '../trust/names.js'
import {discoverEndpoints, discoverPublicKeys, parseMetaTags, renderTemplate} from './discovery.js'

// The spec's own discovery fixtures (shared/conformance/appc, copied from appc/spec discovery/testdata).
const FIXTURES = '/work/shared/conformance/appc'
const page = (n: number): string => fs.readFileSync(path.join(FIXTURES, `meta0${n}.html`), 'utf8')

/** Serves pages by path ('' = host root) on loopback, 404 elsewhere, and records the requests. */
async function serve(
  pages: Record<string, string>,
): Promise<{port: number; requests: string[]; close: () => Promise<void>}> {
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
  const port = (server.address() as AddressInfo).port
  return {port, requests, close: () => new Promise((r) => server.close(() => r()))}
}

// The fixtures name example.com; the test server is 127.0.0.1, so rewrite the prefixes in the pages.
const local = (html: string): string => html.replaceAll('"example.com', '"127.0.0.1')
const app = (name: string, labels: Record<string, string> = {}) => ({name: `127.0.0.1/${name}`, labels})

describe('appc discovery', () => {
  test('meta tags are read in document order; only ac-* tags with a prefix and a template count', () => {
    const metas = parseMetaTags(page(6))
    assert.deepEqual(
      metas.map((m) => m.name),
      ['ac-discovery', 'ac-discovery', 'ac-discovery', 'ac-discovery-pubkeys'],
    )
    assert.ok(metas.every((m) => m.prefix === 'example.com'))
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

  test('meta01 at the host root serves a deeper name by walking up; version defaults to latest', async () => {
    const srv = await serve({'': local(page(1))})
    try {
      const r = await discoverEndpoints(app('myapp/foobar', {os: 'linux', arch: 'amd64'}), {
        insecure: true,
        port: srv.port,
      })
      assert.deepEqual(r.endpoints, [
        {
          aci: 'https://storage.example.com/127.0.0.1/myapp/foobar-latest-linux-amd64.aci',
          asc: 'https://storage.example.com/127.0.0.1/myapp/foobar-latest-linux-amd64.aci.asc',
        },
      ])
      assert.deepEqual(
        r.attempts.map((a) => a.prefix),
        ['127.0.0.1/myapp/foobar', '127.0.0.1/myapp'],
      )
      const k = await discoverPublicKeys(app('myapp/foobar'), {insecure: true, port: srv.port})
      assert.deepEqual(k.keys, ['https://example.com/pubkeys.gpg'])
    } finally {
      await srv.close()
    }
  })

  test('meta04 at the root and meta02 at /myapp: endpoints from the most specific level, keys from the root', async () => {
    const srv = await serve({'': local(page(4)), myapp: local(page(2))})
    try {
      const labels = {version: '1.0.0', os: 'linux', arch: 'amd64'}
      const r = await discoverEndpoints(app('myapp', labels), {insecure: true, port: srv.port})
      assert.equal(r.endpoints.length, 1)
      assert.match(r.endpoints[0]!.aci, /^https:\/\/storage\.example\.com\//)
      const k = await discoverPublicKeys(app('myapp', labels), {insecure: true, port: srv.port})
      assert.deepEqual(k.keys, ['https://example.com/pubkeys.gpg'])
    } finally {
      await srv.close()
    }
  })

  test('meta05: only the template that can be filled is used; meta06 keeps all templates in order', async () => {
    const srv = await serve({'': local(page(5))})
    try {
      const r = await discoverEndpoints(app('myapp', {version: '1.0.0'}), {insecure: true, port: srv.port})
      assert.deepEqual(
        r.endpoints.map((e) => e.aci),
        ['https://storage.example.com/127.0.0.1/myapp-1.0.0.aci'],
      )
    } finally {
      await srv.close()
    }
    const srv6 = await serve({'': local(page(6))})
    try {
      const r = await discoverEndpoints(app('myapp', {version: '1.0.0', os: 'linux', arch: 'amd64'}), {
        insecure: true,
        port: srv6.port,
      })
      assert.equal(r.endpoints.length, 3)
      assert.match(r.endpoints[2]!.aci, /^hdfs:\/\//)
    } finally {
      await srv6.close()
    }
  })

  test('without --insecure, plain http is never tried; label values cannot inject URL syntax', async () => {
    const srv = await serve({'': local(page(1))})
    try {
      const r = await discoverEndpoints(app('myapp'), {port: srv.port, timeoutMs: 2000})
      assert.deepEqual(r.endpoints, [])
      assert.equal(srv.requests.length, 0, 'the https attempt fails at the TLS handshake; no http request is made')
      await assert.rejects(
        discoverEndpoints(app('myapp', {version: '1.0/../../x'}), {insecure: true, port: srv.port}),
        /URL syntax/,
      )
    } finally {
      await srv.close()
    }
  })
})
