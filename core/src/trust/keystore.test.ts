import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import fc from 'fast-check'

import {RktError, UsageError, formatError} from '../errors.js'
import {Gpg, placeKey, tempConfigDirs} from './gpg-fixture.js'
import {describeKey, formatFingerprint, parsePublicKey} from './keys.js'
import {Keystore} from './keystore.js'
import {isACIdentifier} from './names.js'

let gpg: Gpg
const fpr: Record<string, string> = {}
const pub: Record<string, string> = {}
const dirs: string[] = []

async function newStore(): Promise<{ks: Keystore; systemDir: string; localDir: string}> {
  const d = await tempConfigDirs()
  dirs.push(d.root)
  return {
    ks: new Keystore({systemDir: d.systemDir, localDir: d.localDir}),
    systemDir: d.systemDir,
    localDir: d.localDir,
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<RktError> {
  let caught: unknown
  await assert.rejects(p, (err: unknown) => {
    caught = err
    return true
  })
  assert.ok(caught instanceof RktError, String(caught))
  assert.equal(caught.code, code, caught.message)
  // Match what the user sees: the outer message, the innermost cause and the hint.
  assert.match(formatError(caught), pattern)
  assert.ok(caught.hint, 'every keystore error names the fix')
  return caught
}

before(async () => {
  gpg = await Gpg.create()
  fpr.a = await gpg.genKey('Alice <alice@example.com>')
  fpr.b = await gpg.genKey('Bob <bob@example.com>', {algo: 'rsa2048'})
  // Certification-only primary with an encryption subkey: nothing that can sign.
  fpr.c = await gpg.genKey('Carol <carol@example.com>', {usage: 'cert'})
  await gpg.addSubkey(fpr.c, {algo: 'cv25519', usage: 'encr'})
  fpr.e = await gpg.genKey('Expired <exp@example.com>', {expire: '1d', at: '20200101T000000'})
  for (const k of ['a', 'b', 'c', 'e']) pub[k] = await gpg.exportKey(fpr[k]!)
})

after(async () => {
  await gpg?.cleanup()
  for (const d of dirs) await fs.rm(d, {recursive: true, force: true})
})

describe('keysForImage', () => {
  test('a prefix key covers the prefix and names below it, never siblings or parents (SEC-42)', async () => {
    const {ks, localDir} = await newStore()
    const file = await placeKey(localDir, `prefix.d/example.com/app/${fpr.a}`, pub.a!)
    const [k] = await ks.keysForImage('example.com/app')
    assert.ok(k)
    assert.equal(k.fingerprint, fpr.a)
    assert.equal(k.path, file)
    assert.equal(k.layer, 'local')
    assert.equal(k.prefix, 'example.com/app')
    assert.equal(k.root, false)
    assert.equal(k.key.getFingerprint(), fpr.a)
    assert.equal((await ks.keysForImage('example.com/app/sub')).length, 1)
    assert.equal((await ks.keysForImage('example.com/app/sub/deeper')).length, 1)
    for (const name of ['example.com/application', 'example.com/apps', 'example.com', 'example.org/app']) {
      assert.deepEqual(await ks.keysForImage(name), [], name)
    }
  })

  test('a parent prefix key applies to names below it', async () => {
    const {ks, systemDir} = await newStore()
    await placeKey(systemDir, `prefix.d/example.com/${fpr.a}`, pub.a!)
    const [k] = await ks.keysForImage('example.com/app')
    assert.equal(k?.prefix, 'example.com')
    assert.equal(k?.layer, 'system')
  })

  test('property: key for P is returned for N iff N = P or N starts with P/ (FZ-08)', async () => {
    const ident = fc
      .array(fc.array(fc.constantFrom('a', 'p', '1', '.', '-', 'app'), {minLength: 1, maxLength: 3}), {
        minLength: 1,
        maxLength: 3,
      })
      .map((parts) => parts.map((p) => p.join('')).join('/'))
      .filter(isACIdentifier)
    await fc.assert(
      fc.asyncProperty(ident, ident, async (p, n) => {
        const {ks, localDir} = await newStore()
        await placeKey(localDir, `prefix.d/${p}/${fpr.a}`, pub.a!)
        const got = (await ks.keysForImage(n)).some((k) => k.fingerprint === fpr.a)
        assert.equal(got, n === p || n.startsWith(p + '/'), `prefix ${p}, name ${n}`)
      }),
      {numRuns: 60},
    )
  })

  test('root.d keys are trusted for every name', async () => {
    const {ks, systemDir} = await newStore()
    await placeKey(systemDir, `root.d/${fpr.b}`, pub.b!)
    for (const name of ['a', 'example.com/app', 'x.org/y/z']) {
      const [k] = await ks.keysForImage(name)
      assert.equal(k?.fingerprint, fpr.b)
      assert.equal(k?.root, true)
      assert.equal(k?.prefix, undefined)
    }
  })

  test('an empty local file masks the system key at the same relative path only', async () => {
    const {ks, systemDir, localDir} = await newStore()
    await placeKey(systemDir, `prefix.d/example.com/${fpr.a}`, pub.a!)
    await placeKey(systemDir, `root.d/${fpr.b}`, pub.b!)
    await placeKey(localDir, `prefix.d/example.com/${fpr.a}`, '')
    // Same fingerprint, other path: masks nothing.
    await placeKey(localDir, `root.d/${fpr.a}`, '')
    const keys = await ks.keysForImage('example.com/app')
    assert.deepEqual(
      keys.map((k) => k.fingerprint),
      [fpr.b],
    )
    assert.deepEqual(
      (await ks.allKeys()).map((k) => k.fingerprint),
      [fpr.b],
    )
  })

  test('a local key and a system key for the same prefix are both trusted', async () => {
    const {ks, systemDir, localDir} = await newStore()
    await placeKey(systemDir, `prefix.d/example.com/${fpr.a}`, pub.a!)
    await placeKey(localDir, `prefix.d/example.com/${fpr.b}`, pub.b!)
    const keys = await ks.keysForImage('example.com')
    assert.deepEqual(
      keys.map((k) => `${k.layer}:${k.fingerprint}`).sort(),
      [`local:${fpr.b}`, `system:${fpr.a}`].sort(),
    )
  })

  test('missing trust directories hold no keys', async () => {
    const {ks} = await newStore()
    assert.deepEqual(await ks.keysForImage('example.com/app'), [])
    assert.deepEqual(await ks.allKeys(), [])
  })

  test('a corrupt or truncated key file fails closed, naming the file (FI-19)', async () => {
    const {ks, systemDir, localDir} = await newStore()
    const file = await placeKey(localDir, `prefix.d/example.com/app/${fpr.a}`, pub.a!.slice(0, pub.a!.length / 2))
    await placeKey(localDir, `root.d/${fpr.b}`, pub.b!)
    const err = await rejectsWith(ks.keysForImage('example.com/app'), 'EBADKEY', new RegExp(file))
    assert.match(err.hint!, /rkt trust --prefix=example.com\/app KEYFILE/)
    await rejectsWith(ks.keysForImage('example.com/app/sub'), 'EBADKEY', new RegExp(file))
    await rejectsWith(ks.allKeys(), 'EBADKEY', new RegExp(file))
    // Lookups that would not read it are unaffected.
    assert.equal((await ks.keysForImage('example.com/application')).length, 1)
    // A corrupt system key can be masked from the local layer, as the hint says.
    const sys = await placeKey(systemDir, `prefix.d/other.org/${fpr.a}`, 'garbage')
    const sysErr = await rejectsWith(ks.keysForImage('other.org'), 'EBADKEY', new RegExp(sys))
    assert.match(sysErr.hint!, /mask it with an empty file at .*etc-rkt\/trustedkeys\/prefix.d\/other.org\//)
    await placeKey(localDir, `prefix.d/other.org/${fpr.a}`, '')
    assert.equal((await ks.keysForImage('other.org')).length, 1) // only the root key
  })

  test('a key file not named after its fingerprint fails closed', async () => {
    const {ks, localDir} = await newStore()
    const file = await placeKey(localDir, `prefix.d/example.com/${fpr.b}`, pub.a!)
    await rejectsWith(ks.keysForImage('example.com'), 'EBADKEY', new RegExp(`${file}.*holds key ${fpr.a}`))
    const {ks: ks2, localDir: l2} = await newStore()
    await placeKey(l2, `prefix.d/example.com/${fpr.a!.toUpperCase()}`, pub.a!)
    await rejectsWith(ks2.keysForImage('example.com'), 'EBADKEY', /named after/)
  })

  test('secret keys and multi-key files in the store fail closed', async () => {
    const {ks, localDir} = await newStore()
    await placeKey(localDir, `root.d/${fpr.a}`, await gpg.exportSecretKey(fpr.a!))
    await rejectsWith(ks.keysForImage('x'), 'EBADKEY', /secret/)
    const {ks: ks2, localDir: l2} = await newStore()
    await placeKey(
      l2,
      `root.d/${fpr.a}`,
      await gpg.exportKey(`${fpr.a}`).then(async (a) => a + (await gpg.exportKey(fpr.b!))),
    )
    await rejectsWith(ks2.keysForImage('x'), 'EBADKEY', /2 armored blocks/)
  })

  test('an unreadable trust directory fails closed (SEC-54)', async () => {
    // Running as root, chmod 000 does not stop reads; a file where a directory must be gives ENOTDIR.
    const {ks, localDir} = await newStore()
    await placeKey(localDir, 'prefix.d/example.com', 'not a directory')
    await rejectsWith(ks.keysForImage('example.com/app'), 'EKEYSTORE', /prefix\.d\/example\.com: ENOTDIR/)
    // allKeys sees a file directly in prefix.d: it belongs to no prefix, which no lookup can reach.
    assert.deepEqual(await ks.allKeys(), [])
    const {ks: ks2, systemDir} = await newStore()
    await fs.mkdir(systemDir, {recursive: true})
    await fs.writeFile(path.join(systemDir, 'trustedkeys'), 'oops')
    await rejectsWith(ks2.keysForImage('anything'), 'EKEYSTORE', /trustedkeys\/root\.d: ENOTDIR/)
    await rejectsWith(ks2.allKeys(), 'EKEYSTORE', /ENOTDIR/)
    // A dangling symlink as a key file: stat fails with ENOENT, which is not "no keys" for a listed file.
    const {ks: ks3, localDir: l3} = await newStore()
    await placeKey(l3, `root.d/.keep`, '')
    await fs.symlink('/nonexistent/key', path.join(l3, 'trustedkeys', 'root.d', fpr.a!))
    await rejectsWith(ks3.keysForImage('x'), 'EKEYSTORE', /ENOENT/)
  })

  test('invalid image names are refused, never used as paths', async () => {
    const {ks} = await newStore()
    await rejectsWith(ks.keysForImage('example.com/../../etc'), 'EINVALIDNAME', /not a valid image name/)
    await rejectsWith(ks.keysForImage('/etc'), 'EINVALIDNAME', /not a valid image name/)
  })

  test('allKeys lists every key once per file, skipping temp files and invalid prefix directories', async () => {
    const {ks, systemDir, localDir} = await newStore()
    await placeKey(systemDir, `root.d/${fpr.a}`, pub.a!)
    await placeKey(localDir, `prefix.d/example.com/app/${fpr.b}`, pub.b!)
    await placeKey(localDir, `prefix.d/example.com/${fpr.a}`, pub.a!)
    await placeKey(localDir, `prefix.d/example.com/app/.${fpr.b}.tmp-1-abcd`, 'half a key')
    await placeKey(localDir, `prefix.d/Example.com/${fpr.b}`, pub.b!)
    const keys = await ks.allKeys()
    assert.deepEqual(keys.map((k) => `${k.layer}:${k.prefix ?? '(root)'}:${k.fingerprint}`).sort(), [
      `local:example.com/app:${fpr.b}`,
      `local:example.com:${fpr.a}`,
      `system:(root):${fpr.a}`,
    ])
  })
})

describe('addKey', () => {
  test('writes <local>/trustedkeys/prefix.d/<prefix>/<fingerprint>, 0644 in 0755 dirs, nothing else', async () => {
    const {ks, localDir} = await newStore()
    const file = await ks.addKey({prefix: 'example.com/app', armoredKey: pub.a!, source: 'https://example.com/key.asc'})
    assert.equal(file, path.join(localDir, 'trustedkeys', 'prefix.d', 'example.com', 'app', fpr.a!))
    assert.equal((await fs.stat(file)).mode & 0o777, 0o644)
    for (const d of ['trustedkeys', 'trustedkeys/prefix.d', 'trustedkeys/prefix.d/example.com']) {
      assert.equal((await fs.stat(path.join(localDir, d))).mode & 0o777, 0o755, d)
    }
    assert.deepEqual(await fs.readdir(path.dirname(file)), [fpr.a])
    const text = await fs.readFile(file, 'utf8')
    assert.match(text, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/)
    assert.match(text, /Comment: rkt trust: https:\/\/example\.com\/key\.asc/)
    assert.equal((await parsePublicKey(text)).getFingerprint(), fpr.a)
    // gpg reads what was written.
    const check = await gpg.run(['--show-keys', '--with-colons'], {input: text})
    assert.match(check.stdout.toString(), new RegExp(fpr.a!.toUpperCase()))
    const [k] = await ks.keysForImage('example.com/app')
    assert.equal(k?.path, file)
  })

  test('root keys go to root.d; binary keys are accepted and stored armored', async () => {
    const {ks, localDir} = await newStore()
    const file = await ks.addKey({root: true, armoredKey: await gpg.exportKeyBinary(fpr.b!), source: 'local file'})
    assert.equal(file, path.join(localDir, 'trustedkeys', 'root.d', fpr.b!))
    assert.match(await fs.readFile(file, 'utf8'), /BEGIN PGP PUBLIC KEY BLOCK/)
    assert.equal((await ks.keysForImage('any/name'))[0]?.fingerprint, fpr.b)
  })

  test('adding the same key again is idempotent', async () => {
    const {ks} = await newStore()
    const opts = {prefix: 'example.com', armoredKey: pub.a!, source: 'k.asc'}
    const first = await ks.addKey(opts)
    const st1 = await fs.stat(first)
    const second = await ks.addKey(opts)
    assert.equal(second, first)
    const st2 = await fs.stat(second)
    assert.equal(st2.ino, st1.ino, 'unchanged content is not rewritten')
    assert.equal(await ks.addKey({...opts, source: 'elsewhere.asc'}), first)
    assert.equal((await ks.keysForImage('example.com')).length, 1)
    assert.deepEqual(await fs.readdir(path.dirname(first)), [fpr.a])
  })

  test('re-adding over a local mask file trusts the key again', async () => {
    const {ks, systemDir, localDir} = await newStore()
    await placeKey(systemDir, `prefix.d/example.com/${fpr.a}`, pub.a!)
    await placeKey(localDir, `prefix.d/example.com/${fpr.a}`, '')
    assert.equal((await ks.keysForImage('example.com')).length, 0)
    await ks.addKey({prefix: 'example.com', armoredKey: pub.a!})
    assert.deepEqual((await ks.keysForImage('example.com')).map((k) => k.layer).sort(), ['local', 'system'])
  })

  test('invalid prefixes are usage errors and write nothing (SEC-55)', async () => {
    const {ks, localDir} = await newStore()
    for (const prefix of ['example.com/../../etc', 'Example.com', '/x', '', 'a//b', 'x/']) {
      await assert.rejects(ks.addKey({prefix, armoredKey: pub.a!}), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err))
        assert.match(err.hint ?? '', /rkt trust --prefix=/)
        return true
      })
    }
    await assert.rejects(
      ks.addKey({prefix: 'a', root: true} as unknown as Parameters<Keystore['addKey']>[0]),
      UsageError,
    )
    await assert.rejects(fs.stat(localDir), {code: 'ENOENT'})
  })

  test('refuses secret keys, keys that cannot sign, expired keys and several keys', async () => {
    const {ks, localDir} = await newStore()
    const secret = await rejectsWith(
      ks.addKey({prefix: 'example.com', armoredKey: await gpg.exportSecretKey(fpr.a!)}),
      'EBADKEY',
      /cannot trust this key/,
    )
    assert.match(secret.hint!, /gpg --export --armor/)
    await rejectsWith(ks.addKey({prefix: 'example.com', armoredKey: pub.c!}), 'EBADKEY', /no valid key able to sign/)
    await rejectsWith(ks.addKey({prefix: 'example.com', armoredKey: pub.e!}), 'EBADKEY', /expired/)
    await rejectsWith(ks.addKey({prefix: 'example.com', armoredKey: pub.a! + pub.b!}), 'EBADKEY', /2 armored blocks/)
    await rejectsWith(ks.addKey({prefix: 'example.com', armoredKey: 'hello'}), 'EBADKEY', /cannot trust/)
    await assert.rejects(fs.stat(localDir), {code: 'ENOENT'})
  })

  test('a failed rename leaves the old key file and no temp file behind (FI-19)', async () => {
    const {ks, localDir} = await newStore()
    const file = await ks.addKey({prefix: 'example.com', armoredKey: pub.a!, source: 'old'})
    const old = await fs.readFile(file, 'utf8')
    // addKey with new content (another source) in a child whose rename syscalls fail with ENOSPC
    // (strace -e inject works on the Debian 12 machines this project runs on).
    const self = fileURLToPath(import.meta.url)
    const here = path.dirname(self)
    // Run against whatever this test runs from: the TypeScript sources (through tsx) or the compiled dist/.
    const fromSource = self.endsWith('.ts')
    const script = `
      import {Keystore} from ${JSON.stringify(path.join(here, fromSource ? 'keystore.ts' : 'keystore.js'))}
      const ks = new Keystore({systemDir: '/nonexistent', localDir: ${JSON.stringify(localDir)}})
      try { await ks.addKey({prefix: 'example.com', armoredKey: process.env.KEY, source: 'new'}); console.log('ok') }
      catch (e) { console.log('failed', e.code, e.cause?.code) }`
    const args = ['-f', '-o', '/dev/null', '-e', 'inject=rename,renameat,renameat2:error=ENOSPC', process.execPath]
    const child = await new Promise<{stdout: string; stderr: string}>((resolve) => {
      execFile(
        'strace',
        [...args, ...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script],
        {env: {...process.env, KEY: pub.a!}, cwd: path.resolve(here, '../../..')},
        (_err, stdout, stderr) => resolve({stdout, stderr}),
      ).stdin?.end()
    })
    assert.match(child.stdout, /failed EKEYSTORE ENOSPC/, child.stderr)
    assert.equal(await fs.readFile(file, 'utf8'), old)
    assert.deepEqual(await fs.readdir(path.dirname(file)), [fpr.a])
  })
})

