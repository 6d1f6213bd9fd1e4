// The trusted-key store: two layered directories of armored public keys (rkt's system and local
// `trustedkeys/`, the local one overriding).
//
//   <config>/trustedkeys/root.d/<fingerprint>                 trusted for every image name
//   <config>/trustedkeys/prefix.d/<prefix path>/<fingerprint> trusted for the prefix and names below it
//
// The system layer (/usr/lib/rkt) is shipped by the distribution, the local layer (/etc/rkt) is the admin's;
// `rkt trust` writes the local layer, and an empty local file masks the system key at the same relative path.
// Everything here fails closed: a trust directory that cannot be read, or a key file that cannot be used, is an error
// for every lookup that would have read it, never "no keys" or "skip that file" (docs/security.md SEC-54, FI-19).
import type fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'

import {config as openpgpConfig} from 'openpgp'
import type {PublicKey} from 'openpgp'

import {DEFAULT_LOCAL_CONFIG, DEFAULT_SYSTEM_CONFIG} from '../config/globals.js'
import {RktError, UsageError, wrap} from '../errors.js'
import {fsyncDir, writeFileAtomic} from '../sys/atomic.js'
import {KeyParseError, MAX_KEY_FILE_SIZE, fingerprintOf, parsePublicKey, quote} from './keys.js'
import type {TrustScope} from './keys.js'
import {coveringPrefixes, isACIdentifier, validatePrefix} from './names.js'

/** Which configuration layer a key file lives in; local overrides system. */
export type KeyLayer = 'system' | 'local'

/** A trusted public key as found in the keystore. */
export interface TrustedKey {
  /** The primary key's fingerprint, lowercase hex: also the key file's name. */
  readonly fingerprint: string
  /** The parsed public key. */
  readonly key: PublicKey
  /** The key file. */
  readonly path: string
  /** The configuration layer holding the file. */
  readonly layer: KeyLayer
  /** The prefix the key is trusted for, or undefined for a root.d key. */
  readonly prefix: string | undefined
  /** True for a root.d key, trusted for every image name. */
  readonly root: boolean
}

/** Where a keystore lives: the configuration directories, each of which holds a `trustedkeys/` subdirectory. */
export interface KeystoreOptions {
  /** System configuration directory (`--system-config`, default /usr/lib/rkt). */
  readonly systemDir?: string
  /** Local configuration directory (`--local-config`, default /etc/rkt); `rkt trust` writes here. */
  readonly localDir?: string
}

/** What {@link Keystore.addKey} stores: one public key, for a prefix or as a root key. */
export type AddKeyOptions = (
  {readonly prefix: string; readonly root?: false} | {readonly root: true; readonly prefix?: undefined}
) & {
  /** The public key, armored (`gpg --export --armor`) or binary. */
  readonly armoredKey: string | Uint8Array
  /** Where the key came from (URL or file), recorded in the key file's armor comment. */
  readonly source?: string
}

// Key files written by an interrupted addKey are dot files (see sys/atomic.ts tempPathFor); dot names are
// never fingerprints or prefix components, so skipping them cannot hide a key.
function isHidden(name: string): boolean {
  return name.startsWith('.')
}

interface KeyFile {
  readonly layer: KeyLayer
  readonly path: string
  /** Path relative to the layer's trustedkeys/ directory: the identity used for masking. */
  readonly rel: string
  readonly prefix: string | undefined
  readonly size: number
  readonly regular: boolean
}

// Symlinked directories may loop; a real prefix tree is never this deep.
const MAX_DEPTH = 64

/** A layered store of trusted OpenPGP public keys (system < local), as rkt's keystore, minus its bugs. */
export class Keystore {
  /** `<system config>/trustedkeys`. */
  readonly systemKeysDir: string
  /** `<local config>/trustedkeys`; written by {@link addKey}. */
  readonly localKeysDir: string

