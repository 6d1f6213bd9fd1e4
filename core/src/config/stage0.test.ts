import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {RktError} from '../errors.js'
import {configLayers} from './globals.js'
import type {Globals} from './globals.js'
import {loadStage0Config, renderStage0Config} from './stage0.js'

interface Layers {
  system: string
  local: string
  user: string
  /** Writes `<layer>/<sub>/<name>` (a JSON value, or raw text). */
  put(layer: string, sub: string, name: string, doc: unknown): string
}

function layers(t: {after(fn: () => void): void}): Layers {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-config-'))
  t.after(() => fs.rmSync(root, {recursive: true, force: true}))
  return {
    system: path.join(root, 'usr-lib-rkt'),
    local: path.join(root, 'etc-rkt'),
    user: path.join(root, 'user'),
    put(layer, sub, name, doc) {
      const file = path.join(layer, sub, name)
      fs.mkdirSync(path.dirname(file), {recursive: true})
      fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
      return file
    },
  }
}

const basic = (domains: string[], user: string, password = 'secret'): unknown => ({
  rktKind: 'auth',
  rktVersion: 'v1',
  domains,
  type: 'basic',
  credentials: {user, password},
})

const docker = (registries: string[], user: string): unknown => ({
  rktKind: 'dockerAuth',
  rktVersion: 'v1',
  registries,
  credentials: {user, password: 'pw'},
})

function configError(fn: () => unknown, file: string, what: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RktError, String(err))
    assert.equal(err.code, 'ECONFIG')
    assert.ok(err.message.includes(file), `${file} named in: ${err.message}`)
    assert.match(err.message, what)
    return true
  })
}

