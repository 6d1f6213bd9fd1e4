// The attach entrypoint's work for an engine whose apps' attach endpoints the host can reach (nspawn, fly: the
// sockets iomux made under the pod's rkt/attach/<app>/, docs/stage1.md "Logs and attach"): the user's stdin to
// the app's stdin, the app's stdout and stderr to the user's, until the app's output ends.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import type {AttachArgs} from '../contract/entrypoints.js'
import type {PodPaths} from '../contract/paths.js'

import {STDIO_ANNOTATION} from '../contract/logs.js'
import {RktError} from '../errors.js'

type Stream = 'stdin' | 'stdout' | 'stderr'

/** The streams the app offers (its `endpoints` file), each a unix socket in its attach directory. */
function endpoints(paths: PodPaths, app: string): {json: string; streams: Stream[]} {
  const file = path.join(paths.appAttach(app), 'endpoints')
  if (!fs.existsSync(file)) {
    throw new RktError(`app ${app} cannot be attached to: it has no attach endpoints`, {
      code: 'ENOATTACH',
      hint: `run it with --annotation=${STDIO_ANNOTATION.stdin}=stream (and …/stdout, …/stderr), or see its output with: rkt logs`,
    })
  }
  const json = fs.readFileSync(file, 'utf8')
  const targets = (JSON.parse(json) as {targets: {name: Stream}[]}).targets
  return {json, streams: targets.map((t) => t.name)}
}

/** Runs the attach action; resolves with the exit status once the app's output ends (or the user's input). */
export async function attachApp(paths: PodPaths, a: AttachArgs): Promise<number> {
  const {json, streams} = endpoints(paths, a.app)
  if (a.action === 'list') {
    process.stdout.write(json)
    return 0
  }
  if (a.ttyIn || a.ttyOut) {
    throw new RktError(`app ${a.app} has no terminal to attach to`, {
      code: 'ENOATTACH',
      hint: 'tty mode is not supported: attach to its streams (--mode=stdin,stdout,stderr or --mode=auto)',
    })
  }
  const wanted = a.action === 'auto-attach' ? streams : (['stdin', 'stdout', 'stderr'] as const).filter((s) => a[s])
  const missing = wanted.filter((s) => !streams.includes(s))
  if (missing.length > 0) {
    throw new RktError(`app ${a.app} offers no ${missing.join(', ')} to attach to`, {
      code: 'ENOATTACH',
      hint: `it offers: ${streams.join(', ')} (rkt attach --mode=list)`,
    })
  }
  // Through /proc/self/fd/N/NAME: a socket's path may be 107 bytes at most, and the pod's directory is longer.
  const dir = fs.openSync(paths.appAttach(a.app), 'r')
  const connect = (s: Stream): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const sock = net.createConnection(`/proc/self/fd/${dir}/${s}`)
      sock.once('connect', () => resolve(sock)).once('error', reject)
    })
  const socks = await Promise.all(wanted.map(async (s) => [s, await connect(s)] as const)).finally(() =>
    fs.closeSync(dir),
  )
  const ended: Promise<void>[] = []
  for (const [s, sock] of socks) {
    if (s === 'stdin') {
      process.stdin.pipe(sock)
      sock.on('error', () => process.stdin.unpipe(sock))
      if (socks.length === 1) ended.push(new Promise((r) => process.stdin.once('end', () => r())))
    } else {
      sock.pipe(s === 'stdout' ? process.stdout : process.stderr, {end: false})
      ended.push(new Promise((r) => sock.once('close', () => r())))
    }
  }
  await Promise.all(ended)
  process.stdin.unpipe()
  process.stdin.pause()
  for (const [, sock] of socks) sock.destroy()
  return 0
}
