// `rkt trust`: show each key for fingerprint review, ask, and store it in the local keystore.
// The review needs a terminal; without one (scripts, CI, orchestrators) it never waits for input: it
// fails with the two ways forward, as rkt does.
import fs from 'node:fs'
import readline from 'node:readline'

import type {Globals} from '../config/globals.js'
import type {TrustScope} from './keys.js'

import {RktError, UsageError, wrap} from '../errors.js'
import {describeKey, parsePublicKey, quote} from './keys.js'
import {Keystore} from './keystore.js'

export interface TrustKeysOptions {
  readonly globals: Globals
  readonly scope: TrustScope
  /** Key files; empty means "discover the keys for the prefix", which needs remote fetching. */
  readonly files: readonly string[]
  readonly skipReview: boolean
  /** Where the review text and results go (stdout), and diagnostics (stderr). */
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Asks a yes/no question; the default reads the terminal. */
  readonly ask?: (question: string) => Promise<boolean>
}

/** Asks on the terminal until the answer is yes or no. */
async function askTerminal(question: string): Promise<boolean> {
  const rl = readline.createInterface({input: process.stdin, output: process.stdout})
  try {
    for (;;) {
      const answer = await new Promise<string>((resolve) => rl.question(`${question} `, resolve))
      if (answer === 'yes') return true
      if (answer === 'no') return false
      process.stdout.write("Please enter 'yes' or 'no'\n")
    }
  } finally {
    rl.close()
  }
}

/** Adds keys to the local keystore after review; returns the paths of the keys stored. */
export async function trustKeys(o: TrustKeysOptions): Promise<string[]> {
  const prefix = o.scope.root ? undefined : o.scope.prefix
  if (o.files.length === 0) {
    if (prefix === undefined) throw new UsageError('--root needs a public key file', {hint: 'rkt trust --root PUBKEY'})
    throw new RktError(`cannot discover the keys for prefix ${quote(prefix)}: key discovery is not implemented yet`, {
      code: 'EUNSUPPORTED',
      hint: `get the key file from the image's publisher, check its fingerprint, then: rkt trust --prefix=${prefix} KEYFILE`,
    })
  }
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true
  if (!o.skipReview && !o.ask && !interactive) {
    throw new RktError('cannot ask for a fingerprint review: no terminal', {
      code: 'ENOTTY',
      hint:
        'check the key fingerprint yourself (gpg --show-keys KEYFILE), then run again with --skip-fingerprint-review' +
        (prefix ? `:\n    rkt trust --prefix=${prefix} --skip-fingerprint-review KEYFILE` : ''),
    })
  }
  const keystore = new Keystore({systemDir: o.globals.systemConfig, localDir: o.globals.localConfig})
  const stored: string[] = []
  for (const file of o.files) {
    let bytes: Buffer
    try {
      bytes = fs.readFileSync(file)
    } catch (err) {
      throw wrap(`cannot read the key file ${file}`, err)
    }
    const key = await parsePublicKey(bytes).catch((err: unknown) => {
      throw wrap(`${file} is not a usable public key`, err)
    })
    o.out(await describeKey(key, {...o.scope, source: file}))
    const where = prefix === undefined ? 'as a root key (every image name)' : `for prefix ${quote(prefix)}`
    if (!o.skipReview) {
      const ask = o.ask ?? askTerminal
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