describe('loadStage0Config: layers (system < local < user, as in rkt)', () => {
  test('no configuration directories at all: an empty configuration', (t) => {
    const l = layers(t)
    const cfg = loadStage0Config([l.system, l.local, l.user])
    assert.equal(cfg.auth.size, 0)
    assert.equal(cfg.dockerAuth.size, 0)
    assert.deepEqual(cfg.paths, {})
    assert.deepEqual(cfg.stage1, {})
  })

  test('paths and stage1 override field by field: system < local < user', (t) => {
    const l = layers(t)
    l.put(l.system, 'paths.d', 'p.json', {
      rktKind: 'paths',
      rktVersion: 'v1',
      data: '/sys-data',
      'stage1-images': '/sys-images',
    })
    l.put(l.local, 'paths.d', 'p.json', {rktKind: 'paths', rktVersion: 'v1', data: '/local-data'})
    l.put(l.system, 'stage1.d', 's.json', {
      rktKind: 'stage1',
      rktVersion: 'v1',
      name: 'coreos.com/rkt/stage1-coreos',
      version: '1.30.0',
      location: '/usr/lib/rkt/stage1.aci',
    })
    l.put(l.user, 'stage1.d', 's.json', {rktKind: 'stage1', rktVersion: 'v1', location: '/home/me/stage1.aci'})
    const two = loadStage0Config([l.system, l.local])
    assert.deepEqual(two.paths, {data: '/local-data', stage1Images: '/sys-images'})
    assert.deepEqual(two.stage1, {
      name: 'coreos.com/rkt/stage1-coreos',
      version: '1.30.0',
      location: '/usr/lib/rkt/stage1.aci',
    })
    l.put(l.user, 'paths.d', 'p.json', {rktKind: 'paths', rktVersion: 'v1', data: '/user-data'})
    const three = loadStage0Config([l.system, l.local, l.user])
    assert.deepEqual(three.paths, {data: '/user-data', stage1Images: '/sys-images'})
    assert.deepEqual(three.stage1, {
      name: 'coreos.com/rkt/stage1-coreos',
      version: '1.30.0',
      location: '/home/me/stage1.aci',
    })
    // Order matters: the same directories in another order give the other answer.
    assert.deepEqual(loadStage0Config([l.local, l.system]).paths, {data: '/sys-data', stage1Images: '/sys-images'})
  })

  test('configLayers: system, local, then user when given', () => {
    const g: Globals = {
      dir: '/var/lib/rkt',
      localConfig: '/etc/rkt',
      systemConfig: '/usr/lib/rkt',
      userConfig: '',
      debug: false,
      insecure: new Set(),
      trustKeysFromHttps: false,
    }
    assert.deepEqual(configLayers(g), ['/usr/lib/rkt', '/etc/rkt'])
    assert.deepEqual(configLayers({...g, userConfig: '/home/me/.rkt'}), ['/usr/lib/rkt', '/etc/rkt', '/home/me/.rkt'])
  })

  test('auth overrides per domain and dockerAuth per registry', (t) => {
    const l = layers(t)
    l.put(l.system, 'auth.d', 'a.json', basic(['a.example.com', 'b.example.com'], 'sys'))
    l.put(l.local, 'auth.d', 'a.json', {
      rktKind: 'auth',
      rktVersion: 'v1',
      domains: ['a.example.com'],
      type: 'oauth',
      credentials: {token: 'tok'},
    })
    l.put(l.user, 'auth.d', 'aws.json', {
      rktKind: 'auth',
      rktVersion: 'v1',
      domains: ['c.example.com:8443'],
      type: 'aws',
      credentials: {accessKeyID: 'AKID', secretAccessKey: 'sk', awsRegion: 'eu-west-1'},
    })
    l.put(l.system, 'auth.d', 'd.json', docker(['quay.io', 'registry-1.docker.io'], 'sysdocker'))
    const userDocker = l.put(l.user, 'auth.d', 'd.json', docker(['quay.io'], 'me'))
    const cfg = loadStage0Config([l.system, l.local, l.user])
    assert.equal(cfg.auth.get('a.example.com')?.type, 'oauth')
    assert.deepEqual(cfg.auth.get('a.example.com')?.credentials, {token: 'tok'})
    assert.equal(cfg.auth.get('b.example.com')?.type, 'basic')
    assert.equal(cfg.auth.get('b.example.com')?.credentials.user, 'sys')
    assert.equal(cfg.auth.get('c.example.com:8443')?.credentials.awsRegion, 'eu-west-1')
    assert.equal(cfg.dockerAuth.get('quay.io')?.credentials.user, 'me')
    assert.equal(cfg.dockerAuth.get('quay.io')?.file, userDocker)
    assert.equal(cfg.dockerAuth.get('registry-1.docker.io')?.credentials.user, 'sysdocker')
  })

  test('the same domain, registry or field twice within one layer is an error naming the file', (t) => {
    const l = layers(t)
    l.put(l.local, 'auth.d', 'a.json', basic(['a.example.com'], 'one'))
    const second = l.put(l.local, 'auth.d', 'b.json', basic(['x.example.com', 'a.example.com'], 'two'))
    configError(() => loadStage0Config([l.local]), second, /a\.example\.com is already defined/)

    const l2 = layers(t)
    const same = l2.put(l2.local, 'auth.d', 'a.json', basic(['a.example.com', 'a.example.com'], 'one'))
    configError(() => loadStage0Config([l2.local]), same, /already defined/)

    const l3 = layers(t)
    l3.put(l3.local, 'auth.d', 'a.json', docker(['quay.io'], 'one'))
    const dup = l3.put(l3.local, 'auth.d', 'b.json', docker(['quay.io'], 'two'))
    configError(() => loadStage0Config([l3.local]), dup, /quay\.io is already defined/)

    const l4 = layers(t)
    l4.put(l4.local, 'paths.d', 'a.json', {rktKind: 'paths', rktVersion: 'v1', data: '/a'})
    const dupData = l4.put(l4.local, 'paths.d', 'b.json', {rktKind: 'paths', rktVersion: 'v1', data: '/b'})
    configError(() => loadStage0Config([l4.local]), dupData, /data is already defined/)

    const l5 = layers(t)
    l5.put(l5.local, 'stage1.d', 'a.json', {rktKind: 'stage1', rktVersion: 'v1', location: '/a.aci'})
    const dupLoc = l5.put(l5.local, 'stage1.d', 'b.json', {rktKind: 'stage1', rktVersion: 'v1', location: '/b.aci'})
    configError(() => loadStage0Config([l5.local]), dupLoc, /location is already defined/)
  })

  test('the same domain in two different layers is an override, not an error', (t) => {
    const l = layers(t)
    l.put(l.system, 'auth.d', 'a.json', basic(['a.example.com'], 'sys'))
    l.put(l.local, 'auth.d', 'a.json', basic(['a.example.com'], 'local'))
    assert.equal(loadStage0Config([l.system, l.local]).auth.get('a.example.com')?.credentials.user, 'local')
  })

  test('only *.json files directly in <kind>.d count: other files and subdirectories are ignored', (t) => {
    const l = layers(t)
    l.put(l.local, 'auth.d', 'README', 'not json at all {')
    l.put(l.local, 'auth.d', 'old.json.bak', 'not json at all {')
    l.put(l.local, 'auth.d', 'old.json~', 'not json at all {')
    l.put(l.local, 'auth.d', 'nested/a.json', basic(['nested.example.com'], 'n'))
    fs.mkdirSync(path.join(l.local, 'auth.d', 'dir.json'))
    l.put(l.local, 'auth.d', 'real.json', basic(['real.example.com'], 'r'))
    l.put(l.local, 'other.d', 'x.json', 'not json at all {')
    l.put(l.local, '', 'paths.json', 'not json at all {')
    const cfg = loadStage0Config([l.local])
    assert.deepEqual([...cfg.auth.keys()], ['real.example.com'])
  })

  test('a configuration path that is a file instead of a directory reads as empty', (t) => {
    const l = layers(t)
    l.put(l.local, '', 'auth.d', 'a file')
    assert.equal(loadStage0Config([l.local]).auth.size, 0)
  })

  test('rktVersion must be v1 and rktKind must belong in its directory', (t) => {
    const l = layers(t)
    const v2 = l.put(l.local, 'paths.d', 'a.json', {rktKind: 'paths', rktVersion: 'v2', data: '/x'})
    configError(() => loadStage0Config([l.local]), v2, /"rktVersion" must be "v1"/)
    fs.rmSync(v2)
    const noVersion = l.put(l.local, 'paths.d', 'a.json', {rktKind: 'paths', data: '/x'})
    configError(() => loadStage0Config([l.local]), noVersion, /"rktVersion" must be "v1"/)
    fs.rmSync(noVersion)
    const misplaced = l.put(l.local, 'paths.d', 'a.json', {rktKind: 'stage1', rktVersion: 'v1', location: '/x'})
    configError(() => loadStage0Config([l.local]), misplaced, /"rktKind" "stage1" does not belong in paths\.d/)
    fs.rmSync(misplaced)
    const unknown = l.put(l.local, 'auth.d', 'a.json', {rktKind: 'magic', rktVersion: 'v1'})
    configError(() => loadStage0Config([l.local]), unknown, /"rktKind" "magic"/)
    fs.rmSync(unknown)
    const missing = l.put(l.local, 'stage1.d', 'a.json', {rktVersion: 'v1', location: '/x'})
    configError(() => loadStage0Config([l.local]), missing, /"rktKind"/)
  })

  test('malformed files are errors naming the file and the problem', (t) => {
    const cases: [string, string, unknown, RegExp][] = [
      ['auth.d', 'a.json', '{"rktKind": ', /not valid JSON/],
      ['auth.d', 'a.json', '[1]', /not a JSON object/],
      ['auth.d', 'a.json', {rktKind: 'auth', rktVersion: 'v1', domains: ['a'], type: 'digest'}, /"type"/],
      [
        'auth.d',
        'a.json',
        {rktKind: 'auth', rktVersion: 'v1', domains: ['a'], type: 'basic', credentials: {user: 'u'}},
        /credentials\.password/,
      ],
      [
        'auth.d',
        'a.json',
        {rktKind: 'auth', rktVersion: 'v1', domains: [], type: 'oauth', credentials: {token: 't'}},
        /"domains" must be a non-empty list/,
      ],
      ['auth.d', 'a.json', {rktKind: 'dockerAuth', rktVersion: 'v1', registries: ['q']}, /"credentials"/],
      ['paths.d', 'a.json', {rktKind: 'paths', rktVersion: 'v1', data: ''}, /"data" must be a non-empty string/],
      ['stage1.d', 'a.json', {rktKind: 'stage1', rktVersion: 'v1', name: 'x'}, /"name" and "version"/],
      ['stage1.d', 'a.json', {rktKind: 'stage1', rktVersion: 'v1', version: '1'}, /"name" and "version"/],
    ]
    for (const [sub, name, doc, what] of cases) {
      const l = layers(t)
      const file = l.put(l.local, sub, name, doc)
      configError(() => loadStage0Config([l.local]), file, what)
    }
  })
})

