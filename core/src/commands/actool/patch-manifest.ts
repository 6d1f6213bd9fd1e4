import {Args, Flags} from '@oclif/core'

import {ActoolCommand} from '../../cli/base.js'

export default class PatchManifest extends ActoolCommand {
  static override summary = 'Copy an ACI and patch its manifest'
  static override description =
    'Every entry but the manifest is copied byte for byte; the patched manifest is validated and written last.'
  static override examples = [
    'actool patch-manifest --exec="/app --debug" --user=1000 --group=1000 in.aci out.aci',
    'actool patch-manifest --replace --capability=CAP_NET_BIND_SERVICE app.aci',
    'actool patch-manifest --mounts=work,path=/opt,readOnly=true --ports=www,protocol=tcp,port=8080 in.aci out.aci',
    'actool patch-manifest --isolators=resource/cpu,request=50m,limit=100m:os/linux/no-new-privileges,true in.aci out.aci',
  ]
  static override args = {
    input: Args.string({description: 'ACI to patch', required: true}),
    output: Args.string({description: 'patched ACI to write (omit with --replace)'}),
  }
  static override flags = {
    overwrite: Flags.boolean({summary: 'overwrite target file if it already exists', allowNo: true}),
    'no-compression': Flags.boolean({summary: 'do not gzip-compress the produced ACI', allowNo: true}),
    replace: Flags.boolean({summary: 'replace the input file', allowNo: true}),
    manifest: Flags.string({summary: 'replace image manifest with this file; incompatible with other replace options'}),
    name: Flags.string({summary: 'replace name'}),
    exec: Flags.string({summary: 'replace the command line to launch the executable'}),
    user: Flags.string({summary: 'replace user'}),
    group: Flags.string({summary: 'replace group'}),
    'supplementary-groups': Flags.string({summary: 'replace supplementary groups, a comma-separated list'}),
    capability: Flags.string({summary: 'set the capability retain set'}),
    'revoke-capability': Flags.string({summary: 'set the capability remove set'}),
    mounts: Flags.string({summary: 'add mount points: name,path=/opt,readOnly=true[:name2,…]'}),
    ports: Flags.string({summary: 'add ports: name,protocol=tcp,port=8080[:name2,…]'}),
    isolators: Flags.string({summary: 'add isolators: resource/cpu,request=50m,limit=100m[:…]'}),
    'seccomp-mode': Flags.string({summary: 'enable and configure the seccomp isolator: remove|retain[,errno=EPERM]'}),
    'seccomp-set': Flags.string({summary: 'set of syscalls for the seccomp isolator'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(PatchManifest)
    const {patchAci} = await import('../../image/patch.js')
    await patchAci({
      input: args.input,
      output: args.output,
      replace: flags.replace,
      overwrite: flags.overwrite,
      compress: !flags['no-compression'],
      onWarning: (m) => this.warning(m),
      patch: {
        manifestFile: flags.manifest,
        name: flags.name,
        exec: flags.exec,
        user: flags.user,
        group: flags.group,
        supplementaryGroups: flags['supplementary-groups'],
        capability: flags.capability,
        revokeCapability: flags['revoke-capability'],
        mounts: flags.mounts,
        ports: flags.ports,
        isolators: flags.isolators,
        seccompMode: flags['seccomp-mode'],
        seccompSet: flags['seccomp-set'],
      },
    })
  }
}
