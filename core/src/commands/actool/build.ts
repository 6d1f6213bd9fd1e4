import {Args, Flags} from '@oclif/core'
import fs from 'node:fs'
import path from 'node:path'

import {ActoolCommand} from '../../cli/base.js'
import {RktError, wrap} from '../../errors.js'

export default class Build extends ActoolCommand {
  static override summary = 'Build an ACI from an image layout (manifest + rootfs/)'
  static override description =
    'Builds are reproducible: the same layout (contents and metadata) always gives the same image ID.'
  static override examples = [
    {
      description: 'Build an ACI from a layout (manifest + rootfs/)',
      command: '<%= config.bin %> build ./hello-layout hello.aci',
    },
    {
      description: 'Uncompressed, owned by root, replacing the file',
      command: '<%= config.bin %> build --no-compression --owner-root --overwrite ./hello-layout hello.aci',
    },
  ]
  static override args = {
    directory: Args.string({description: 'image layout: a manifest file and a rootfs/ directory', required: true}),
    output: Args.string({description: 'the ACI to write (must end in .aci)', required: true}),
  }
  static override flags = {
    overwrite: Flags.boolean({summary: 'overwrite target file if it already exists', allowNo: true}),
    'owner-root': Flags.boolean({summary: 'force ownership to root:root on all files', allowNo: true}),
    'no-compression': Flags.boolean({summary: 'do not gzip-compress the produced ACI', allowNo: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Build)
    if (path.extname(args.output) !== '.aci') {
      throw new RktError(`build: extension must be .aci (given ${path.extname(args.output) || 'none'})`)
    }
    const {buildAci} = await import('../../aci/index.js')
    const {parseImageManifest, serializeImageManifest} = await import('../../schema/index.js')
    let text: Buffer
    try {
      text = fs.readFileSync(path.join(args.directory, 'manifest'))
    } catch (err) {
      throw wrap('build: unable to read the image manifest', err, {
        hint: 'an image layout holds a manifest file and a rootfs/ directory',
      })
    }
    const {manifest, warnings} = parseImageManifest(text)
    for (const w of warnings) this.warning(`build: ${w.message}`)
    const result = await buildAci({
      layoutDir: args.directory,
      outFile: args.output,
      // appc's actool stores the manifest re-serialised with defaults filled in (a port's count 1, socketActivated
      // false).
      manifest: Buffer.from(serializeImageManifest(manifest)),
      compression: flags['no-compression'] ? 'none' : 'gzip',
      overwrite: flags.overwrite,
      ownerRoot: flags['owner-root'],
    })
    if (flags.debug) process.stderr.write(`actool: built ${args.output}: ${result.imageId}\n`)
  }
}
