// The walkthrough our users follow: make a key with gpg, build an image with actool, sign it, trust the
// key for a prefix, fetch the image. Then every way it must fail: an untrusted signer, a tampered image,
// a key trusted for a sibling prefix. Real gpg, real files, the built CLIs.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test, type TestContext} from 'node:test'

import {UserGpg} from '../util/gpg.js'
import {makeLayout, requireTool, RKT, Sandbox} from '../util/harness.js'

async function setup(t: TestContext, name = 'example.com/hello', opts: {compression?: boolean} = {}) {
  await requireTool(t, 'gpg')
  const s = Sandbox.create(t)
  makeLayout(path.join(s.work, 'layout'), {name, version: '1.0', files: {'/etc/greeting': 'hello from the image\n'}})
  const aci = path.join(s.work, 'hello.aci')
  const build = await s.actool(['build', ...(opts.compression === false ? ['--no-compression'] : []), 'layout', aci])
  assert.equal(build.exitCode, 0, build.stderr)
  const gpg = UserGpg.forTest(t, s, 'gnupg')
  await gpg.genKey('Example Signer', 'signer@example.com')
  await gpg.sign(aci, 'signer@example.com')
  const key = await gpg.exportKey('signer@example.com', path.join(s.work, 'pubkey.gpg'))
  return {s, aci, gpg, key}
}

async function assertNothingStored(s: Sandbox): Promise<void> {
  assert.deepEqual(await s.images(), [])
  assert.deepEqual(s.storeFiles(), [], 'no blob or staging file may be left behind')
}