  constructor(options: KeystoreOptions = {}) {
    this.systemKeysDir = path.join(options.systemDir ?? DEFAULT_SYSTEM_CONFIG, 'trustedkeys')
    this.localKeysDir = path.join(options.localDir ?? DEFAULT_LOCAL_CONFIG, 'trustedkeys')
  }

  /**
   * The keys trusted for image `name`: root.d keys plus the keys of every prefix that is `name` itself or a
   * leading run of its path components (`example.com/app` covers `example.com/app/sub`, never
   * `example.com/application`). Throws if any key file that would be included is unusable.
   */
  async keysForImage(name: string): Promise<TrustedKey[]> {
    if (!isACIdentifier(name)) {
      throw new RktError(`cannot look up trusted keys for ${quote(name)}: not a valid image name`, {
        code: 'EINVALIDNAME',
        hint: 'image names are AC identifiers: lowercase letters, digits and "-._~", components separated by "/"',
      })
    }
    const files: KeyFile[] = []
    for (const layer of ['system', 'local'] as const) {
      files.push(...(await this.listDir(layer, 'root.d', undefined)))
      for (const prefix of coveringPrefixes(name)) {
        files.push(...(await this.listDir(layer, path.join('prefix.d', ...prefix.split('/')), prefix)))
      }
    }
    return this.load(files)
  }

  /**
   * Every trusted key, for any prefix: the candidate set for verifying a signature before the image name is
   * known. Throws if any key file is unusable, unless `onUnusable` is given: then such files are reported
   * to it and skipped. The result grants no trust by itself: the signer must then be
   * checked against {@link keysForImage} (see assertTrustedFor in verify.ts).
   */
  async allKeys(onUnusable?: (err: RktError) => void): Promise<TrustedKey[]> {
    const files: KeyFile[] = []
    for (const layer of ['system', 'local'] as const) {
      files.push(...(await this.listDir(layer, 'root.d', undefined)))
      files.push(...(await this.walkPrefixes(layer, 'prefix.d', [], 0)))
    }
    return this.load(files, onUnusable)
  }

  /**
   * Stores a public key in the local layer for a prefix (or as a root key) and returns the key file's path.
   * The key must be a single public key able to make signatures now; the write is atomic and durable
   * (temp file, fsync, rename, directory fsync), so a crash leaves the old file or the new one, never a torn
   * one (FI-19). Adding a key that is already there is a no-op.
   */
  async addKey(options: AddKeyOptions): Promise<string> {
    if (options.root === true && options.prefix !== undefined) {
      throw new UsageError('a key is trusted either for a prefix or as a root key, not both', {
        hint: 'use rkt trust --prefix=PREFIX KEYFILE, or rkt trust --root KEYFILE',
      })
    }
    if (options.root !== true) validatePrefix(options.prefix)
    const key = await this.checkNewKey(options.armoredKey)
    const fingerprint = fingerprintOf(key)
    const dir =
      options.root === true
        ? path.join(this.localKeysDir, 'root.d')
        : path.join(this.localKeysDir, 'prefix.d', ...options.prefix.split('/'))
    const file = path.join(dir, fingerprint)
    const content = armorForStore(key, options.source)
    try {
      const existing = await fsp.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (existing === content) return file
      await mkdirDurable(dir)
      writeFileAtomic(file, content, 0o644)
    } catch (err) {
      throw wrap(`cannot store the trusted key at ${file}`, err, {
        code: 'EKEYSTORE',
        hint: `check that ${this.localKeysDir} is writable by this user (rkt trust normally runs as root)`,
      })
    }
    return file
  }

