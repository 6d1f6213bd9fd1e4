import {Args, Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {progress} from '../../cli/progress.js'
import {UsageError} from '../../errors.js'
import type {PullPolicy} from '../../fetch/index.js'

export default class Fetch extends RktCommand {
  static override summary = 'Fetch image(s) and store them in the local store'
  static override description =
    'IMAGE is a path or file:// URL of an .aci file (its signature is IMAGE.aci.asc unless --signature follows it); ' +
    'an https:// URL of an .aci (signature at URL.asc; http:// needs --insecure-options=http); ' +
    'an image name[:version][,label=value] found by appc discovery; ' +
    'docker://[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST], docker-archive:FILE[:REF] (docker save) or oci:DIR[:REF] (an OCI layout), ' +
    'which need --insecure-options=image (they carry no appc signature); or an image ID. ' +
    'With --pull-policy=update (the default) remote images are checked again: a fresh Cache-Control max-age or an unchanged ETag keeps the stored one. ' +
    'Prints each image ID.'
  static override examples = [
    {description: 'A signed image by name (appc discovery)', command: '<%= config.bin %> fetch coreos.com/etcd:v3.1.7'},
    {
      description: 'A local ACI without a signature',
      command: '<%= config.bin %> --insecure-options=image fetch ./hello.aci',
    },
    {
      description: 'A Docker image, printing the full image ID',
      command: '<%= config.bin %> --insecure-options=image fetch --full docker://busybox',
    },
  ]
  static override strict = false
  static override args = {image: Args.string({description: 'image to fetch', required: true})}
  static override flags = {
    signature: Flags.string({
      summary: 'local signature file to use in validating the preceding image',
      multiple: true,
      multipleNonGreedy: true,
    }),
    full: Flags.boolean({summary: 'print the full image hash after fetching', allowNo: true}),
    'pull-policy': Flags.string({
      summary: 'when to pull an image',
      options: ['new', 'update', 'never'],
      default: 'update',
    }),
    'store-only': Flags.boolean({summary: 'deprecated: use --pull-policy=never', hidden: true, allowNo: true}),
    'no-store': Flags.boolean({summary: 'deprecated: use --pull-policy=update', hidden: true, allowNo: true}),
  }

  async run(): Promise<void> {
    const {flags, raw} = await this.parse(Fetch)
    const g = this.resolveGlobals(flags)
    // --signature applies to the image before it, as in rkt: walk the tokens in command-line order.
    const requests: {image: string; signature?: string}[] = []
    for (const tok of raw) {
      if (tok.type === 'arg') requests.push({image: tok.input})
      else if (tok.flag === 'signature') {
        const last = requests.at(-1)
        if (!last || last.signature !== undefined) {
          throw new UsageError('--signature must follow the image it signs', {
            hint: 'rkt fetch IMAGE.aci --signature IMAGE.aci.asc',
          })
        }
        last.signature = tok.input
      }
    }
    if (flags['store-only'] && flags['no-store']) throw new UsageError('both --store-only and --no-store specified')
    const pullPolicy: PullPolicy = flags['store-only']
      ? 'never'
      : flags['no-store']
        ? 'update'
        : (flags['pull-policy'] as PullPolicy)
    const {fetchImages} = await import('../../fetch/index.js')
    const {shortId} = await import('../../store/ids.js')
    const bars = new Map<string, ReturnType<typeof progress>>()
    try {
      const records = await fetchImages(requests, {
        globals: g,
        pullPolicy,
        onProgress: (image, done, total) => {
          let bar = bars.get(image)
          if (!bar) bars.set(image, (bar = progress(`Downloading ${image}`)))
          bar(done, total)
          if (total > 0 && done >= total) bar.end()
        },
        onWarning: (m) => this.warning(m),
        onInfo: (m) => process.stderr.write(`rkt: ${m}\n`),
        onDebug: this.runIo(g.debug).debug,
      })
      for (const r of records) this.log(flags.full ? r.id : shortId(r.id))
    } finally {
      for (const bar of bars.values()) bar.end()
    }
  }
}