describe('renderStage0Config (rkt config)', () => {
  test('hides password, token and secretAccessKey as "***"; keeps the rest', (t) => {
    const l = layers(t)
    l.put(l.local, 'auth.d', 'basic.json', basic(['a.example.com'], 'alice', 'hunter2'))
    l.put(l.local, 'auth.d', 'oauth.json', {
      rktKind: 'auth',
      rktVersion: 'v1',
      domains: ['b.example.com'],
      type: 'oauth',
      credentials: {token: 'sekrit-token'},
    })
    l.put(l.local, 'auth.d', 'aws.json', {
      rktKind: 'auth',
      rktVersion: 'v1',
      domains: ['c.example.com'],
      type: 'aws',
      credentials: {accessKeyID: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI', awsRegion: 'us-east-1'},
    })
    l.put(l.local, 'auth.d', 'docker.json', docker(['quay.io'], 'bob'))
    l.put(l.local, 'paths.d', 'p.json', {rktKind: 'paths', rktVersion: 'v1', data: '/srv/rkt'})
    const out = renderStage0Config(loadStage0Config([l.local]))
    const text = JSON.stringify(out)
    for (const secret of ['hunter2', 'sekrit-token', 'wJalrXUtnFEMI', '"pw"']) assert.ok(!text.includes(secret), secret)
    const byKind = (kind: string): Record<string, unknown>[] => out.stage0.filter((e) => e['rktKind'] === kind)
    const auth = byKind('auth')
    assert.deepEqual(
      auth.find((e) => (e['domains'] as string[])[0] === 'a.example.com'),
      {
        rktVersion: 'v1',
        rktKind: 'auth',
        domains: ['a.example.com'],
        type: 'basic',
        credentials: {user: 'alice', password: '***'},
      },
    )
    assert.deepEqual(auth.find((e) => e['type'] === 'oauth')?.['credentials'], {token: '***'})
    assert.deepEqual(auth.find((e) => e['type'] === 'aws')?.['credentials'], {
      accessKeyID: 'AKIDEXAMPLE',
      secretAccessKey: '***',
      awsRegion: 'us-east-1',
    })
    assert.deepEqual(byKind('dockerAuth'), [
      {rktVersion: 'v1', rktKind: 'dockerAuth', registries: ['quay.io'], credentials: {user: 'bob', password: '***'}},
    ])
    assert.deepEqual(byKind('paths'), [{rktVersion: 'v1', rktKind: 'paths', data: '/srv/rkt'}])
    assert.deepEqual(byKind('stage1'), [{rktVersion: 'v1', rktKind: 'stage1'}])
    // The loaded configuration itself keeps the secrets (they are needed to authenticate).
    assert.equal(loadStage0Config([l.local]).auth.get('a.example.com')?.credentials.password, 'hunter2')
  })
})