describe('trust and signed fetch', () => {
  test('build, sign, trust --prefix, fetch: the image is verified and listed', async (t) => {
    const {s, aci, key} = await setup(t)

    const noTty = await s.rkt(['trust', '--prefix', 'example.com/hello', key])
    assert.equal(noTty.exitCode, 254, 'without a terminal the review cannot be asked: it must fail, not wait')
    assert.match(noTty.stderr, /--skip-fingerprint-review/)
    assert.equal(fs.existsSync(path.join(s.localConfig, 'trustedkeys')), false)

    const trust = await s.rkt(['trust', '--prefix', 'example.com/hello', '--skip-fingerprint-review', key])
    assert.equal(trust.exitCode, 0, trust.stderr)
    assert.match(trust.stdout, /GPG key fingerprint is: ([0-9A-F]{4} ){5} ([0-9A-F]{4} ?){5}/)
    assert.match(
      trust.stdout,
      /Added key for prefix "example.com\/hello" at ".*trustedkeys\/prefix\.d\/example\.com\/hello\/[0-9a-f]{40}"/,
    )

    const fetch = await s.rkt(['fetch', aci])
    assert.equal(fetch.exitCode, 0, fetch.stderr)
    assert.match(fetch.stdout.trim(), /^sha512-[0-9a-f]{32}$/)
    assert.match(fetch.stderr, /signature verified:\n\s+Example Signer <signer@example.com>/)

    const images = await s.images()
    assert.equal(images.length, 1)
    assert.equal(images[0]!.name, 'example.com/hello:1.0')
    assert.ok(images[0]!.id.startsWith(fetch.stdout.trim()), 'the printed ID is a prefix of the listed one')
    assert.match(images[0]!.id, /^sha512-[0-9a-f]{64}$/)

    // Fetching again is idempotent: still one image; --full prints the canonical ID.
    const again = await s.rkt(['fetch', '--full', `file://${aci}`, '--signature', `${aci}.asc`])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.match(again.stdout.trim(), /^sha512-[0-9a-f]{128}$/)
    assert.equal((await s.images()).length, 1)
  })

  test('on a terminal, trust shows the fingerprint and asks; "no" stores nothing, "yes" stores the key', async (t) => {
    await requireTool(t, 'script')
    const {s, key} = await setup(t)
    // script(1) gives rkt a pseudo-terminal, as a user's shell would; the answer is typed on it.
    const onTty = (answer: string) =>
      execa('script', ['-qec', `${RKT} ${s.globals.join(' ')} trust --prefix=example.com/hello ${key}`, '/dev/null'], {
        input: `${answer}\n`,
        reject: false,
      })
    const no = await onTty('no')
    assert.match(String(no.stdout), /GPG key fingerprint is:/)
    assert.match(String(no.stdout), /Are you sure you want to trust this key \(yes\/no\)\?/)
    assert.match(String(no.stdout), /not trusting/)
    assert.equal(fs.existsSync(path.join(s.localConfig, 'trustedkeys', 'prefix.d', 'example.com', 'hello')), false)

    const yes = await onTty('yes')
    assert.equal(yes.exitCode, 0, String(yes.stdout))
    assert.match(String(yes.stdout), /Trusting ".*" for prefix "example.com\/hello" after fingerprint review\./)
    assert.equal(fs.readdirSync(path.join(s.localConfig, 'trustedkeys', 'prefix.d', 'example.com', 'hello')).length, 1)
  })

  test('a signature by a key nobody trusted fails with 254 and stores nothing', async (t) => {
    const {s, aci, key, gpg} = await setup(t)
    await gpg.genKey('Mallory', 'mallory@example.com')
    await gpg.sign(aci, 'mallory@example.com') // overwrites hello.aci.asc
    assert.equal(
      (await s.rkt(['trust', '--prefix', 'example.com/hello', '--skip-fingerprint-review', key])).exitCode,
      0,
    )

    const r = await s.rkt(['fetch', aci])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /not a trusted key/)
    assert.match(r.stderr, /openpgp: signature made by unknown entity/, "rkt's words, which scripts match")
    assert.match(r.stderr, /rkt trust --prefix/, 'the message names the fix')
    await assertNothingStored(s)
  })

  test('a tampered image fails with 254 and stores nothing', async (t) => {
    const {s, aci, key} = await setup(t, 'example.com/hello', {compression: false})
    assert.equal(
      (await s.rkt(['trust', '--prefix', 'example.com/hello', '--skip-fingerprint-review', key])).exitCode,
      0,
    )
    // Change one byte inside a file's content: the archive stays a valid tar, only the signature can tell.
    const bytes = fs.readFileSync(aci)
    const at = bytes.indexOf('hello from the image')
    assert.ok(at > 0)
    bytes[at] = 'j'.charCodeAt(0)
    fs.writeFileSync(aci, bytes)

    const r = await s.rkt(['fetch', aci])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /signature/i)
    await assertNothingStored(s)
  })

  test('a key trusted for example.com/app does not verify example.com/application', async (t) => {
    const {s, aci, key} = await setup(t, 'example.com/application')
    assert.equal((await s.rkt(['trust', '--prefix', 'example.com/app', '--skip-fingerprint-review', key])).exitCode, 0)

    const r = await s.rkt(['fetch', aci])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /not trusted for this name/)
    assert.match(r.stderr, /rkt trust --prefix=example\.com\/application/, 'the message names the fix')
    await assertNothingStored(s)

    // The same key for the right prefix works.
    assert.equal(
      (await s.rkt(['trust', '--prefix', 'example.com/application', '--skip-fingerprint-review', key])).exitCode,
      0,
    )
    assert.equal((await s.rkt(['fetch', aci])).exitCode, 0)
  })

  test('no signature: 254 naming --signature and --insecure-options=image; the latter works with a warning', async (t) => {
    const {s, aci} = await setup(t)
    fs.rmSync(`${aci}.asc`)
    const r = await s.rkt(['fetch', aci])
    assert.equal(r.exitCode, 254)
    assert.match(r.stderr, /--signature/)
    assert.match(r.stderr, /--insecure-options=image/)
    await assertNothingStored(s)

    const insecure = await s.rkt(['--insecure-options=image', 'fetch', aci])
    assert.equal(insecure.exitCode, 0, insecure.stderr)
    assert.match(insecure.stderr, /warning: image signature verification has been disabled/)
    assert.equal((await s.images()).length, 1)
  })
})
