// `rkt trust`: show each key for fingerprint review, ask, and store it in the local keystore.
// The answer comes from the terminal, or, as with rkt, from stdin when that is a pipe or a file (`echo yes |`);
// with no stdin at all, or one that ends before an answer, it fails with the ways forward (as it did before).
import fs from 'node:fs'
import readline from 'node:readline'

import type {Globals} from '../config/globals.js'
import type {HttpClient} from '../http/client.js'
import type {TrustScope} from '../trust/keys.js'

import {RktError, UsageError, wrap} from '../errors.js'
import {describeKey, fingerprintOf, MAX_KEY_FILE_SIZE, parsePublicKey, quote} from '../trust/keys.js'
import {Keystore} from '../trust/keystore.js'

export interface TrustKeysOptions {
  readonly globals: Globals
  readonly scope: TrustScope
  /** Key files; empty means "discover the keys for the prefix" (appc discovery, https). */
  readonly files: readonly string[]
  /** Allow plain http for key discovery and download (--insecure-allow-http). */
  readonly allowHttp?: boolean
  readonly skipReview: boolean
  /** Where the review text and results go (stdout), and diagnostics (stderr). */
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Asks a yes/no question; the default reads the terminal. */
  readonly ask?: (question: string) => Promise<boolean>
}

/** The error when nobody can answer the review: no terminal, and no answer on stdin. */
function noReviewer(prefix: string | undefined, why: string): RktError {
  return new RktError(`cannot ask for a fingerprint review: ${why}`, {
    code: 'ENOTTY',
    hint:
      'check the key fingerprint yourself (gpg --show-keys KEYFILE), then run again with --skip-fingerprint-review' +
      (prefix ? `:\n    rkt trust --prefix=${prefix} --skip-fingerprint-review KEYFILE` : '') +
      ', or answer on standard input (echo yes | rkt trust …)',
  })
}

/**
 * Asks until the answer is yes or no: on the terminal, or, as rkt did, from stdin when it is a pipe or a file
 * (`echo yes | rkt trust --root key.gpg`). One reader serves every question of a run, so a second key reads the
 * next line; stdin ending before an answer is the no-terminal error.
 */
function stdinAsker(prefix: string | undefined): {ask: (question: string) => Promise<boolean>; close: () => void} {
  const rl = readline.createInterface({input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY})
  const lines = rl[Symbol.asyncIterator]()
  const ask = async (question: string): Promise<boolean> => {
    for (;;) {
      process.stdout.write(`${question} `)
      const next = await lines.next()
      if (next.done === true) {
        process.stdout.write('\n')
        throw noReviewer(prefix, 'no terminal, and no answer on standard input')
      }
      const answer = next.value.trim()
      if (!process.stdin.isTTY) process.stdout.write('\n') // a piped answer is not echoed: end the prompt's line
      if (answer === 'yes') return true
      if (answer === 'no') return false
      process.stdout.write("Please enter 'yes' or 'no'\n")
    }
  }
  return {ask, close: () => rl.close()}
}

/** Adds keys to the local keystore after review; returns the paths of the keys stored. */
export async function trustKeys(o: TrustKeysOptions): Promise<string[]> {
  const prefix = o.scope.root ? undefined : o.scope.prefix
  if (o.files.length === 0 && prefix === undefined) {
    throw new UsageError('--root needs a public key file', {hint: 'rkt trust --root PUBKEY'})
  }
  // Node opens /dev/null for a closed stdin: no stdin at all reads as one that ends before an answer.
  const asker = o.skipReview || o.ask ? undefined : stdinAsker(prefix)
  try {
    return await addKeys(o, prefix, o.ask ?? asker?.ask)
  } finally {
    asker?.close()
  }
}

