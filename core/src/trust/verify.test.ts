import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {Readable} from 'node:stream'
import v8 from 'node:v8'
import vm from 'node:vm'
import {after, before, describe, test} from 'node:test'

import fc from 'fast-check'
import * as openpgp from 'openpgp'

import {RktError, formatError} from '../errors.js'
import {crc24, dearmorDetachedSignature} from './armor.js'
import {Gpg, placeKey, tempConfigDirs} from './gpg-fixture.js'
import {formatFingerprint, parsePublicKey} from './keys.js'
import {Keystore} from './keystore.js'
import type {TrustedKey} from './keystore.js'
import {isACIdentifier} from './names.js'
import {assertTrustedFor, verifyDetached} from './verify.js'
import type {Signer} from './verify.js'

let gpg: Gpg
const fpr: Record<string, string> = {}
const pub: Record<string, string> = {}
const sig: Record<string, string> = {}
const tmp: string[] = []
let data: Buffer
let dataFile: string

// Armors binary packets the way gpg does (64-column base64, CRC-24 line), for hand-built signature files.
function armorSignature(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64')
  const crc = crc24(bytes)
  const sum = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64')
  return `-----BEGIN PGP SIGNATURE-----\n\n${b64.match(/.{1,64}/g)!.join('\n')}\n=${sum}\n-----END PGP SIGNATURE-----\n`
}

async function storeWith(entries: Record<string, string>): Promise<Keystore> {
  const d = await tempConfigDirs()
  tmp.push(d.root)
  for (const [rel, content] of Object.entries(entries)) await placeKey(d.localDir, rel, content)
  return new Keystore({systemDir: d.systemDir, localDir: d.localDir})
}

async function keysOf(...names: string[]): Promise<openpgp.PublicKey[]> {
  return Promise.all(names.map((n) => parsePublicKey(pub[n]!)))
}

async function fails(p: Promise<unknown>, code: string, pattern: RegExp): Promise<RktError> {
  let caught: unknown
  await assert.rejects(p, (err: unknown) => {
    caught = err
    return true
  })
  assert.ok(caught instanceof RktError, `not an RktError: ${String(caught)}`)
  assert.equal(caught.code, code, formatError(caught))
  assert.match(formatError(caught), pattern)
  assert.ok(caught.hint, 'every verification error names the fix')
  return caught
}

before(async () => {
  gpg = await Gpg.create()
  data = crypto.randomBytes(10_000)
  dataFile = await gpg.writeFile('image.aci', data)
  // a: trusted ed25519 (primary signs); b: untrusted rsa; s: signing subkey under a certification-only primary.
  fpr.a = await gpg.genKey('Alice <alice@example.com>')
  fpr.b = await gpg.genKey('Bob <bob@example.com>', {algo: 'rsa2048'})
  fpr.r = await gpg.genKey('Rita <rita@example.com>', {algo: 'rsa3072'})
  fpr.s = await gpg.genKey('Sub <sub@example.com>', {usage: 'cert'})
  fpr.sSub = await gpg.addSubkey(fpr.s, {usage: 'sign'})
  fpr.sAuth = await gpg.addSubkey(fpr.s, {usage: 'auth'})
  // x: created 2020-01-01, expired a day later; signed while valid.
  fpr.x = await gpg.genKey('Old <old@example.com>', {expire: '1d', at: '20200101T000000'})
  // u: valid primary, signing subkey that expired in 2020; signed while valid.
  fpr.u = await gpg.genKey('Ursula <u@example.com>', {usage: 'cert', at: '20200101T000000'})
  fpr.uSub = await gpg.addSubkey(fpr.u, {usage: 'sign', expire: '1d', at: '20200101T000000'})
  // v: revoked after signing; t: signing subkey revoked after signing.
  fpr.v = await gpg.genKey('Victor <v@example.com>')
  fpr.t = await gpg.genKey('Tess <t@example.com>', {usage: 'cert'})
  fpr.tSub = await gpg.addSubkey(fpr.t, {usage: 'sign'})
  // m: an attacker's key whose signing subkey gets spliced into a's key file.
  fpr.m = await gpg.genKey('Mallory <m@example.com>', {usage: 'cert'})
  fpr.mSub = await gpg.addSubkey(fpr.m, {usage: 'sign'})

  for (const k of ['a', 'b', 'r', 's']) sig[k] = await gpg.detachSign(dataFile, [fpr[k]!])
  sig.x = await gpg.detachSign(dataFile, [fpr.x], {at: '20200101T010000'})
  sig.u = await gpg.detachSign(dataFile, [fpr.u], {at: '20200101T010000'})
  sig.v = await gpg.detachSign(dataFile, [fpr.v])
  sig.t = await gpg.detachSign(dataFile, [fpr.t])
  sig.m = await gpg.detachSign(dataFile, [fpr.m])
  sig.future = await gpg.detachSign(dataFile, [fpr.a], {at: '20990101T000000'})
  sig.sha1 = await gpg.detachSign(dataFile, [fpr.r], {extra: ['--digest-algo', 'SHA1']})
  sig.text = await gpg.detachSign(dataFile, [fpr.a], {extra: ['--textmode']})
  sig.ab = await gpg.detachSign(dataFile, [fpr.a, fpr.b])
  sig.clear = await gpg.signWith('--clearsign', dataFile, fpr.a)
  sig.inline = await gpg.signWith('--sign', dataFile, fpr.a)
  pub.vOld = await gpg.exportKey(fpr.v)
  await gpg.revokePrimary(fpr.v)
  await gpg.editKey(fpr.t, ['key 1', 'revkey', 'y', '0', '', 'y', 'save'])
  for (const k of ['a', 'b', 'r', 's', 'x', 'u', 'v', 't', 'm']) pub[k] = await gpg.exportKey(fpr[k]!)
})