describe('describeKey', () => {
  test('shows prefix, source, grouped fingerprint as gpg does, subkeys and user IDs', async () => {
    const key = await parsePublicKey(pub.c!)
    const text = await describeKey(key, {prefix: 'example.com/app', source: 'https://example.com/key.asc'})
    const lines = text.split('\n')
    assert.equal(lines[0], 'Prefix: "example.com/app"')
    assert.equal(lines[1], 'Key: "https://example.com/key.asc"')
    // gpg --fingerprint prints the same grouping.
    const gpgOut = (await gpg.run(['--fingerprint', fpr.c!])).stdout.toString()
    const grouped = formatFingerprint(fpr.c!)
    assert.match(grouped, /^([0-9A-F]{4} ){4}[0-9A-F]{4} {2}([0-9A-F]{4} ){4}[0-9A-F]{4}$/)
    assert.ok(gpgOut.includes(grouped), `${grouped} in\n${gpgOut}`)
    assert.equal(lines[2], `GPG key fingerprint is: ${grouped}`)
    const subFpr = (await gpg.fingerprints(fpr.c!))[1]!
    assert.equal(lines[3], `    Subkey fingerprint: ${formatFingerprint(subFpr)}`)
    assert.equal(lines[4], '\tCarol <carol@example.com>')
    const root = await describeKey(key, {root: true, source: 'k.asc'})
    assert.match(root, /^Prefix: ROOT KEY \(trusted for every image name\)\n/)
  })

  test('escapes control characters from the network and the key', async () => {
    const key = await parsePublicKey(pub.a!)
    const text = await describeKey(key, {
      prefix: 'example.com',
      source: 'https://e.com/\u001b[2Jkey\nGPG key fingerprint is: 0000',
    })
    assert.equal(text.split('\n').length, 4)
    assert.ok(!text.includes('\u001b'))
    assert.match(text, /\\u001b\[2Jkey\\nGPG/)
  })

  test('reports expiry', async () => {
    const key = await parsePublicKey(pub.e!)
    assert.match(await describeKey(key, {prefix: 'x', source: 'y'}), /Key expired: 2020-01-02T00:00:00.000Z/)
  })
})