async function addKeys(
  o: TrustKeysOptions,
  prefix: string | undefined,
  ask: ((question: string) => Promise<boolean>) | undefined,
): Promise<string[]> {
  const keystore = new Keystore({systemDir: o.globals.systemConfig, localDir: o.globals.localConfig})
  const sources =
    o.files.length > 0
      ? o.files.map((file) => ({file, bytes: readKeyFile(file)}))
      : await discoverKeys(prefix!, o.globals, o.allowHttp === true)
  const stored: string[] = []
  for (const {file, bytes} of sources) {
    const key = await parsePublicKey(bytes).catch((err: unknown) => {
      throw wrap(`${file} is not a usable public key`, err)
    })
    o.out(await describeKey(key, {...o.scope, source: file}))
    const where = prefix === undefined ? 'as a root key (every image name)' : `for prefix ${quote(prefix)}`
    if (ask) {
      if (!(await ask('Are you sure you want to trust this key (yes/no)?'))) {
        o.err(`not trusting ${quote(file)}`)
        continue
      }
      o.out(`Trusting ${quote(file)} ${where} after fingerprint review.`)
    } else {
      o.out(`Trusting ${quote(file)} ${where} without fingerprint review.`)
    }
    const keyPath = await keystore.addKey({...o.scope, armoredKey: bytes, source: file})
    o.out(
      prefix === undefined
        ? `Added root key at ${quote(keyPath)}`
        : `Added key for prefix ${quote(prefix)} at ${quote(keyPath)}`,
    )
    stored.push(keyPath)
  }
  return stored
}

function readKeyFile(file: string): Buffer {
  try {
    return fs.readFileSync(file)
  } catch (err) {
    throw wrap(`cannot read the key file ${file}`, err)
  }
}

/** Downloads one discovered key (https unless the client allows http), bounded in size. */
async function downloadKey(http: HttpClient, url: string): Promise<Buffer> {
  const res = await http.request(url)
  if (res.status !== 200) {
    res.discard()
    throw new RktError(`cannot download the key ${url}: the server answered ${res.status}`, {code: 'EHTTP'})
  }
  return Buffer.from(await res.text(MAX_KEY_FILE_SIZE), 'utf8')
}

/** The public keys appc discovery offers for a prefix, downloaded (rkt trust --prefix without a key file). */
async function discoverKeys(
  prefix: string,
  globals: Globals,
  allowHttp: boolean,
): Promise<{file: string; bytes: Buffer}[]> {
  const {httpClientFor} = await import('../http/client.js')
  const {discoverPublicKeys} = await import('./discovery.js')
  const g = allowHttp ? {...globals, insecure: new Set([...globals.insecure, 'http' as const])} : globals
  const http = httpClientFor(g)
  try {
    const found = await discoverPublicKeys({name: prefix, labels: {}}, {http, insecure: allowHttp})
    if (found.keys.length === 0) {
      throw new RktError(`no public keys found for prefix ${quote(prefix)} by discovery`, {
        code: 'ENOKEY',
        hint:
          found.attempts.map((a) => `${a.prefix}: ${a.error}`).join('\n') +
          `\nget the key file from the image's publisher, check its fingerprint, then: rkt trust --prefix=${prefix} KEYFILE`,
      })
    }
    const out: {file: string; bytes: Buffer}[] = []
    for (const url of found.keys) out.push({file: url, bytes: await downloadKey(http, url)})
    return out
  } finally {
    http.close()
  }
}

/**
 * --trust-keys-from-https: when no key is trusted for an image name yet, trust the keys its discovery
 * offers over https, without review (rkt's deprecated flag; a warning names each key so it can be checked).
 */
export async function trustDiscoveredKeys(
  name: string,
  globals: Globals,
  http: HttpClient,
  warn: (m: string) => void,
): Promise<void> {
  const keystore = new Keystore({systemDir: globals.systemConfig, localDir: globals.localConfig})
  if ((await keystore.keysForImage(name)).length > 0) return
  const {discoverPublicKeys} = await import('./discovery.js')
  const found = await discoverPublicKeys({name, labels: {}}, {http})
  for (const url of found.keys) {
    if (!url.startsWith('https://')) continue
    const bytes = await downloadKey(http, url)
    const key = await parsePublicKey(bytes)
    await keystore.addKey({prefix: name, armoredKey: bytes, source: url})
    warn(
      `trusting key ${fingerprintOf(key)} from ${url} for prefix ${quote(name)} without review (--trust-keys-from-https)`,
    )
  }
}
