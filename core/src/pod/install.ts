// `rkt install` (docs/install.md): the data and configuration directories with rkt's group permissions, so that members
// of the `rkt` group list and inspect pods and images without root while the apps' files stay root's; and, when
// asked, the systemd units shipped in init/systemd/.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

import {RktError, wrap} from '../errors.js'
import {POD_DIRS} from './pods.js'
import {StoreLayout} from '../store/layout.js'
import {getDistDir} from '../sys/dist.js'

/** The group whose members read the data directory, and the one whose members administer the configuration. */
export const RKT_GROUP = 'rkt'
export const RKT_ADMIN_GROUP = 'rkt-admin'

/** The group's id, made (a system group) when it does not exist yet. */
export function ensureGroup(name: string, report: string[]): number {
  const get = (): number | undefined => {
    try {
      return Number(execFileSync('getent', ['group', name], {encoding: 'utf8'}).split(':')[2])
    } catch {
      return undefined
    }
  }
  const gid = get()
  if (gid !== undefined) return gid
  try {
    execFileSync('groupadd', ['--system', name], {stdio: ['ignore', 'ignore', 'pipe']})
  } catch (err) {
    throw wrap(`cannot create the group ${name}`, err, {hint: 'create it by hand (groupadd --system NAME), then rerun'})
  }
  report.push(`created group ${name}`)
  return get()!
}

/**
 * Gives dir to root:gid with mode (setgid among its bits, so what is made inside inherits the group), making it when
 * missing. A symlink is refused: install must never change the owner of whatever a link leads to.
 */
function ownDir(dir: string, gid: number, mode: number): void {
  const st = fs.lstatSync(dir, {throwIfNoEntry: false})
  if (st?.isSymbolicLink()) {
    throw new RktError(`${dir} is a symlink: rkt install sets up real directories only`, {
      hint: 'replace it with a directory, or give the directory itself with --dir or --local-config',
    })
  }
  if (!st) fs.mkdirSync(dir, {recursive: true, mode: 0o700})
  fs.chownSync(dir, 0, gid)
  fs.chmodSync(dir, mode)
}

/**
 * Gives what the group reads in an existing tree to it: every directory g+rx and setgid, every file readable by its
 * owner g+r; never following a symlink.
 */
function shareTree(dir: string, gid: number): void {
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      ownDir(p, gid, 0o2750)
      shareTree(p, gid)
    } else if (e.isFile()) {
      const st = fs.lstatSync(p)
      fs.chownSync(p, st.uid, gid)
      if (st.mode & 0o400) fs.chmodSync(p, (st.mode & 0o7777) | 0o040)
    }
  }
}

/**
 * The data directory: itself, pods/ and its state directories, and the store's index, manifests and blobs, root's and
 * readable by the group (2750). The rendered trees, the engine cache (app files, kvm disks), downloads and the
 * store's temporary files stay root's alone; so do the apps' trees inside each pod (stage0 closes them,
 * core/src/pod/run.ts).
 */
export function setUpDataDir(dir: string, gid: number): void {
  ownDir(dir, gid, 0o2750)
  ownDir(path.join(dir, 'pods'), gid, 0o2750)
  for (const d of POD_DIRS) ownDir(path.join(dir, 'pods', d), gid, 0o2750)
  const store = new StoreLayout(dir)
  store.ensure()
  ownDir(store.cas, gid, 0o2750)
  for (const d of [store.dbDir, path.dirname(store.manifestRoot), path.dirname(store.blobRoot), store.imageLockDir]) {
    ownDir(d, gid, 0o2750)
    shareTree(d, gid)
  }
  // Trees being rendered and downloads in progress are image files too: root's alone, like the rendered trees.
  for (const d of [store.treeRoot, store.tmpDir, store.downloadDir]) fs.chmodSync(d, 0o700)
}

/** The local configuration directory: root's, written by members of rkt-admin (2770, rkt's set-up). */
export function setUpConfigDir(dir: string, adminGid: number): void {
  ownDir(dir, adminGid, 0o2770)
}

/** The top of this installation (the repository's build): its init/systemd/ units and bin/rkt. */
function installationRoot(): string {
  return path.resolve(getDistDir(), '..', '..')
}

/** The command that starts this rkt, for the units' ExecStart (bin/rkt of this installation). */
export function installedRkt(): string {
  return path.join(installationRoot(), 'bin', 'rkt')
}

/** Writes the shipped units into `to` with `@RKT@` replaced by the command line that starts this rkt. */
export function installUnits(to: string, rkt: string, report: string[]): void {
  const from = path.join(installationRoot(), 'init', 'systemd')
  if (!fs.existsSync(from)) {
    throw new RktError(`the systemd units are not where this rkt was built: ${from}`, {
      hint: 'run rkt install from a build of the repository (its init/systemd/ holds the units)',
    })
  }
  fs.mkdirSync(to, {recursive: true, mode: 0o755})
  for (const name of fs.readdirSync(from).sort()) {
    const text = fs.readFileSync(path.join(from, name), 'utf8').replaceAll('@RKT@', rkt)
    const file = path.join(to, name)
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue
    fs.writeFileSync(`${file}.tmp`, text, {mode: 0o644})
    fs.renameSync(`${file}.tmp`, file)
    report.push(`installed ${file}`)
  }
}
