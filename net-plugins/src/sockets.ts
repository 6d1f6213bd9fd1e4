// The host's bound sockets, as the kernel lists them in /proc/net/{tcp,tcp6,udp,udp6} for the network
// namespace of the reading process, and the processes holding each (its inode among their descriptors).
// --port reads them to refuse a host port a host service already has: portmap's DNAT would take its traffic.
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export type SocketProtocol = 'tcp' | 'udp'

/** A socket bound to a local port. */
export interface HostSocket {
  readonly protocol: SocketProtocol
  /** Dotted quad for IPv4 (IPv4-mapped IPv6 included), else canonical IPv6 text (`::`, `::1`). */
  readonly address: string
  readonly port: number
  readonly inode: number
}

/** A process holding a socket. */
export interface SocketHolder {
  readonly pid: number
  readonly comm: string
}

const TCP_LISTEN = '0A'

/**
 * An address as /proc/net prints it: the raw bytes in hex, in 32-bit words each in host byte order
 * (8 digits for IPv4, 32 for IPv6).
 */
export function decodeAddress(hex: string, littleEndian = os.endianness() === 'LE'): string {
  const words = hex.match(/.{8}/g) ?? []
  const bytes = Buffer.from(words.map((w) => (littleEndian ? w.match(/../g)!.reverse().join('') : w)).join(''), 'hex')
  if (bytes.length === 4) return [...bytes].join('.')
  const mapped = bytes.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))
  if (mapped) return [...bytes.subarray(12)].join('.')
  const groups = Array.from({length: 8}, (_, i) => bytes.readUInt16BE(i * 2).toString(16))
  return canonicalIp(groups.join(':'))
}

/** An address in the form decodeAddress gives, so that two spellings of one address compare equal. */
export function canonicalIp(ip: string): string {
  if (net.isIPv4(ip)) return ip
  const text = new net.SocketAddress({address: ip, family: 'ipv6'}).address
  return text.startsWith('::ffff:') && net.isIPv4(text.slice(7)) ? text.slice(7) : text
}

/** The sockets of one /proc/net table that hold a port: TCP ones in LISTEN, UDP ones bound to a port. */
export function parseSocketTable(text: string, protocol: SocketProtocol, littleEndian?: boolean): HostSocket[] {
  const out: HostSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    const [local, state, inode] = [f[1], f[3], f[9]]
    if (local === undefined || inode === undefined || !local.includes(':')) continue
    const [addr = '', portHex = ''] = local.split(':')
    const port = parseInt(portHex, 16)
    if (port === 0 || (protocol === 'tcp' && state !== TCP_LISTEN)) continue
    out.push({protocol, address: decodeAddress(addr, littleEndian), port, inode: Number(inode)})
  }
  return out
}

/** The host's sockets holding a port (this process's network namespace), IPv4 and IPv6. */
export function hostSockets(protocol: SocketProtocol, procNet = '/proc/net'): HostSocket[] {
  return [protocol, `${protocol}6`].flatMap((table) => {
    let text: string
    try {
      text = fs.readFileSync(path.join(procNet, table), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] // a kernel without IPv6
      throw err
    }
    return parseSocketTable(text, protocol)
  })
}

/** The processes with a descriptor on the socket (several after a fork), from /proc/PID/fd. */
export function socketHolders(inode: number, proc = '/proc'): SocketHolder[] {
  const link = `socket:[${inode}]`
  const holds = (fdDir: string): boolean => {
    let fds: string[]
    try {
      fds = fs.readdirSync(fdDir)
    } catch {
      return false // gone, or a kernel thread
    }
    return fds.some((fd) => {
      try {
        return fs.readlinkSync(path.join(fdDir, fd)) === link
      } catch {
        return false // closed while we looked
      }
    })
  }
  const out: SocketHolder[] = []
  for (const name of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(name) || !holds(path.join(proc, name, 'fd'))) continue
    let comm = '?'
    try {
      comm = fs.readFileSync(path.join(proc, name, 'comm'), 'utf8').trim()
    } catch {
      // exited since
    }
    out.push({pid: Number(name), comm})
  }
  return out
}
