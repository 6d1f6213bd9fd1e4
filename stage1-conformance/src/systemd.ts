// The pods that check `rkt run` under systemd (README "Running under systemd"), with the real protocols and busybox
// apps: a notification socket a Type=notify unit would give rkt (the suite listens on it), and the listening socket of
// Debian's systemd-socket-activate, which starts rkt on the first connection.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {bashLine, run, start} from './cli.js'
import type {Scenario} from './pods.js'
import {reported, type Session} from './session.js'

const NOTIFY = 'conformance.rkt-ts/notify'
const PLAIN = 'conformance.rkt-ts/plain'
const sh = (script: string): string[] => ['--exec=/bin/sh', '--', '-c', script, '---']

/** A unix socket the suite listens on: what `[ -S … ]` in an app sees of a unit's NOTIFY_SOCKET. */
async function listening(file: string): Promise<net.Server> {
  const server = net.createServer((c) => c.destroy())
  await new Promise<void>((resolve) => server.listen(file, resolve))
  return server
}

async function notify(s: Session, dir: string): Promise<void> {
  const unit = path.join(dir, 'notify.sock')
  const server = await listening(unit)
  try {
    const script = (k: string): string =>
      `echo "@${k}=\${NOTIFY_SOCKET:-none}"; [ -S "$NOTIFY_SOCKET" ] && echo "@${k}-socket=yes"; exit 0`
    const file = s.uuidFile()
    const r = await run(s.rktCmd, s.runArgs([NOTIFY, ...sh(script('notify')), PLAIN, ...sh(script('plain'))], file), {
      env: {...process.env, NOTIFY_SOCKET: unit},
      timeoutMs: 180_000,
    })
    s.adopt(file)
    const seen = reported(r.stdout)
    s.expect(
      'notify',
      'NOTIFY_SOCKET of the annotated app',
      '/run/systemd/notify',
      seen.get('notify') ?? r.stderr.trim(),
    )
    s.expect('notify', 'it is a socket in the app’s root', 'yes', seen.get('notify-socket'))
    s.expect('notify', 'an app without the annotation gets none', 'none', seen.get('plain'))
  } finally {
    server.close()
  }
}

async function socketActivation(s: Session, dir: string): Promise<void> {
  const socket = path.join(dir, 'activate.sock')
  const script = [
    'echo "@listen-fds=$LISTEN_FDS"',
    '[ "$LISTEN_PID" = "$$" ] && echo @listen-pid=own',
    'case "$(readlink /proc/self/fd/3)" in socket:*) echo @fd3=socket;; esac',
    'exit 0',
  ].join('; ')
  const file = s.uuidFile()
  const line = bashLine(s.rktCmd, s.runArgs([PLAIN, ...sh(script)], file))
  // bash execs rkt (same PID, the LISTEN_PID systemd-socket-activate set); the first connection starts it.
  const started = start({file: 'systemd-socket-activate'}, ['-l', socket, '--', '/bin/bash', '-c', line], {
    timeoutMs: 180_000,
  })
  for (let i = 0; i < 500 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10))
  const c = net.connect(socket)
  c.on('error', () => {})
  const r = await started.done
  c.destroy()
  s.adopt(file)
  const seen = reported(r.stdout)
  s.expect('socket-activation', 'LISTEN_FDS', '1', seen.get('listen-fds') ?? `${r.stdout}${r.stderr}`.trim())
  s.expect('socket-activation', 'LISTEN_PID is the app’s', 'own', seen.get('listen-pid'))
  s.expect('socket-activation', 'fd 3 is the unit’s socket', 'socket', seen.get('fd3'))
}

export const SYSTEMD_SCENARIO: Scenario = {
  name: 'systemd',
  behaviours: ['notify', 'socket-activation'],
  async run(s, on) {
    const dir = fs.mkdtempSync(path.join(s.dir, 'systemd-'))
    if (on('notify')) await notify(s, dir)
    if (on('socket-activation')) await socketActivation(s, dir)
  },
}