after(async () => {
  await gpg?.cleanup()
  for (const d of tmp) await fs.rm(d, {recursive: true, force: true})
})

describe('verifyDetached', () => {
  test('a valid signature returns the signer', async () => {
    const signer = await verifyDetached({data, signature: sig.a!, keys: await keysOf('a', 'b')})
    assert.equal(signer.fingerprint, fpr.a)
    assert.equal(signer.signingKeyFingerprint, fpr.a)
    assert.equal(signer.signingKeyId, fpr.a!.slice(-16))
    assert.deepEqual(signer.userIds, ['Alice <alice@example.com>'])
    assert.ok(Math.abs(signer.created.getTime() - Date.now()) < 10 * 60_000)
    assert.deepEqual(signer.trustedKeys, [])
    // RSA too; and gpg agrees.
    assert.equal((await verifyDetached({data, signature: sig.r!, keys: await keysOf('r')})).fingerprint, fpr.r)
    assert.equal(await gpg.verifies(sig.a!, dataFile), true)
  })

  test('data may be a Node stream, a factory, a web stream or bytes', async () => {
    const keys = await keysOf('a')
    const inputs = [
      createReadStream(dataFile),
      () => createReadStream(dataFile, {highWaterMark: 1000}),
      async () => Promise.resolve(Readable.from([data.subarray(0, 3), data.subarray(3)])),
      Readable.toWeb(createReadStream(dataFile)) as never,
      new Uint8Array(data),
    ]
    for (const input of inputs) {
      assert.equal((await verifyDetached({data: input, signature: sig.a!, keys})).fingerprint, fpr.a)
    }
  })

  test('a signing subkey of a trusted key is accepted', async () => {
    const signer = await verifyDetached({data, signature: sig.s!, keys: await keysOf('a', 's')})
    assert.equal(signer.fingerprint, fpr.s)
    assert.equal(signer.signingKeyFingerprint, fpr.sSub)
    assert.equal(signer.signingKeyId, fpr.sSub!.slice(-16))
  })

  test('a signature by an untrusted key is ENOTTRUSTED, naming its fingerprint (SEC-49)', async () => {
    const err = await fails(
      verifyDetached({data, signature: sig.b!, keys: await keysOf('a'), name: 'example.com/app'}),
      'ENOTTRUSTED',
      new RegExp(formatFingerprint(fpr.b!)),
    )
    assert.match(err.hint!, /rkt trust --prefix=example.com\/app KEYFILE/)
    await fails(verifyDetached({data, signature: sig.b!, keys: []}), 'ENOTTRUSTED', /rkt trust --prefix=PREFIX/)
  })

  test('tampered data is EBADSIG', async () => {
    const keys = await keysOf('a')
    for (const variant of [
      Buffer.concat([data.subarray(0, 5000), Buffer.from([data[5000]! ^ 1]), data.subarray(5001)]),
      data.subarray(0, data.length - 1),
      Buffer.concat([data, Buffer.from([0])]),
      Buffer.alloc(0),
    ]) {
      await fails(verifyDetached({data: variant, signature: sig.a!, keys}), 'EBADSIG', /does not match its signature/)
    }
  })

  test('property: any single flipped byte of the data fails (FZ-07)', async () => {
    const keys = await keysOf('a')
    await fc.assert(
      fc.asyncProperty(fc.nat(data.length - 1), fc.integer({min: 1, max: 255}), async (at, x) => {
        const bad = Buffer.from(data)
        bad[at] = bad[at]! ^ x
        await fails(verifyDetached({data: bad, signature: sig.a!, keys}), 'EBADSIG', /does not match/)
      }),
      {numRuns: 100},
    )
  })

  test('cleartext-signed, inline-signed, two blocks, two packets and trailing data are refused (SEC-48, SEC-53)', async () => {
    const keys = await keysOf('a', 'b')
    let opened = 0
    const factory = (): Readable => {
      opened++
      return createReadStream(dataFile)
    }
    const cases: [string, RegExp][] = [
      [sig.clear!, /cleartext-signed/],
      [sig.inline!, /inline-signed/],
      [sig.a! + sig.b!, /second armored block/],
      [sig.ab!, /2 signature packets/],
      [sig.a! + 'trailing garbage\n', /data after the END line/],
      [sig.a!.replace('-----END', 'x\n-----END'), /not base64|checksum|canonical|truncated/],
      [sig.text!, /text-mode/],
    ]
    for (const [signature, pattern] of cases) {
      await fails(verifyDetached({data: factory, signature, keys}), 'EBADSIG', pattern)
    }
    assert.equal(opened, 0, 'the image is not opened when the signature file is malformed')
    // A given stream is destroyed, not left hanging, when verification fails early.
    const stream = createReadStream(dataFile)
    await fails(verifyDetached({data: stream, signature: sig.clear!, keys}), 'EBADSIG', /cleartext/)
    assert.equal(stream.destroyed, true)
  })

  test('a valid untrusted signature next to an invalid trusted one is refused (SEC-53)', async () => {
    // OpenPGP.js alone resolves expectSigned when *any* signature verifies; both are checked here.
    const forOther = await gpg.detachSign(await gpg.writeFile('other.bin', 'other data'), [fpr.a!])
    const packets = Buffer.concat([dearmorDetachedSignature(forOther), dearmorDetachedSignature(sig.b!)])
    const keys = await keysOf('a', 'b')
    await fails(verifyDetached({data, signature: armorSignature(packets), keys}), 'EBADSIG', /2 signature packets/)
  })

  test('expired keys are refused, even for signatures made before the expiry (SEC-52)', async () => {
    const err = await fails(
      verifyDetached({data, signature: sig.x!, keys: await keysOf('x')}),
      'EKEYEXPIRED',
      /expired on 2020-01-02.*even if made before the expiry/,
    )
    assert.match(err.hint!, /current key/)
    // The same signature checked as of a time the key was valid passes: only the reference time differs.
    const signer = await verifyDetached({
      data,
      signature: sig.x!,
      keys: await keysOf('x'),
      date: new Date('2020-01-01T12:00:00Z'),
    })
    assert.equal(signer.fingerprint, fpr.x)
    // An expired signing subkey under a valid primary.
    await fails(verifyDetached({data, signature: sig.u!, keys: await keysOf('u')}), 'EKEYEXPIRED', /expired/)
  })

  test('revoked keys and revoked signing subkeys are refused (SEC-52)', async () => {
    await fails(verifyDetached({data, signature: sig.v!, keys: await keysOf('v')}), 'EKEYREVOKED', /revoked/)
    await fails(verifyDetached({data, signature: sig.t!, keys: await keysOf('t')}), 'EKEYREVOKED', /revoked/)
    // gpg itself only warns: exit status 0, REVKEYSIG instead of GOODSIG.
    const gpgSays = await gpg.verifyStatus(sig.t!, dataFile)
    assert.equal(gpgSays.code, 0)
    assert.match(gpgSays.status, /^\[GNUPG:\] REVKEYSIG /m)
  })

  test('a subkey bound by another key, or not bound at all, cannot sign for the trusted key (SEC-50)', async () => {
    const a = await parsePublicKey(pub.a!)
    const m = await parsePublicKey(pub.m!)
    const spliced = await parsePublicKey(pub.a!)
    spliced.subkeys.push(m.subkeys[0]!)
    const splicedKey = await parsePublicKey(spliced.armor())
    assert.equal(splicedKey.getFingerprint(), a.getFingerprint())
    assert.equal(splicedKey.subkeys.length, 1)
    await fails(verifyDetached({data, signature: sig.m!, keys: [splicedKey]}), 'EBADSIG', /not valid/)
    // The subkey packet alone, without any binding signature.
    const bare = new openpgp.PacketList<openpgp.AnyPacket>()
    bare.push(...a.toPacketList(), m.subkeys[0]!.keyPacket)
    const bareKey = await parsePublicKey(bare.write())
    await assert.rejects(verifyDetached({data, signature: sig.m!, keys: [bareKey]}), (err: unknown) => {
      assert.ok(err instanceof RktError && ['EBADSIG', 'ENOTTRUSTED'].includes(err.code), String(err))
      return true
    })
    // Mallory's own key does verify it: the refusal is about the binding, not the signature.
    assert.equal((await verifyDetached({data, signature: sig.m!, keys: await keysOf('m')})).fingerprint, fpr.m)
  })

  test('a subkey without the sign flag cannot sign (SEC-51)', async () => {
    // gpg refuses to sign with an authentication-only subkey, so the signature is made with OpenPGP.js'
    // packet API from gpg's exported secret key.
    const secret = await openpgp.readPrivateKey({armoredKey: await gpg.exportSecretKey(fpr.s!)})
    const auth = secret.subkeys.find((k) => k.getFingerprint() === fpr.sAuth)!
    const literal = new openpgp.LiteralDataPacket()
    ;(literal as unknown as {setBytes(b: Uint8Array, f: openpgp.enums.literal): void}).setBytes(
      new Uint8Array(data),
      openpgp.enums.literal.binary,
    )
    const packet = new openpgp.SignaturePacket()
    packet.signatureType = openpgp.enums.signature.binary
    packet.hashAlgorithm = openpgp.enums.hash.sha256
    packet.publicKeyAlgorithm = auth.keyPacket.algorithm
    await (packet.sign as (...args: unknown[]) => Promise<void>)(
      auth.keyPacket,
      literal,
      new Date(),
      true,
      openpgp.config,
    )
    const list = new openpgp.PacketList<openpgp.SignaturePacket>()
    list.push(packet)
    const forged = armorSignature(list.write())
    await fails(verifyDetached({data, signature: forged, keys: await keysOf('s')}), 'EBADSIG', /not valid/)
    // gpg rejects it too.
    assert.equal(await gpg.verifies(forged, dataFile), false)
  })

  test('weak hashes, future-dated signatures and text-mode signatures are refused', async () => {
    const keys = await keysOf('a')
    await fails(verifyDetached({data, signature: sig.sha1!, keys: await keysOf('r')}), 'EBADSIG', /SHA1/)
    await fails(verifyDetached({data, signature: sig.future!, keys}), 'EBADSIG', /in the future/)
    await fails(verifyDetached({data, signature: sig.text!, keys}), 'EBADSIG', /text-mode/)
  })

  test('a read error of the data is reported as such, not as a bad signature', async () => {
    const broken = new Readable({
      read() {
        this.push(data.subarray(0, 100))
        this.destroy(Object.assign(new Error('disk on fire'), {code: 'EIO'}))
      },
    })
    await fails(verifyDetached({data: broken, signature: sig.a!, keys: await keysOf('a')}), 'EIO', /disk on fire/)
  })

  test('a large image is streamed, never held in memory whole', async () => {
    // 96 chunks of 1 MiB; at chunk 72 the source pauses, forces a GC and measures what is still held.
    const chunks = 96
    const block = crypto.randomBytes(1024 * 1024)
    const chunk = (i: number): Buffer => {
      const b = Buffer.from(block)
      b.writeUInt32BE(i, 0)
      return b
    }
    const big = path.join(gpg.work, 'big.aci')
    const handle = await fs.open(big, 'w')
    for (let i = 0; i < chunks; i++) await handle.write(chunk(i))
    await handle.close()
    const signature = await gpg.detachSign(big, [fpr.a!])
    await fs.rm(big, {force: true})
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    gc()
    const base = process.memoryUsage().arrayBuffers
    let held = Infinity
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < chunks; i++) {
        if (i === 72) {
          await new Promise((resolve) => setImmediate(resolve))
          gc()
          held = (process.memoryUsage().arrayBuffers - base) / 1024 / 1024
        }
        yield chunk(i)
      }
    }
    const signer = await verifyDetached({data: Readable.from(source()), signature, keys: await keysOf('a')})
    assert.equal(signer.fingerprint, fpr.a)
    assert.ok(held < 16, `${held.toFixed(1)} MiB still held after streaming 72 MiB`)
  })

  test('property: mutated signatures verify only if gpg also says they are good (FZ-07)', async () => {
    const keys = await keysOf('a')
    const bytes = dearmorDetachedSignature(sig.a!)
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({min: 1, max: 255}), async (at, x) => {
        const mutated = Buffer.from(bytes)
        mutated[at] = mutated[at]! ^ x
        const signature = armorSignature(mutated)
        const ours = await verifyDetached({data, signature, keys}).then(
          () => true,
          (err: unknown) => {
            assert.ok(err instanceof RktError, `unexpected ${String(err)}`)
            return false
          },
        )
        if (ours) {
          accepted++
          assert.equal(await gpg.verifies(signature, dataFile), true, `accepted a signature gpg rejects (byte ${at})`)
        }
      }),
      {numRuns: 60},
    )
    // Flips inside the unhashed area may keep a signature valid; everything else must fail.
    assert.ok(accepted < 30, `${accepted} of 60 mutations accepted`)
  })
})

