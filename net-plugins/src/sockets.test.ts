// /proc/net socket tables as this kernel (6.x, x86-64) prints them, captured with listeners on 0.0.0.0,
// 127.0.0.1, ::, ::1 and ::ffff:127.0.0.1, UDP sockets bound and connected, and a TIME_WAIT connection; and
// the holders of a real socket of this process.
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {canonicalIp, decodeAddress, hostSockets, parseSocketTable, socketHolders} from './sockets.js'

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41927 1 0000000097e6778e 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 231 1 00000000bbe4b8aa 100 0 0 10 0
   2: 0100007F:07E8 0100007F:D900 06 00000000:00000000 03:00001713 00000000     0        0 0 3 00000000289a59d0
   3: 020200C0:D902 010200C0:1F90 01 00000000:00000000 00:00000000 00000000     0        0 41990 1 0000000011111111 20 4 30 10 -1
`
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:138C 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41930 1 00000000c633dd86 100 0 0 10 0
   1: 00000000000000000000000001000000:138B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41929 1 00000000239cfd61 100 0 0 10 0
   2: 00000000000000000000000000000000:138A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41928 1 000000003b472576 100 0 0 10 0
`
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 3813: 00000000:138D 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41931 2 000000009337c9f4 0
 9785: 020200C0:EAE1 010200C0:0035 01 00000000:00000000 00:00000000 00000000     0        0 41935 2 000000004e19b2b7 0
`
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 3814: 00000000000000000000000000000000:138E 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41932 2 00000000d8cfbf70 0
`

describe('host socket tables', () => {
  test('TCP: only sockets in LISTEN (0A), their addresses and hex ports', () => {
    assert.deepEqual(parseSocketTable(TCP, 'tcp', true), [
      {protocol: 'tcp', address: '127.0.0.1', port: 5001, inode: 41927},
      {protocol: 'tcp', address: '0.0.0.0', port: 2024, inode: 231},
    ])
  })
  test('TCP over IPv6: an IPv4-mapped address is the IPv4 one; ::1 and ::', () => {
    assert.deepEqual(
      parseSocketTable(TCP6, 'tcp', true).map((s) => `${s.address} ${s.port}`),
      ['127.0.0.1 5004', '::1 5003', ':: 5002'],
    )
  })
  test('UDP: every socket bound to a port counts, unconnected (07) or connected (01)', () => {
    assert.deepEqual(parseSocketTable(UDP, 'udp', true), [
      {protocol: 'udp', address: '0.0.0.0', port: 5005, inode: 41931},
      {protocol: 'udp', address: '192.0.2.2', port: 60129, inode: 41935},
    ])
    assert.deepEqual(parseSocketTable(UDP6, 'udp', true), [{protocol: 'udp', address: '::', port: 5006, inode: 41932}])
  })
  test('addresses: word by word in host byte order; IPv6 in canonical text', () => {
    assert.equal(decodeAddress('0100007F', true), '127.0.0.1')
    assert.equal(decodeAddress('7F000001', false), '127.0.0.1')
    // 2001:db8::8:1 as a little-endian host prints it: each 32-bit word byte-reversed
    assert.equal(decodeAddress('B80D0120000000000000000001000800', true), '2001:db8::8:1')
    assert.equal(decodeAddress('20010DB8000000000000000000080001', false), '2001:db8::8:1')
    assert.equal(decodeAddress('0000000000000000FFFF00000100007F', true), '127.0.0.1')
  })
  test('canonicalIp: one spelling per address, IPv4-mapped as IPv4', () => {
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1')
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:8:1'), '2001:db8::8:1')
    assert.equal(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1')
    assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1')
  })
  test('hostSockets reads both tables of a protocol; a kernel without IPv6 has no tcp6', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-proc-net-'))
    try {
      fs.writeFileSync(path.join(dir, 'udp'), UDP)
      fs.writeFileSync(path.join(dir, 'udp6'), UDP6)
      fs.writeFileSync(path.join(dir, 'tcp'), TCP)
      const le = os.endianness() === 'LE'
      if (le)
        assert.deepEqual(
          hostSockets('udp', dir).map((s) => s.port),
          [5005, 60129, 5006],
        )
      assert.equal(hostSockets('tcp', dir).length, 2)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('the holders of a socket', () => {
  test('a TCP listener and a bound UDP socket of this process, found in /proc/net and /proc/PID/fd', async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const udp = dgram.createSocket('udp6')
    await new Promise<void>((resolve) => udp.bind(0, '::', resolve))
    try {
      const me = {pid: process.pid, comm: fs.readFileSync('/proc/self/comm', 'utf8').trim()}
      const tcpPort = (server.address() as net.AddressInfo).port
      const listener = hostSockets('tcp').find((s) => s.port === tcpPort)
      assert.deepEqual({...listener, inode: 0}, {protocol: 'tcp', address: '127.0.0.1', port: tcpPort, inode: 0})
      assert.deepEqual(socketHolders(listener!.inode), [me])
      const bound = hostSockets('udp').find((s) => s.port === udp.address().port)
      assert.equal(bound?.address, '::')
      assert.deepEqual(socketHolders(bound.inode), [me])
      assert.deepEqual(socketHolders(2 ** 31 + 7), [], 'no process holds an unknown inode')
    } finally {
      server.close()
      udp.close()
    }
  })
})
