import {Args, Flags} from '@oclif/core'
import path from 'node:path'

import {ActoolCommand} from '../../cli/base.js'
import {APPC_VERSION, RKT_VERSION} from '../../version.js'

// appc's tools exit 1 on failure (ActoolCommand), as appc's docker2aci did.
export default class Convert extends ActoolCommand {
  static override summary = 'Convert a Docker image into ACI file(s)'
  static override description = `IMAGE is a \`docker save\` archive (FILE, with --image=NAME[:TAG] when it holds several images) or a registry image docker://[REGISTRY[:PORT]/]NAME[:TAG]. The conversion is rkt fetch's: by default the layers are squashed into one ACI (whiteouts applied) named after the image (library-busybox-latest.aci); with --nosquash every layer becomes an ACI depending on the one below, and the image an ACI on top of them (fetch them in the order printed). Registry credentials come from rkt's auth.d configuration (/etc/rkt/auth.d). The files are listed after "Generated ACI(s):" on stdout, with the volumes and ports the image declares.`
  static override examples = [
    {
      description: 'Convert a `docker save` archive into one ACI in the working directory',
      command: 'docker save busybox > busybox.tar && docker2aci busybox.tar',
    },
    {
      description: 'Convert an image of a plain-http registry, one ACI per layer, into ./out',
      command: 'docker2aci --insecure-allow-http --nosquash --output out docker://localhost:5000/app:latest',
    },
    {description: 'Then run it', command: 'rkt --insecure-options=image run library-busybox-latest.aci'},
  ]
  static override args = {
    image: Args.string({description: 'a docker save archive, or docker://[REGISTRY[:PORT]/]NAME[:TAG]'}),
  }
  static override flags = {
    nosquash: Flags.boolean({summary: "don't squash layers: output every layer as an ACI"}),
    image: Flags.string({summary: 'of an archive holding several images, the one to convert', helpValue: 'NAME[:TAG]'}),
    output: Flags.string({char: 'o', summary: 'the directory to write the ACI(s) to', default: '.', helpValue: 'DIR'}),
    compression: Flags.string({summary: 'compression of the ACI(s)', options: ['gzip', 'none'], default: 'gzip'}),
    'insecure-skip-verify': Flags.boolean({summary: "don't verify TLS certificates when fetching images"}),
    'insecure-allow-http': Flags.boolean({summary: 'use unencrypted connections when fetching images'}),
    version: Flags.boolean({summary: 'print the version and exit'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Convert)
    if (flags.version) {
      process.stdout.write(`docker2aci version ${RKT_VERSION}\nappc version ${APPC_VERSION}\n`)
      return
    }
    const {UsageError} = await import('../../errors.js')
    if (args.image === undefined) throw new UsageError('missing IMAGE', {hint: "see 'docker2aci --help'"})
    const {docker2aci} = await import('../../docker/docker2aci.js')
    const {files, manifest} = await docker2aci(args.image, {
      squash: !flags.nosquash,
      outputDir: flags.output,
      compression: flags.compression as 'gzip' | 'none',
      image: flags.image,
      allowHttp: flags['insecure-allow-http'],
      skipVerify: flags['insecure-skip-verify'],
      debug: flags.debug,
      onInfo: flags.debug ? (m) => process.stderr.write(`docker2aci: ${m}\n`) : undefined,
    })
    const out: string[] = []
    const mounts = manifest.app?.mountPoints ?? []
    if (mounts.length > 0) {
      out.push('', 'Converted volumes:')
      for (const m of mounts)
        out.push(`\tname: ${JSON.stringify(m.name)}, path: ${JSON.stringify(m.path)}, readOnly: ${m.readOnly === true}`)
    }
    const ports = manifest.app?.ports ?? []
    if (ports.length > 0) {
      out.push('', 'Converted ports:')
      for (const p of ports)
        out.push(
          `\tname: ${JSON.stringify(p.name)}, protocol: ${JSON.stringify(p.protocol)}, port: ${p.port}, count: ${p.count ?? 1}, socketActivated: ${p.socketActivated === true}`,
        )
    }
    out.push('', 'Generated ACI(s):', ...files.map((f) => path.normalize(f)))
    process.stdout.write(`${out.join('\n')}\n`)
  }
}