describe('assertTrustedFor', () => {
  async function signerFrom(ks: Keystore, signature = sig.a!): Promise<Signer> {
    return verifyDetached({data, signature, keys: await ks.allKeys()})
  }

  test('a prefix key grants trust to the prefix and below, never to siblings or the parent (SEC-42)', async () => {
    const ks = await storeWith({[`prefix.d/example.com/app/${fpr.a}`]: pub.a!})
    const signer = await signerFrom(ks)
    assert.equal(signer.trustedKeys.length, 1)
    for (const name of ['example.com/app', 'example.com/app/sub']) {
      const k: TrustedKey = await assertTrustedFor(signer, name, ks)
      assert.equal(k.fingerprint, fpr.a)
    }
    for (const name of ['example.com/application', 'example.com/apps', 'example.com']) {
      const err = await fails(assertTrustedFor(signer, name, ks), 'ENOTTRUSTED', new RegExp(formatFingerprint(fpr.a!)))
      assert.match(err.message, /trusted only for prefix "example.com\/app"/)
      assert.match(err.hint!, new RegExp(`rkt trust --prefix=${name.replace('.', '\\.')} KEYFILE`))
    }
  })

  test('property: trusted for N iff N = P or N starts with P/ (FZ-08)', async () => {
    const ident = fc
      .array(fc.array(fc.constantFrom('a', 'p', '1', '-', '.', 'app'), {minLength: 1, maxLength: 3}), {
        minLength: 1,
        maxLength: 3,
      })
      .map((parts) => parts.map((p) => p.join('')).join('/'))
      .filter(isACIdentifier)
    await fc.assert(
      fc.asyncProperty(ident, ident, async (p, n) => {
        const ks = await storeWith({[`prefix.d/${p}/${fpr.a}`]: pub.a!})
        const signer = await signerFrom(ks)
        const ok = await assertTrustedFor(signer, n, ks).then(
          () => true,
          (err: unknown) => {
            assert.ok(err instanceof RktError && err.code === 'ENOTTRUSTED', String(err))
            return false
          },
        )
        assert.equal(ok, n === p || n.startsWith(p + '/'), `prefix ${p}, name ${n}`)
      }),
      {numRuns: 40},
    )
  })

  test('root keys are trusted for every name; other prefixes are not', async () => {
    const ks = await storeWith({[`root.d/${fpr.a}`]: pub.a!, [`prefix.d/example.com/${fpr.b}`]: pub.b!})
    const signer = await signerFrom(ks)
    assert.equal((await assertTrustedFor(signer, 'anything/at/all', ks)).root, true)
    const bob = await signerFrom(ks, sig.b)
    await assertTrustedFor(bob, 'example.com/x', ks)
    await fails(assertTrustedFor(bob, 'example.org', ks), 'ENOTTRUSTED', /trusted only for prefix "example.com"/)
  })

  test('a corrupt key file fails verification closed, naming the file (FI-19)', async () => {
    const ks = await storeWith({
      [`prefix.d/example.com/${fpr.a}`]: pub.a!.slice(0, 200),
    })
    await fails(ks.allKeys(), 'EBADKEY', new RegExp(`prefix.d/example.com/${fpr.a}`))
  })

  test('copies of one key are merged: a revocation in any copy counts', async () => {
    // The copy exported before the revocation is trusted for one prefix, the revoked copy for another.
    const old = await storeWith({[`prefix.d/one.com/${fpr.v}`]: pub.vOld!})
    assert.equal((await verifyDetached({data, signature: sig.v!, keys: await old.allKeys()})).fingerprint, fpr.v)
    const ks = await storeWith({[`prefix.d/one.com/${fpr.v}`]: pub.vOld!, [`prefix.d/two.com/${fpr.v}`]: pub.v!})
    await fails(verifyDetached({data, signature: sig.v!, keys: await ks.allKeys()}), 'EKEYREVOKED', /revoked/)
  })
})
