// The suite's own images, built with `actool build` from the host's static busybox: `plain` (root, a shell)
// and `probe` (a named user and group, supplementary gids, a working directory, image environment and
// event handlers). Both carry MARKER at their root, so a handler only writes where it can tell it runs in
// the app's root (a broken engine running it on the host must not litter the host's /).
import fs from 'node:fs'
import path from 'node:path'

import {run, type Command} from './cli.js'
import {ConformanceInputError} from './errors.js'

export const BUSYBOX = '/bin/busybox'
export const MARKER = '/conformance-app-root'

/** The images, by role: their names (as `rkt run` takes them once fetched) and files. */
export interface Fixtures {
  readonly plain: string
  readonly probe: string
  /** Annotated appc.io/executor/supports-systemd-notify: it gets a notification socket. */
  readonly notify: string
}

export const PROBE_USER = {name: 'confprobe', uid: 1234, group: 'confgroup', gid: 2345, supplementary: [3001, 3002]}
export const PROBE_WORKDIR = '/work/dir'

/**
 * Pre-start leaves its uid in the app's root (/handlers is writable by anyone, so a handler run as the wrong
 * user is seen as such); post-stop writes its uid and what the app left in /vol/rw. Both exit 0 whatever
 * happened: the app reports it, and the pod's other checks still run.
 */
const PRE_START = `[ -f ${MARKER} ] && id -u > /handlers/pre-start; exit 0`
const POST_STOP = `[ -f ${MARKER} ] && echo "$(id -u) $(cat /vol/rw/app-done 2>/dev/null)" > /vol/rw/post-stop-ran; exit 0`

function layout(
  dir: string,
  name: string,
  app: Record<string, unknown>,
  files: Record<string, string>,
  annotations: {name: string; value: string}[] = [],
): string {
  const rootfs = path.join(dir, 'rootfs')
  fs.mkdirSync(path.join(rootfs, 'bin'), {recursive: true})
  for (const d of ['tmp', 'srv', 'etc', 'handlers']) fs.mkdirSync(path.join(rootfs, d), {recursive: true})
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777)
  fs.chmodSync(path.join(rootfs, 'handlers'), 0o777)
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'))
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755)
  fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'))
  for (const [p, text] of Object.entries({[MARKER]: '', ...files})) {
    fs.mkdirSync(path.dirname(path.join(rootfs, p)), {recursive: true})
    fs.writeFileSync(path.join(rootfs, p), text)
  }
  const manifest = {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name,
    labels: [
      {name: 'version', value: '1'},
      {name: 'os', value: 'linux'},
      {name: 'arch', value: 'amd64'},
    ],
    app: {exec: ['/bin/sh', '-c', 'exit 0'], user: '0', group: '0', ...app},
    annotations,
  }
  fs.writeFileSync(path.join(dir, 'manifest'), JSON.stringify(manifest, null, 2))
  return dir
}

/** Builds the fixture images into `dir` (fails naming the package when busybox is missing). */
export async function buildFixtures(actool: Command, dir: string): Promise<Fixtures> {
  if (!fs.existsSync(BUSYBOX))
    throw new ConformanceInputError(`${BUSYBOX} is missing: the suite builds its images from a static busybox`, {
      hint: 'install Debian’s busybox-static package (apt-get install busybox-static)',
    })
  const u = PROBE_USER
  const specs = {
    plain: layout(path.join(dir, 'plain'), 'conformance.rkt-ts/plain', {}, {}),
    notify: layout(path.join(dir, 'notify'), 'conformance.rkt-ts/notify', {}, {}, [
      {name: 'appc.io/executor/supports-systemd-notify', value: 'true'},
    ]),
    probe: layout(
      path.join(dir, 'probe'),
      'conformance.rkt-ts/probe',
      {
        user: u.name,
        group: u.group,
        supplementaryGIDs: u.supplementary,
        workingDirectory: PROBE_WORKDIR,
        environment: [{name: 'IMG_VAR', value: 'from-image'}],
        eventHandlers: [
          {name: 'pre-start', exec: ['/bin/sh', '-c', PRE_START]},
          {name: 'post-stop', exec: ['/bin/sh', '-c', POST_STOP]},
        ],
      },
      {
        'etc/passwd': `root:x:0:0:root:/:/bin/sh\n${u.name}:x:${u.uid}:${u.gid}::/:/bin/sh\n`,
        'etc/group': `root:x:0:\n${u.group}:x:${u.gid}:\n`,
        [`${PROBE_WORKDIR}/.keep`]: '',
      },
    ),
  }
  const out: Record<string, string> = {}
  for (const [role, layoutDir] of Object.entries(specs)) {
    const aci = `${layoutDir}.aci`
    const r = await run(actool, ['build', '--overwrite', '--no-compression', layoutDir, aci])
    if (r.code !== 0) throw new Error(`actool build ${layoutDir}: ${r.stderr.trim()}`)
    out[role] = aci
  }
  return out as unknown as Fixtures
}
