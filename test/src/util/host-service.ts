// A service of the host's own, for the --port tests: a separate process named `host-service` (its comm, which
// rkt's refusal names) that serves HTTP on a TCP port or holds a bound UDP socket, killed after the test.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import type {TestContext} from 'node:test'

export const HOST_SERVICE = 'host-service'
/** What the TCP service answers (curl's output, its newline stripped). */
export const HOST_PAGE = 'hello from the host'

const SCRIPT = `
process.title = ${JSON.stringify(HOST_SERVICE)}
const [protocol, address, port] = process.argv.slice(1)
const ready = () => process.stdout.write('ready\\n')
if (protocol === 'tcp') {
  require('node:http').createServer((_q, r) => r.end(${JSON.stringify(`${HOST_PAGE}\n`)})).listen(Number(port), address, ready)
} else {
  require('node:dgram').createSocket(address.includes(':') ? 'udp6' : 'udp4').bind(Number(port), address, ready)
}
`

/** A running host service. */
export interface HostService {
  readonly pid: number
  /** Kills it and waits until it is gone (its socket closed). */
  stop(): Promise<void>
}

/** Starts a host service on ADDRESS:PORT and waits until its socket is bound. */
export async function startHostService(
  t: TestContext,
  protocol: 'tcp' | 'udp',
  address: string,
  port: number,
): Promise<HostService> {
  const proc = execa(process.execPath, ['-e', SCRIPT, protocol, address, String(port)], {
    reject: false,
    stdin: 'ignore',
  })
  const stop = async (): Promise<void> => {
    proc.kill('SIGKILL')
    await proc
  }
  t.after(stop)
  const up = await new Promise<boolean>((resolve) => {
    proc.stdout?.on('data', (d: Buffer) => String(d).includes('ready') && resolve(true))
    void proc.then(() => resolve(false))
  })
  if (!up)
    assert.fail(`the host service on ${protocol} ${address}:${port} did not start: ${String((await proc).stderr)}`)
  return {pid: proc.pid!, stop}
}
