// Which program an app runs (appc spec/aci.md `app.exec`: resolved like execvp; rkt's FindBinPath in
// stage1/init/common/pod.go, which fly uses to turn argv[0] into a path before chroot+exec).
//
// As rkt v1.30 does:
//   - an absolute argv[0] is used as given;
//   - a relative one with a `/` (`bin/app`, `./run`) is relative to the app's working directory, which is what
//     execvp does once stage1 has changed into it;
//   - a bare name is searched in the app's PATH, each entry read inside the app's root; a relative entry (and an
//     empty one, which execvp reads as ".") is relative to the working directory; a candidate counts when,
//     symlinks resolved inside the root, it is a regular file with an execute bit (rkt's IsExecutable), and
//     the path returned is the one found in PATH, not the link target (multi-call binaries look at argv[0]).
// Unlike rkt, the first two are checked too (they must exist and be executable), so a wrong --exec fails with
// a message naming the image rather than with a bare ENOENT from exec. Without PATH in `env` the search uses
// appc's default PATH, which is what the app's own environment gets; rkt fell back to cwd:/bin:/usr/bin.
//
// Call it after the app's volumes are mounted: the program may live in one.
import fs from 'node:fs'
import path from 'node:path'

import type {PodApp} from './pod.js'

import {RktError} from '../errors.js'
import {readEnvFile} from '../contract/env-file.js'
import {DEFAULT_PATH} from './env.js'
import {hostPathInRoot} from './root-path.js'

const HINT = 'give the absolute path of the program inside the image with --exec=/absolute/path'

type Check = 'ok' | 'missing' | 'not-executable'

function check(rootfs: string, p: string): Check {
  let st: fs.Stats
  try {
    st = fs.lstatSync(hostPathInRoot(rootfs, p))
  } catch {
    // Missing, or a symlink loop: neither can be run.
    return 'missing'
  }
  return st.isFile() && (st.mode & 0o111) !== 0 ? 'ok' : 'not-executable'
}

/** `rel` under the absolute directory `dir`; `..` is left in place so that it resolves physically later. */
function under(dir: string, rel: string): string {
  const joined = `${dir.endsWith('/') ? dir : `${dir}/`}${rel}`
  return joined.split('/').includes('..') ? joined : path.posix.normalize(joined)
}

/** PATH as execvp reads it from `env` (the first PATH=), or appc's default. */
function searchPath(env: readonly string[]): string {
  const entry = env.find((e) => e.startsWith('PATH='))
  return entry === undefined ? DEFAULT_PATH : entry.slice('PATH='.length)
}

/**
 * The absolute path, inside the app's root `rootfs`, of the program `exec0` names, for an app whose
 * environment is `env` (NAME=value strings) and whose working directory is `workingDirectory`.
 */
export function findExecutable(
  rootfs: string,
  exec0: string,
  env: readonly string[],
  workingDirectory: string = '/',
): string {
  const cwd = workingDirectory === '' ? '/' : workingDirectory
  if (exec0 === '') {
    throw new RktError(`the app has no program to run (its exec is empty) in the image at ${rootfs}`, {
      code: 'ENOEXEC',
      hint: HINT,
    })
  }
  if (exec0.includes('/')) {
    const p = exec0.startsWith('/') ? exec0 : under(cwd, exec0)
    const got = check(rootfs, p)
    if (got === 'ok') return p
    const what = got === 'missing' ? 'does not exist' : 'is not an executable file'
    const where = p === exec0 ? '' : ` (relative to the working directory ${cwd})`
    throw new RktError(`cannot run ${JSON.stringify(exec0)}: ${p}${where} ${what} in the image rootfs ${rootfs}`, {
      code: 'ENOEXEC',
      hint: HINT,
    })
  }
  const pathVar = searchPath(env)
  let sawNonExecutable: string | undefined
  for (const entry of pathVar.split(':')) {
    const dir = entry === '' ? cwd : entry.startsWith('/') ? entry : under(cwd, entry)
    const candidate = under(dir, exec0)
    const got = check(rootfs, candidate)
    if (got === 'ok') return candidate
    if (got === 'not-executable') sawNonExecutable ??= candidate
  }
  const also = sawNonExecutable === undefined ? '' : ` (${sawNonExecutable} exists but is not an executable file)`
  throw new RktError(
    `cannot find ${JSON.stringify(exec0)} in PATH=${pathVar} inside the image rootfs ${rootfs}${also}`,
    {code: 'ENOEXEC', hint: HINT},
  )
}

/**
 * What `rkt enter` runs in an app: the command (default /bin/bash), its program resolved in the app's root
 * with the app's environment (its env file) and working directory.
 */
export function enterCommand(app: PodApp, envFile: string, command: readonly string[]): string[] {
  const cmd = command.length > 0 ? command : ['/bin/bash']
  try {
    return [findExecutable(app.rootfs, cmd[0]!, readEnvFile(envFile), app.app.workingDirectory ?? '/'), ...cmd.slice(1)]
  } catch (err) {
    // findExecutable's hint is for `rkt run` (--exec); the fix here is the command given to `rkt enter`.
    if (!(err instanceof RktError) || err.code !== 'ENOEXEC') throw err
    throw new RktError(err.message, {
      code: 'ENOEXEC',
      hint: 'name a program the image has after the UUID, e.g. rkt enter UUID /bin/sh (the default is /bin/bash)',
    })
  }
}

/**
 * The argv of an app's `pre-start` or `post-stop` handler (appc §2.2 eventHandlers), its program resolved as
 * the app's is; undefined when the app has none. Engines run it as root in the app's root (rkt's rule).
 */
export function handlerCommand(
  app: PodApp,
  name: 'pre-start' | 'post-stop',
  env: readonly string[],
  cwd: string,
): string[] | undefined {
  const h = app.app.eventHandlers.find((e) => e.name === name)?.exec ?? []
  if (h.length === 0) return undefined
  return [findExecutable(app.rootfs, h[0]!, env, cwd), ...h.slice(1)]
}

/**
 * The app's exec (or `exec`, one of its event handlers'), its program resolved in the app's root as
 * findExecutable does; an empty one is an error.
 */
export function appCommand(
  app: PodApp,
  env: readonly string[],
  exec: readonly string[] = app.app.exec ?? [],
): string[] {
  if (exec.length === 0)
    throw new RktError(`image "${app.image.name}" has an empty "exec"`, {hint: 'give the command with --exec=BINARY'})
  return [findExecutable(app.rootfs, exec[0]!, env, app.app.workingDirectory ?? '/'), ...exec.slice(1)]
}

/** A host program an engine runs (systemd-nspawn, QEMU): its path in PATH, or undefined when not installed. */
export function findHostTool(
  name: string,
  pathEnv = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): string | undefined {
  for (const dir of pathEnv.split(':').filter(Boolean)) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {
      // next
    }
  }
  return undefined
}

/**
 * A host program `stage1` (as messages name it: "the bwrap stage1") needs: its path in PATH, or an error
 * naming the Debian package to install.
 */
export function requireHostTool(name: string, pkg: string, stage1: string): string {
  const tool = findHostTool(name)
  if (tool === undefined)
    throw new RktError(`${name} is not installed: ${stage1} needs it`, {hint: `apt-get install ${pkg}`})
  return tool
}
