import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {UsageError} from '../../errors.js'

export default class Trust extends RktCommand {
  static override summary = 'Trust a key for image verification'
  static override description =
    'Adds each PUBKEY file (an armored or binary OpenPGP public key) to the local keystore (with --prefix and no PUBKEY, the keys appc discovery offers for the prefix, over https), trusted for the names under --prefix ' +
    '(a key for example.com/app verifies example.com/app and example.com/app/sub, never example.com/application), or for every name with --root. ' +
    'The key fingerprint is shown for review first; --skip-fingerprint-review is for scripts that check it themselves.'
  static override examples = [
    {
      description: 'Trust a key for images of one prefix',
      command: '<%= config.bin %> trust --prefix=example.com/hello ./pubkey.gpg',
    },
    {
      description: 'Trust a key for every image (asks to confirm; `echo yes |` answers)',
      command: '<%= config.bin %> trust --root ./pubkey.gpg',
    },
    {description: "Fetch the prefix's key by discovery", command: '<%= config.bin %> trust --prefix=coreos.com/etcd'},
  ]
  static override strict = false
  static override args = {pubkey: Args.string({description: 'public key file'})}
  static override flags = {
    prefix: Flags.string({summary: 'prefix to limit trust to'}),
    root: Flags.boolean({summary: 'add root key from filesystem without a prefix', allowNo: true}),
    'skip-fingerprint-review': Flags.boolean({summary: 'accept key without fingerprint confirmation', allowNo: true}),
    'insecure-allow-http': Flags.boolean({summary: 'allow HTTP use for key discovery and/or retrieval', allowNo: true}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Trust)
    const g = this.resolveGlobals(flags)
    const files = argv as string[]
    if (flags.prefix === undefined && !flags.root) {
      throw new UsageError('aborting due to implicit unbounded trust (root domain)', {
        hint:
          'Please provide a specific domain prefix to trust:\n' +
          '    rkt trust --prefix "example.com/foo" [PUBKEY]\n' +
          'Otherwise, trust at the root domain (not recommended) must be explicitly requested:\n' +
          '    rkt trust --root PUBKEY',
      })
    }
    if (flags.prefix !== undefined && flags.root) throw new UsageError('--root and --prefix usage mutually exclusive')
    if (flags.prefix !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(flags.prefix)) {
      throw new UsageError(`--prefix must not contain a URL scheme, omit ${flags.prefix.split(':')[0]}://`)
    }
    const {trustKeys} = await import('../../fetch/trust-keys.js')
    await trustKeys({
      globals: g,
      scope: flags.root ? {root: true} : {prefix: flags.prefix!},
      files,
      allowHttp: flags['insecure-allow-http'],
      skipReview: flags['skip-fingerprint-review'],
      out: (line) => this.log(line),
      err: (line) => process.stderr.write(`${line}\n`),
    })
  }
}
