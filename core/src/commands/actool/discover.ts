import {Args, Flags} from '@oclif/core'

import {ActoolCommand} from '../../cli/base.js'
import {RktError, wrap} from '../../errors.js'

export default class Discover extends ActoolCommand {
  static override summary = 'Discover the download URLs and public keys of an image name'
  static override description =
    'APP is name[:version][,label=value…]; os and arch default to this machine. Walks up the name from https://NAME?ac-discovery=1.'
  static override examples = [
    {
      description: "Where an image name's ACI and signature are",
      command: '<%= config.bin %> discover coreos.com/etcd:v3.1.7',
    },
    {
      description: 'As JSON, over plain http',
      command: '<%= config.bin %> discover --json --insecure example.com/hello',
    },
  ]
  static override strict = false
  static override args = {app: Args.string({description: 'image name, e.g. coreos.com/etcd:v2.0.9', required: true})}
  static override flags = {
    json: Flags.boolean({summary: 'output result as JSON', allowNo: true}),
    port: Flags.integer({summary: 'port to connect to when performing discovery', min: 1, max: 65535}),
    insecure: Flags.boolean({summary: "don't check TLS certificates, and fall back to plain http", allowNo: true}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Discover)
    const {discoverEndpoints, discoverPublicKeys} = await import('../../fetch/discovery.js')
    const {appcArch, parseAppString} = await import('../../schema/index.js')
    for (const name of argv as string[]) {
      const {app: parsed} = parseAppString(name)
      const app = {
        name: parsed.name,
        labels: {os: 'linux', arch: appcArch(), ...parsed.labels},
      }
      const opts = {insecure: flags.insecure, port: flags.port}
      let endpoints, keys
      try {
        endpoints = await discoverEndpoints(app, opts)
        keys = await discoverPublicKeys(app, opts)
      } catch (err) {
        throw wrap(`discovery of ${name} failed`, err)
      }
      for (const a of endpoints.attempts) this.log(`discover endpoints walk: prefix: ${a.prefix} error: ${a.error}`)
      for (const a of keys.attempts) this.log(`discover public keys walk: prefix: ${a.prefix} error: ${a.error}`)
      if (flags.json) {
        const data = {ACIEndpoints: endpoints.endpoints.map((e) => ({ACI: e.aci, ASC: e.asc})), PublicKeys: keys.keys}
        this.log(JSON.stringify(data, null, 4))
      } else {
        for (const e of endpoints.endpoints) this.log(`ACI: ${e.aci}, ASC: ${e.asc}`)
        if (keys.keys.length > 0) this.log(`PublicKeys: ${keys.keys.join(',')}`)
      }
      if (endpoints.endpoints.length === 0 && keys.keys.length === 0) {
        throw new RktError(`no ac-discovery meta tags found for ${name}`, {
          hint: 'check the name; for a plain-http or self-signed server add --insecure (and --port)',
        })
      }
    }
  }
}
