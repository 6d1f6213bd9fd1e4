import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'
import {UsageError} from '../../errors.js'

export default class MetadataService extends RktCommand {
  static override summary = 'Run metadata service'
  static override description = `Serves the App Container metadata API to the pods registered with it (rkt run --mds-register), on a TCP port on all addresses. Pods register over a unix socket only root can use. Runs in the foreground until SIGINT or SIGTERM. Started by a systemd socket unit (init/systemd/rkt-metadata.socket), it serves on the sockets the unit passes (LISTEN_FDS): a unix one for registrations, a TCP one for the API.`
  static override examples = [
    {description: 'Serve the metadata API on the default port (18112)', command: '<%= config.bin %> metadata-service'},
    {description: 'On another port', command: '<%= config.bin %> metadata-service --listen-port=18113'},
  ]
  static override usage = 'metadata-service [--listen-port=PORT] [--socket-path=PATH]'
  static override flags = {
    'listen-port': Flags.string({summary: 'listen port', default: '18112'}),
    'socket-path': Flags.string({
      summary: 'unix socket to accept pod registrations on',
      default: '/run/rkt/metadata-svc.sock',
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(MetadataService)
    const g = this.resolveGlobals(flags)
    const port = Number(flags['listen-port'])
    if (!/^\d+$/.test(flags['listen-port']) || port > 65535) {
      throw new UsageError(`invalid --listen-port ${JSON.stringify(flags['listen-port'])}`, {
        hint: 'give a TCP port number, 0 to 65535 (0 picks a free one)',
      })
    }
    const {serve} = await import('../../mds/service.js')
    const {LISTEN_FDS_START, listenFds} = await import('../../contract/systemd.js')
    const bin = this.config.bin
    const passed = listenFds(process.env, process.pid)
    const running = await serve({
      port,
      socketPath: flags['socket-path'],
      listenFds: Array.from({length: passed?.count ?? 0}, (_, i) => LISTEN_FDS_START + i),
      log: g.debug ? (line) => process.stderr.write(`${bin}: metadata-service: ${line}\n`) : undefined,
    })
    const where = passed ? 'on the sockets systemd passed' : `on ${flags['socket-path']}`
    process.stderr.write(`${bin}: metadata service listening on port ${running.port}, registrations ${where}\n`)
    // Foreground until told to stop; the socket file goes with the service.
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await running.close()
    process.stderr.write(`${bin}: metadata service exiting\n`)
  }
}
