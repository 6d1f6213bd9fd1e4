import {Flags} from '@oclif/core'

import {RktCommand} from '../../cli/base.js'

export default class Install extends RktCommand {
  static override summary = 'Set up the data and configuration directories with rkt’s group permissions'
  static override description = `Creates the groups rkt and rkt-admin when missing, gives the data directory (--dir) to root:rkt (mode 2750: members of rkt list and inspect pods and images without root; the apps' files stay root's) and the local configuration directory (--local-config) to root:rkt-admin (2770). With --systemd-units, also installs the units for rkt gc (a timer, every 12 hours) and the metadata service (socket-activated), then run: systemctl daemon-reload && systemctl enable --now rkt-gc.timer rkt-metadata.socket. Idempotent. docs/install.md lists exactly what the group can read.`
  static override usage = 'install [--systemd-units] [--systemd-dir=DIR]'
  static override examples = [
    {description: 'Set the directories up for the rkt group', command: '<%= config.bin %> install'},
    {
      description: 'And install the units for rkt gc and the metadata service',
      command: '<%= config.bin %> install --systemd-units',
    },
  ]
  static override flags = {
    'systemd-units': Flags.boolean({summary: 'also install the systemd units (rkt gc timer, metadata service)'}),
    'systemd-dir': Flags.string({summary: 'where the units go', default: '/etc/systemd/system'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Install)
    const g = this.resolveGlobals(flags)
    const {requireRoot} = await import('../../pod/run.js')
    requireRoot('install')
    const lib = await import('../../pod/install.js')
    const report: string[] = []
    const gid = lib.ensureGroup(lib.RKT_GROUP, report)
    const adminGid = lib.ensureGroup(lib.RKT_ADMIN_GROUP, report)
    lib.setUpDataDir(g.dir, gid)
    report.push(`${g.dir}: root:${lib.RKT_GROUP} 2750`)
    lib.setUpConfigDir(g.localConfig, adminGid)
    report.push(`${g.localConfig}: root:${lib.RKT_ADMIN_GROUP} 2770`)
    if (flags['systemd-units']) {
      // The units act on this data directory, whichever --dir gave it.
      lib.installUnits(flags['systemd-dir'], `${lib.installedRkt()} --dir=${g.dir}`, report)
      report.push('then: systemctl daemon-reload && systemctl enable --now rkt-gc.timer rkt-metadata.socket')
    }
    this.log(report.join('\n'))
  }
}
