// kvm's enter entrypoint: runs a command in a guest app through the guest's agent (kvm-init's
// org.rkt.agent port, reached on the host through QEMU's socket `kvm/agent.sock`). No ssh and no keys: the
// port exists only between this host and this VM. In the guest, the agent runs nspawn's /enter helper
// with the app's PID, so the command gets the app's namespaces, cgroup, credentials, capabilities and
// seccomp filter (CVE-2019-10144/5/7 were an enter that did not). Framing: stage1-kvm/native/kvm-init.c.
import net from 'node:net'

import {enterCommand, entrypoint, loadPod, parseEnterArgv, podApp, readAppStatus, RktError} from '@rkt/core/stage1'

import {KvmPaths} from './paths.js'

export function frame(type: string, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeUInt32BE(body.length, 1)
  return Buffer.concat([head, body])
}

/** Splits a byte stream into frames; returns the frames complete so far and keeps the rest. */
export class Deframer {
  private buf = Buffer.alloc(0)
  push(chunk: Buffer): {type: string; payload: Buffer}[] {
    this.buf = Buffer.concat([this.buf, chunk])
    const out: {type: string; payload: Buffer}[] = []
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1)
      if (this.buf.length < 5 + len) break
      out.push({type: String.fromCharCode(this.buf[0]!), payload: this.buf.subarray(5, 5 + len)})
      this.buf = this.buf.subarray(5 + len)
    }
    return out
  }
}

export const main = entrypoint('enter', import.meta.url, async (argv) => {
  const args = parseEnterArgv(argv)
  const root = process.cwd()
  const pod = loadPod(root, root.split('/').pop()!)
  const app = podApp(pod, args.app)
  const status = readAppStatus(pod.paths, app.name)
  if (status !== undefined)
    throw new RktError(`app ${app.name} has exited (status ${status}): there is nothing to enter`, {
      code: 'ENOTRUNNING',
    })
  const command = enterCommand(app, pod.paths.appEnv(app.name), args.command)

  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(KvmPaths.agentSocket)
    s.once('connect', () => resolve(s))
    s.once('error', (err) =>
      reject(
        new RktError(`pod ${pod.uuid} is not running: its VM's agent does not answer (${err.message})`, {
          code: 'ENOTRUNNING',
          hint: 'see the pods with: rkt list',
        }),
      ),
    )
  })
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true
  const rows = tty ? process.stdout.rows : 0
  const cols = tty ? process.stdout.columns : 0
  const tokens = [app.name, tty ? '1' : '0', String(rows), String(cols), process.env['TERM'] ?? '', ...command]
  socket.write(frame('R', Buffer.from(tokens.map((t) => `${t}\0`).join(''))))

  if (tty) {
    process.stdin.setRawMode(true)
    process.stdout.on('resize', () => socket.write(frame('W', `${process.stdout.rows} ${process.stdout.columns}`)))
  }
  process.stdin.on('data', (d: Buffer) => socket.write(frame('I', d)))
  process.stdin.on('end', () => socket.write(frame('E', '')))

  const code = await new Promise<number>((resolve, reject) => {
    const deframer = new Deframer()
    socket.on('data', (chunk: Buffer) => {
      for (const f of deframer.push(chunk)) {
        if (f.type === 'O') process.stdout.write(f.payload)
        else if (f.type === 'e') process.stderr.write(f.payload)
        else if (f.type === 'X') resolve(Number(f.payload.toString()) || 0)
      }
    })
    socket.on('close', () => reject(new RktError(`the VM of pod ${pod.uuid} went away during enter`)))
    socket.on('error', () => undefined)
  })
  if (tty) process.stdin.setRawMode(false)
  process.stdin.destroy()
  socket.destroy()
  return code
})
