import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import type {Globals} from '../config/globals.js'

import {buildAci} from '../aci/build.js'
import {formatError, hasCode} from '../errors.js'
import {ImageStore} from '../store/image-store.js'
import {fetchImages, ImageLookup, type ImageRequest, type LookupOptions} from './lookup.js'

interface Env {
  dir: string
  store: ImageStore
  opts: LookupOptions
  warnings: string[]
}

/** A store with signature checks on (no key trusted) and pull policy never: nothing reaches the network. */
function setup(t: {after(fn: () => void): void}, trustedDirs: string[] = []): Env {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-lookup-'))
  t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
  const globals: Globals = {
    dir: path.join(dir, 'data'),
    localConfig: path.join(dir, 'no-local'),
    systemConfig: path.join(dir, 'no-system'),
    userConfig: '',
    debug: false,
    insecure: new Set(),
    trustKeysFromHttps: false,
  }
  const warnings: string[] = []
  const opts = {globals, pullPolicy: 'never' as const, trustedDirs, onWarning: (m: string) => warnings.push(m)}
  return {dir, store: ImageStore.open(globals.dir), opts, warnings}
}

async function makeAci(file: string, name: string): Promise<string> {
  const layout = fs.mkdtempSync(path.join(path.dirname(file), 'layout-'))
  const manifest = Buffer.from(
    JSON.stringify({acKind: 'ImageManifest', acVersion: '0.8.11', name, labels: [{name: 'os', value: 'linux'}]}),
  )
  fs.mkdirSync(path.join(layout, 'rootfs'))
  fs.writeFileSync(path.join(layout, 'manifest'), manifest)
  await buildAci({layoutDir: layout, outFile: file, manifest, compression: 'gzip'})
  return file
}

describe('the image lookup', () => {
  test('an unsigned file in a trusted directory is stored without a warning; outside, and through a link out of it, it needs a signature', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-lookup-trusted-'))
    t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
    fs.mkdirSync(path.join(dir, 'trusted'))
    fs.mkdirSync(path.join(dir, 'other'))
    const inside = await makeAci(path.join(dir, 'trusted', 'stage1.aci'), 'example.com/stage1')
    const outside = await makeAci(path.join(dir, 'other', 'stage1.aci'), 'example.com/stage1')
    fs.symlinkSync(outside, path.join(dir, 'trusted', 'link.aci'))
    const env = setup(t, [path.join(dir, 'trusted')])
    const lookup = new ImageLookup(env.store, env.opts)

    const rec = await lookup.find({image: inside})
    assert.equal(rec.name, 'example.com/stage1')
    assert.deepEqual(env.warnings, [])
    for (const image of [outside, path.join(dir, 'trusted', 'link.aci')]) {
      const err = await lookup.find({image}).then(
        () => assert.fail(`${image} was stored without a signature`),
        (e: unknown) => e,
      )
      assert.ok(hasCode(err, 'ENOSIG'), formatError(err))
    }
  })

  test('--stage1-hash and --stage1-name are read as an ID and a name, whatever they look like', async (t) => {
    const env = setup(t)
    const lookup = new ImageLookup(env.store, env.opts)
    const message = (req: ImageRequest) => lookup.find(req).then(() => assert.fail('found'), formatError)
    // Classified, a name would be fetched (refused by the pull policy), and a .aci a file to read.
    assert.match(
      await message({image: 'example.com/absent', as: 'id'}),
      /^no image named example\.com\/absent in the store\n/,
    )
    assert.equal(
      await message({image: 'absent.aci', as: 'name'}),
      'cannot fetch image absent.aci: image absent.aci is not in the store and --pull-policy=never forbids fetching it\n' +
        '  fetch it first (rkt fetch), or allow fetching with --pull-policy=new',
    )
  })

  test('rkt fetch names the argument a local failure is about; run’s lookup leaves it to the file’s own message', async (t) => {
    const env = setup(t)
    const missing = path.join(env.dir, 'missing.aci')
    const byRun = await new ImageLookup(env.store, env.opts).find({image: missing}).catch((e: unknown) => e)
    assert.match(formatError(byRun), /^cannot open image .*missing\.aci: .*ENOENT/)
    const byFetch = await fetchImages([{image: missing}], env.opts).catch((e: unknown) => e)
    assert.match(formatError(byFetch), /^cannot fetch image .*missing\.aci: .*ENOENT/)
  })
})