  private async checkNewKey(input: string | Uint8Array): Promise<PublicKey> {
    let key: PublicKey
    try {
      key = await parsePublicKey(input)
    } catch (err) {
      const secret = err instanceof KeyParseError && err.message.includes('secret')
      throw wrap('cannot trust this key', err, {
        code: 'EBADKEY',
        hint: secret
          ? 'never hand out a secret key; export the public part with: gpg --export --armor KEYID'
          : "pass the publisher's public key, e.g. the output of: gpg --export --armor KEYID",
      })
    }
    const now = new Date()
    try {
      await key.verifyPrimaryKey(now)
    } catch (err) {
      throw new RktError(`cannot trust key ${fingerprintOf(key)}`, {
        code: 'EBADKEY',
        cause: err,
        hint: 'ask the publisher for a current version of the key (with an extended expiry, not revoked)',
      })
    }
    try {
      await key.getSigningKey(undefined, now)
    } catch (err) {
      throw new RktError(`cannot trust key ${fingerprintOf(key)}: it has no valid key able to sign`, {
        code: 'EBADKEY',
        cause: err,
        hint: 'image signing keys need the sign capability on the primary key or on a bound signing subkey',
      })
    }
    return key
  }

  private layerDir(layer: KeyLayer): string {
    return layer === 'system' ? this.systemKeysDir : this.localKeysDir
  }

  // Key files directly inside `rel` (subdirectories are other prefixes and are skipped).
  private async listDir(layer: KeyLayer, rel: string, prefix: string | undefined): Promise<KeyFile[]> {
    return (await this.scanDir(layer, rel, prefix)).files
  }

