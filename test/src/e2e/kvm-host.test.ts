// What the host sees of a kvm pod (stage1-kvm/README.md "Networking", "QEMU's cgroup"): a CNI network's IPv6
// addresses and routes carried into the guest, so the host reaches an app listening on [::] over IPv6; QEMU
// and kvm-exec in the pod's memory cgroup, bounded by the VM's memory plus QEMU's own, gone after gc.
import {execa} from 'execa'
import {spawnSync} from 'node:child_process'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ROOT} from '../util/harness.js'
import {BASE, PodSandbox, sh} from '../util/pods.js'

const KVM = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')}`

/** What curl gets from a URL ('' on failure). */
async function curl(url: string): Promise<string> {
  const r = await execa('curl', ['-s', '-g', '-m', '2', url], {reject: false})
  return String(r.stdout)
}

describe('stage1-kvm on the host', () => {
  test('a ptp network with an IPv6 range: the guest has its address (no DAD wait) and routes; the host reaches an app on [::]:80 over IPv6', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image({...BASE, name: 'example.com/kvm-v6', files: {...BASE.files, 'www/index.html': 'v6\n'}})
    // A subnet of its own (the host gets a route to it): one address, so the test knows it beforehand.
    const r = crypto.randomBytes(4)
    const net = `fd00:${r.readUInt16BE(0).toString(16)}:${r.readUInt16BE(2).toString(16)}::`
    const addr = `${net}a`
    fs.mkdirSync(path.join(ps.s.localConfig, 'net.d'), {recursive: true})
    fs.writeFileSync(
      path.join(ps.s.localConfig, 'net.d', '10-v6.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'v6test',
        plugins: [
          {
            type: 'ptp',
            ipMasq: false,
            ipam: {
              type: 'host-local',
              ranges: [
                [{subnet: `10.${200 + (r[0]! % 50)}.${r[1]}.0/24`}],
                [{subnet: `${net}/64`, rangeStart: addr, rangeEnd: addr}],
              ],
              routes: [{dst: '0.0.0.0/0'}, {dst: '::/0'}],
            },
          },
        ],
      }),
    )
    const pod = await ps.start([
      'run',
      KVM,
      '--net=v6test',
      img.name,
      ...sh('ip -6 -o addr show dev eth0 scope global; ip -6 route show default; exec httpd -f -p "[::]:80" -h /www'),
    ])
    let page = ''
    const deadline = Date.now() + 20_000
    while (page !== 'v6' && Date.now() < deadline) page = await curl(`http://[${addr}]:80/`)
    assert.equal(page, 'v6', `the host could not reach [${addr}]:80`)
    assert.equal((await ps.rkt(['stop', pod.uuid])).exitCode, 0)
    const ended = await pod.proc
    const out = String(ended.stdout)
    assert.match(out, new RegExp(`inet6 ${addr}/64 scope global`), out)
    assert.doesNotMatch(out, /tentative|dadfailed/, out)
    assert.match(out, new RegExp(`^default via ${net}1 dev eth0`, 'm'), out)
    assert.doesNotMatch(String(ended.stderr), /IPv6/, String(ended.stderr))
    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
  })

  test('QEMU and kvm-exec are in the pod’s memory cgroup, limited to the VM’s memory plus QEMU’s own; gc removes it', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(BASE)
    // 384 MiB for the app: the VM gets 384 + 128 = 512 MiB, the cgroup 512 + 256 (QEMU_OVERHEAD_MIB).
    const pod = await ps.start(['run', KVM, '--net=none', img.name, '--memory=384Mi', ...sh('exec sleep 600')])
    const qemu = spawnSync('pgrep', ['-f', `^\\S*qemu-system-x86_64 -name rkt-${pod.uuid} `], {encoding: 'utf8'})
      .stdout.trim()
      .split('\n')
    assert.equal(qemu.length, 1, `QEMU of ${pod.uuid}: ${qemu.join(' ')}`)
    const memoryCgroup = (pid: string | number): string => {
      const line = fs
        .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => /^\d+:memory:/.test(l))
      assert.ok(line, 'this host has a cgroup v1 memory hierarchy')
      return path.join('/sys/fs/cgroup/memory', line.split(':')[2]!)
    }
    const dir = memoryCgroup(qemu[0]!)
    assert.equal(path.basename(dir), pod.uuid)
    assert.equal(path.basename(path.dirname(dir)), 'rkt')
    assert.equal(memoryCgroup(pod.pid), dir, 'kvm-exec (the rkt run process) is in it too')
    assert.equal(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim(), String((512 + 256) * 2 ** 20))
    const usage = Number(fs.readFileSync(path.join(dir, 'memory.max_usage_in_bytes'), 'utf8'))
    t.diagnostic(`the pod's cgroup used at most ${(usage / 2 ** 20).toFixed(0)} MiB`)
    assert.equal((await ps.rkt(['stop', pod.uuid])).exitCode, 0)
    await pod.proc
    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
    assert.ok(!fs.existsSync(dir), `${dir} is left after gc`)
  })
})
