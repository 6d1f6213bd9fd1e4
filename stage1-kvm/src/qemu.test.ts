import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {checkTransports, kernelCmdline, MAX_TRANSPORTS, qemuArgv, vmSize, type QemuOptions} from './qemu.js'

const MiB = 2n ** 20n

describe('VM size (rkt: Σ app memory, 128 MiB for an unlimited app, + 128 MiB, at least 512 MiB)', () => {
  test('small pods get the floor', () => {
    assert.deepEqual(vmSize([{}], 2), {memoryMiB: 512, cpus: 2})
  })
  test('memory limits add up, with the overhead', () => {
    assert.equal(vmSize([{memory: 512n * MiB}, {memory: 256n * MiB}, {}], 2).memoryMiB, 512 + 256 + 128 + 128)
  })
  test('vCPUs: the sum of CPU limits rounded up; every host CPU when one app has none or the sum is too big', () => {
    assert.equal(vmSize([{cpuMilli: 500n}, {cpuMilli: 700n}], 8).cpus, 2)
    assert.equal(vmSize([{cpuMilli: 500n}, {}], 8).cpus, 8)
    assert.equal(vmSize([{cpuMilli: 9000n}], 4).cpus, 4)
  })
})

const base: QemuOptions = {
  qemu: '/usr/bin/qemu-system-x86_64',
  uuid: '11111111-2222-3333-4444-555555555555',
  accel: 'tcg',
  size: {memoryMiB: 512, cpus: 1},
  kernel: '/p/stage1/rootfs/kvm/vmlinux',
  rootfs: '/p,odd/stage1/rootfs',
  consoleLog: 'kvm/console.log',
  agentSocket: 'kvm/agent.sock',
  nics: [{tap: 'tap0', mac: '0a:58:ac:10:1c:05'}],
  disks: [],
  shares: [],
  interactive: false,
  tscKhz: 2999998,
  debug: false,
}

describe('QEMU command line', () => {
  test('microvm, no default devices, the 9p root with commas escaped, the fds kvm-exec hands over', () => {
    const argv = qemuArgv(base)
    const after = (flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []))
    assert.equal(argv[0], base.qemu)
    assert.deepEqual(after('-name'), [`rkt-${base.uuid}`])
    assert.match(after('-M')[0]!, /^microvm,/)
    assert.deepEqual(after('-accel'), ['tcg,thread=multi,tb-size=128'])
    assert.ok(argv.includes('-nodefaults') && argv.includes('-no-reboot'))
    assert.ok(after('-fsdev')[0]!.includes('path=/p,,odd/stage1/rootfs,'))
    assert.deepEqual(
      after('-chardev').filter((c) => c.startsWith('socket,id=')),
      [
        'socket,id=con,fd=3',
        'socket,id=err,fd=4',
        'socket,id=ctl,fd=5',
        'socket,id=agent,path=kvm/agent.sock,server=on,wait=off',
      ],
    )
    assert.ok(after('-device').includes('virtserialport,chardev=ctl,name=org.rkt.ctl'))
    assert.deepEqual(after('-netdev'), ['tap,id=n0,ifname=tap0,script=no,downscript=no'])
    assert.ok(after('-device').includes('virtio-net-device,netdev=n0,mac=0a:58:ac:10:1c:05'))
  })
  test('one virtio-blk disk per app (serial = its index), one 9p share per host volume, read-only ones readonly=on', () => {
    const argv = qemuArgv({
      ...base,
      disks: [
        {file: '/p/kvm/disks/a.qcow2', format: 'qcow2'},
        {file: '/p,x/kvm/disks/b.raw', format: 'raw'},
      ],
      shares: [{tag: 'vol0', path: '/p/kvm/shares/v0', readOnly: true}],
    })
    const after = (flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []))
    assert.deepEqual(after('-drive'), [
      'file=/p/kvm/disks/a.qcow2,if=none,format=qcow2,id=disk0',
      'file=/p,,x/kvm/disks/b.raw,if=none,format=raw,id=disk1',
    ])
    assert.deepEqual(
      after('-device').filter((d) => d.startsWith('virtio-blk')),
      ['virtio-blk-device,drive=disk0,serial=0', 'virtio-blk-device,drive=disk1,serial=1'],
    )
    assert.equal(
      after('-fsdev')[1],
      'local,id=vol0,path=/p/kvm/shares/v0,security_model=passthrough,multidevs=remap,readonly=on',
    )
    assert.ok(after('-device').includes('virtio-9p-device,fsdev=vol0,mount_tag=vol0'))
  })
  test(`a pod needing more than microvm's ${MAX_TRANSPORTS} virtio transports is refused, naming each part`, () => {
    checkTransports({nics: 2, disks: 2, shares: 2})
    assert.throws(
      () => checkTransports({nics: 1, disks: 3, shares: 3}),
      /needs 9 virtio devices \(the root share and consoles: 2, networks: 1, app disks: 3, host volume shares: 3\), more than the 8/,
    )
  })
  test('KVM gets -accel kvm and the host CPU', () => {
    const argv = qemuArgv({...base, accel: 'kvm'})
    assert.equal(argv[argv.indexOf('-accel') + 1], 'kvm')
    assert.equal(argv[argv.indexOf('-cpu') + 1], 'host')
  })
  test('kernel command line: 9p root, our init, quiet, tsc_early_khz only under TCG, extra params last', () => {
    const tcg = kernelCmdline({...base, extraKernelParams: 'foo=1'}).split(' ')
    assert.ok(tcg.includes('root=rkt-root') && tcg.includes('rootfstype=9p') && tcg.includes('init=/kvm/init'))
    assert.ok(
      tcg.includes('quiet') &&
        tcg.includes('tsc_early_khz=2999998') &&
        tcg.includes('lpj=29999980') &&
        tcg.includes('rkt.interactive=0'),
    )
    assert.equal(tcg.at(-1), 'foo=1')
    const kvm = kernelCmdline({...base, accel: 'kvm', debug: true, interactive: true}).split(' ')
    assert.ok(!kvm.some((p) => p.startsWith('tsc_early_khz') || p.startsWith('lpj=')) && !kvm.includes('quiet'))
    assert.ok(kvm.includes('rkt.interactive=1'))
  })
})