  // Reads one directory: its key files and its subdirectories (symlinks followed). A missing directory is
  // empty; any other error (EACCES, EIO, ENOTDIR, ELOOP ...) fails the lookup (SEC-54).
  private async scanDir(
    layer: KeyLayer,
    rel: string,
    prefix: string | undefined,
  ): Promise<{files: KeyFile[]; dirs: string[]}> {
    const dir = path.join(this.layerDir(layer), rel)
    let names: string[]
    try {
      names = await fsp.readdir(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {files: [], dirs: []}
      throw this.unreadable(dir, err)
    }
    const files: KeyFile[] = []
    const dirs: string[] = []
    for (const name of names.sort()) {
      if (isHidden(name)) continue
      const file = path.join(dir, name)
      const st = await this.stat(file)
      if (st.isDirectory()) dirs.push(name)
      else files.push({layer, path: file, rel: path.join(rel, name), prefix, size: st.size, regular: st.isFile()})
    }
    return {files, dirs}
  }

  private async walkPrefixes(layer: KeyLayer, rel: string, components: string[], depth: number): Promise<KeyFile[]> {
    if (depth > MAX_DEPTH) {
      throw this.unreadable(path.join(this.layerDir(layer), rel), new Error('directory tree too deep (symlink loop?)'))
    }
    const prefix = components.length > 0 ? components.join('/') : undefined
    const {files, dirs} = await this.scanDir(layer, rel, prefix)
    // Files directly in prefix.d/ belong to no prefix: no lookup can reach them, so they are not candidates.
    const found = prefix === undefined ? [] : files
    for (const name of dirs) {
      // A directory that is not a valid prefix component (e.g. "Example.com") can never match an image
      // name, so keys below it could never be used: they are not candidates either.
      if (!isACIdentifier([...components, name].join('/'))) continue
      found.push(...(await this.walkPrefixes(layer, path.join(rel, name), [...components, name], depth + 1)))
    }
    return found
  }

  private async stat(file: string): Promise<fs.Stats> {
    try {
      return await fsp.stat(file)
    } catch (err) {
      throw this.unreadable(file, err)
    }
  }

  private unreadable(file: string, err: unknown): RktError {
    return wrap(`cannot read the trusted keys in ${file}`, err, {
      code: 'EKEYSTORE',
      hint:
        `signature checks fail until it is readable: fix its permissions or type (it must be a directory of ` +
        `key files), or remove it if no key should be trusted there`,
    })
  }

  // `why` is omitted when `cause` says it (formatError prints the innermost cause after the message).
  private badKeyFile(f: KeyFile, why: string | undefined, cause?: unknown): RktError {
    const trust = f.prefix === undefined ? 'rkt trust --root KEYFILE' : `rkt trust --prefix=${f.prefix} KEYFILE`
    const mask = f.layer === 'system' ? `, or mask it with an empty file at ${path.join(this.localKeysDir, f.rel)}` : ''
    return new RktError(`trusted key file ${f.path} is unusable${why === undefined ? '' : `: ${why}`}`, {
      code: 'EBADKEY',
      hint: `replace it with the publisher's public key (${trust}), or delete it${mask}`,
      cause,
    })
  }

  // Applies masking, then parses every remaining file, failing on the first unusable one.
  // With onUnusable, a broken key file is reported and skipped instead of failing the whole load: that is
  // how allKeys() serves fetches of unrelated images, while keysForImage() for the broken key's prefix still
  // fails closed (so the trust decision for that prefix can never pass).
  private async load(files: KeyFile[], onUnusable?: (err: RktError) => void): Promise<TrustedKey[]> {
    const masked = new Set(files.filter((f) => f.layer === 'local' && f.regular && f.size === 0).map((f) => f.rel))
    const keys: TrustedKey[] = []
    for (const f of files) {
      if (f.layer === 'system' && masked.has(f.rel)) continue
      try {
        if (!f.regular) throw this.badKeyFile(f, 'not a regular file')
        // An empty file is a mask marker (rkt semantics), never a key; in the system layer it masks nothing.
        if (f.size === 0) continue
        keys.push(await this.loadKeyFile(f))
      } catch (err) {
        if (!onUnusable || !(err instanceof RktError) || err.code !== 'EBADKEY') throw err
        onUnusable(err)
      }
    }
    return keys
  }

  private async loadKeyFile(f: KeyFile): Promise<TrustedKey> {
    let bytes: Buffer
    try {
      const handle = await fsp.open(f.path, 'r')
      try {
        const st = await handle.stat()
        if (st.size > MAX_KEY_FILE_SIZE) throw this.badKeyFile(f, `${st.size} bytes, larger than any public key`)
        bytes = await handle.readFile()
      } finally {
        await handle.close()
      }
    } catch (err) {
      if (err instanceof RktError) throw err
      throw this.unreadable(f.path, err)
    }
    let key: PublicKey
    try {
      key = await parsePublicKey(bytes)
    } catch (err) {
      throw this.badKeyFile(f, undefined, err)
    }
    const fingerprint = fingerprintOf(key)
    const base = path.basename(f.path)
    if (base !== fingerprint) {
      throw this.badKeyFile(f, `it holds key ${fingerprint}, but a key file must be named after its key's fingerprint`)
    }
    return {fingerprint, key, path: f.path, layer: f.layer, prefix: f.prefix, root: f.prefix === undefined}
  }
}

/** The scope a trusted key applies to, for describeKey and messages. */
export function scopeOf(k: TrustedKey): TrustScope {
  return k.prefix === undefined ? {root: true} : {prefix: k.prefix}
}

// The stored form: the parsed key re-armored, so stray data around the original armor is dropped and binary
// keys are stored armored like rkt's. The source goes into the armor comment, stripped of anything that
// could break the header line.
function armorForStore(key: PublicKey, source: string | undefined): string {
  const comment = source === undefined ? '' : `rkt trust: ${source.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}`
  return key.armor({...openpgpConfig, showVersion: false, showComment: comment !== '', commentString: comment})
}

// Creates `dir` and its missing parents with mode 0755 whatever the umask, fsyncing each new entry's parent
// so that the directory chain, not only the file, survives a crash.
async function mkdirDurable(dir: string): Promise<void> {
  const missing: string[] = []
  let cur = dir
  for (;;) {
    try {
      const st = await fsp.stat(cur)
      if (!st.isDirectory()) throw Object.assign(new Error(`${cur} is not a directory`), {code: 'ENOTDIR'})
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      missing.unshift(cur)
      const parent = path.dirname(cur)
      if (parent === cur) break
      cur = parent
    }
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, {mode: 0o755})
    } catch (err) {
      // Another `rkt trust` may create the same directory concurrently; that is fine.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    await fsp.chmod(d, 0o755)
    fsyncDir(path.dirname(d))
  }
}
