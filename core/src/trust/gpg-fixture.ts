// Test support: a throwaway GnuPG home for making real keys and signatures (the tests use no mocks).
// Not used by rkt itself.
import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** Options for key generation and signing at a faked clock (gpg --faked-system-time). */
export interface GpgTimeOptions {
  /** gpg time, e.g. `20200101T000000`. */
  readonly at?: string
}

/** Result of running gpg. */
export interface GpgResult {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
}

/** A temporary GNUPGHOME with helpers over the gpg CLI, for tests. */
export class Gpg {
  private constructor(
    /** The GnuPG home directory (short, to keep agent socket paths under the unix limit). */
    readonly home: string,
    /** A scratch directory for files to sign. */
    readonly work: string,
  ) {}

  /** Creates an empty GnuPG home under the system temp directory. */
  static async create(): Promise<Gpg> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rg-'))
    const home = path.join(root, 'h')
    const work = path.join(root, 'w')
    await fs.mkdir(home, {mode: 0o700})
    await fs.mkdir(work)
    return new Gpg(home, work)
  }

  /** Runs gpg with this home; rejects on a non-zero exit unless `allowFailure`. */
  run(
    args: readonly string[],
    opts: {input?: string | Buffer; allowFailure?: boolean; at?: string} = {},
  ): Promise<GpgResult> {
    const full = [
      '--homedir',
      this.home,
      '--batch',
      '--yes',
      '--no-tty',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      ...(opts.at ? ['--faked-system-time', opts.at, '--ignore-time-conflict'] : []),
      ...args,
    ]
    return new Promise((resolve, reject) => {
      const child = execFile('gpg', full, {encoding: 'buffer', maxBuffer: 64 * 1024 * 1024}, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
        const result = {code, stdout, stderr: stderr.toString('utf8')}
        if (code !== 0 && !opts.allowFailure) {
          reject(new Error(`gpg ${args.join(' ')} failed (${code}): ${result.stderr}`))
        } else {
          resolve(result)
        }
      })
      // gpg may exit without reading its input; the resulting EPIPE is not an error of the test.
      child.stdin?.on('error', () => undefined)
      child.stdin?.end(opts.input ?? '')
    })
  }

  /** Generates a key without passphrase and returns its primary fingerprint (lowercase hex). */
  async genKey(
    uid: string,
    opts: {algo?: string; usage?: string; expire?: string} & GpgTimeOptions = {},
  ): Promise<string> {
    await this.run(['--quick-gen-key', uid, opts.algo ?? 'ed25519', opts.usage ?? 'sign', opts.expire ?? '0'], {
      ...(opts.at ? {at: opts.at} : {}),
    })
    return (await this.fingerprints(uid))[0]!
  }

  /** Adds a subkey and returns its fingerprint (lowercase hex). */
  async addSubkey(
    fpr: string,
    opts: {algo?: string; usage?: string; expire?: string} & GpgTimeOptions = {},
  ): Promise<string> {
    const before = await this.fingerprints(fpr)
    await this.run(['--quick-add-key', fpr, opts.algo ?? 'ed25519', opts.usage ?? 'sign', opts.expire ?? '0'], {
      ...(opts.at ? {at: opts.at} : {}),
    })
    const after = await this.fingerprints(fpr)
    return after.find((f) => !before.includes(f))!
  }

  /** Fingerprints of the primary key and its subkeys, in gpg's order, lowercase. */
  async fingerprints(who: string): Promise<string[]> {
    const {stdout} = await this.run(['--with-colons', '--list-keys', who])
    return stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('fpr:'))
      .map((l) => l.split(':')[9]!.toLowerCase())
  }

  /** `gpg --export --armor`. */
  async exportKey(who: string): Promise<string> {
    return (await this.run(['--armor', '--export', who])).stdout.toString('utf8')
  }

  /** `gpg --export` (binary). */
  async exportKeyBinary(who: string): Promise<Buffer> {
    return (await this.run(['--export', who])).stdout
  }

  /** `gpg --export-secret-keys --armor`. */
  async exportSecretKey(who: string): Promise<string> {
    return (await this.run(['--armor', '--export-secret-keys', who])).stdout.toString('utf8')
  }

  /** Writes `data` into the scratch directory and returns the path. */
  async writeFile(name: string, data: string | Uint8Array): Promise<string> {
    const file = path.join(this.work, name)
    await fs.writeFile(file, data)
    return file
  }

  /** `gpg --armor --detach-sign` of a file by one or more local users; returns the armored signature. */
  async detachSign(
    file: string,
    users: readonly string[],
    opts: GpgTimeOptions & {extra?: string[]} = {},
  ): Promise<string> {
    const out = `${file}.${Math.random().toString(36).slice(2)}.asc`
    await this.run(
      [
        ...users.flatMap((u) => ['--local-user', u]),
        ...(opts.extra ?? []),
        '--armor',
        '--output',
        out,
        '--detach-sign',
        file,
      ],
      opts.at ? {at: opts.at} : {},
    )
    return fs.readFile(out, 'utf8')
  }

  /** Runs a signing command (`--clearsign`, `--sign`) over a file and returns gpg's armored output. */
  async signWith(mode: '--clearsign' | '--sign', file: string, user: string): Promise<string> {
    const out = `${file}.${Math.random().toString(36).slice(2)}.out`
    await this.run(['--local-user', user, '--armor', '--output', out, mode, file])
    return fs.readFile(out, 'utf8')
  }

  /** `gpg --status-fd 1 --verify` of a detached signature in this home's keyring: exit code and status lines. */
  async verifyStatus(signature: string, file: string): Promise<{code: number; status: string}> {
    const sig = await this.writeFile(`v-${Math.random().toString(36).slice(2)}.asc`, signature)
    const r = await this.run(['--status-fd', '1', '--verify', sig, file], {allowFailure: true})
    await fs.rm(sig, {force: true})
    return {code: r.code, status: r.stdout.toString('utf8')}
  }

  /** True when `gpg --verify` exits 0 and reports GOODSIG (a good signature by a valid key). */
  async verifies(signature: string, file: string): Promise<boolean> {
    const {code, status} = await this.verifyStatus(signature, file)
    return code === 0 && /^\[GNUPG:\] GOODSIG /m.test(status)
  }

  /** Edits a key through `--edit-key` with scripted answers (`--command-fd 0`). */
  async editKey(who: string, commands: readonly string[]): Promise<void> {
    await this.run(['--command-fd', '0', '--edit-key', who], {input: commands.map((c) => c + '\n').join('')})
  }

  /** Revokes a primary key by importing the revocation certificate gpg made at generation time. */
  async revokePrimary(fpr: string): Promise<void> {
    const rev = await fs.readFile(path.join(this.home, 'openpgp-revocs.d', `${fpr.toUpperCase()}.rev`), 'utf8')
    await this.run(['--import'], {input: rev.replace(/^:-----BEGIN/m, '-----BEGIN')})
  }

  /** Stops this home's gpg-agent and removes every file. */
  async cleanup(): Promise<void> {
    await new Promise<void>((resolve) => {
      execFile('gpgconf', ['--homedir', this.home, '--kill', 'all'], () => resolve())
    })
    await fs.rm(path.dirname(this.home), {recursive: true, force: true})
  }
}

/** A fresh temporary directory for a keystore's system and local config dirs. */
export async function tempConfigDirs(): Promise<{root: string; systemDir: string; localDir: string}> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rkt-trust-'))
  return {root, systemDir: path.join(root, 'usr-lib-rkt'), localDir: path.join(root, 'etc-rkt')}
}

/** Places an armored key file as `<config>/trustedkeys/<rel>` (rel like `prefix.d/example.com/<fpr>`). */
export async function placeKey(configDir: string, rel: string, content: string | Uint8Array): Promise<string> {
  const file = path.join(configDir, 'trustedkeys', rel)
  await fs.mkdir(path.dirname(file), {recursive: true})
  await fs.writeFile(file, content)
  return file
}
