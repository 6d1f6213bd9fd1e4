// kvm's app disks and volumes end to end (stage1-kvm/README.md "Disks", "Volumes"): each app's root is an ext4
// disk (a qcow2 overlay on its image's base disk, made once in the engine cache), each host volume its own 9p
// share mounted at its target, each empty volume a tmpfs of the guest. Real QEMU microVMs under TCG.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {readMountinfo} from '@rkt/core/sys/mounts'

import {ROOT} from '../util/harness.js'
import {testProgram} from '../util/native.js'
import {BASE, PodSandbox, sh, waitFor, type PodImageSpec} from '../util/pods.js'

const KVM = `--stage1-path=${path.join(ROOT, 'core', 'dist', 'stage1-images', 'stage1-kvm.aci')}`
const NET = '--net=none'
const IMAGE: PodImageSpec = {
  ...BASE,
  name: 'example.com/kvm-disks',
  programs: {'/bin/unix-socket': testProgram('unix-socket')},
}

/** The base disks in the data directory's engine cache (one per image made into one). */
function baseDisks(ps: PodSandbox): string[] {
  const root = path.join(ps.data, 'cas', 'enginecache')
  if (!fs.existsSync(root)) return []
  return fs
    .readdirSync(root)
    .map((k) => path.join(root, k, 'kvm', 'rootfs.ext4'))
    .filter((f) => fs.existsSync(f))
}

describe('stage1-kvm disks and volumes', () => {
  test('a FIFO and a Unix socket work in the app root and on an empty volume; the base disk is made once per image', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(IMAGE)
    const script =
      'for d in / /ev/; do mkfifo ${d}fifo && (echo fifo-in-$d > ${d}fifo &) && cat ${d}fifo; unix-socket ${d}sock; done'
    const run = () =>
      ps.rkt(['run', KVM, NET, '--volume=ev,kind=empty', img.name, '--mount=volume=ev,target=/ev', ...sh(script)])
    const first = await run()
    assert.equal(first.exitCode, 0, first.stderr)
    assert.equal(first.stdout, 'fifo-in-/\nthrough-the-socket\nfifo-in-/ev/\nthrough-the-socket')
    const disks = baseDisks(ps)
    assert.equal(disks.length, 1, 'one base disk for the image')
    const made = fs.statSync(disks[0]!)
    // Sparse: the busybox image's 2 GiB file system takes a few MiB on the host.
    assert.ok(made.blocks * 512 < 32 * 2 ** 20, `${made.blocks * 512} bytes on disk`)
    const second = await run()
    assert.equal(second.exitCode, 0, second.stderr)
    const again = fs.statSync(disks[0]!)
    assert.deepEqual([again.ino, again.mtimeMs], [made.ino, made.mtimeMs], 'the second pod reused the base disk')
  })

  test('host volumes at /srv and /tmp/x are mount points with the host’s files, live both ways; read-only when asked', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(IMAGE)
    const dirs = Object.fromEntries(
      ['srv', 'tmpx', 'ro'].map((n) => {
        const d = path.join(ps.s.work, n)
        fs.mkdirSync(d)
        fs.writeFileSync(path.join(d, 'from-host'), `${n}-data\n`)
        return [n, d]
      }),
    ) as Record<'srv' | 'tmpx' | 'ro', string>
    const script = [
      "awk '{print $5}' /proc/self/mountinfo | grep -E '^/(srv|tmp/x|ro)$' | sort | tr '\\n' ' '; echo",
      'cat /srv/from-host /tmp/x/from-host /ro/from-host',
      'echo from-app > /srv/from-app',
      'if touch /ro/x 2>/dev/null; then echo ro-writable; else echo ro-refused; fi',
      'for i in $(seq 300); do [ -e /tmp/x/later ] && break; sleep 0.1; done; cat /tmp/x/later',
    ].join('; ')
    const pod = await ps.start([
      'run',
      KVM,
      NET,
      `--volume=srv,kind=host,source=${dirs.srv}`,
      `--volume=tmpx,kind=host,source=${dirs.tmpx}`,
      `--volume=ro,kind=host,source=${dirs.ro},readOnly=true`,
      img.name,
      '--mount=volume=srv,target=/srv',
      '--mount=volume=tmpx,target=/tmp/x',
      '--mount=volume=ro,target=/ro',
      ...sh(script),
    ])
    // guest → host, then host → guest, while the pod runs
    assert.ok(await waitFor(() => fs.existsSync(path.join(dirs.srv, 'from-app')), 60_000), 'the app’s write')
    fs.writeFileSync(path.join(dirs.tmpx, 'later'), 'written-on-the-host-later\n')
    const r = await pod.proc
    assert.equal(r.exitCode, 0, String(r.stderr))
    assert.deepEqual(String(r.stdout).split('\n'), [
      '/ro /srv /tmp/x ',
      'srv-data',
      'tmpx-data',
      'ro-data',
      'ro-refused',
      'written-on-the-host-later',
    ])
    assert.equal(fs.readFileSync(path.join(dirs.srv, 'from-app'), 'utf8'), 'from-app\n')
    assert.ok(!fs.existsSync(path.join(dirs.ro, 'x')))
    // gc unmounts the shares (binds of the volumes) and deletes the pod, leaving the host's files alone
    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
    assert.deepEqual(
      readMountinfo().filter((m) => m.mountPoint.includes(pod.uuid)),
      [],
    )
    assert.equal(fs.readFileSync(path.join(dirs.srv, 'from-host'), 'utf8'), 'srv-data\n')
  })

  test('--readonly-rootfs and --no-overlay mean what they mean on nspawn', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(IMAGE)
    const ro = await ps.rkt([
      'run',
      KVM,
      NET,
      img.name,
      '--readonly-rootfs=true',
      ...sh('touch /x 2>/dev/null && echo root-writable || echo root-refused; touch /tmp/y && echo tmp-writable'),
    ])
    assert.equal(ro.exitCode, 0, ro.stderr)
    assert.equal(ro.stdout, 'root-refused\ntmp-writable')
    // --no-overlay: a disk of the pod's own copy; the app writes its root, and no other pod sees it.
    const before = baseDisks(ps).map((f) => fs.statSync(f).mtimeMs)
    const write = 'cat /etc/marker; echo mine > /etc/marker; cat /etc/marker; mkfifo /fifo && echo fifo-ok'
    const copy = await ps.rkt(['run', KVM, NET, '--no-overlay', img.name, ...sh(write)])
    assert.equal(copy.exitCode, 0, copy.stderr)
    assert.equal(copy.stdout, 'from the image\nmine\nfifo-ok')
    const next = await ps.rkt(['run', KVM, NET, '--no-overlay', img.name, ...sh('cat /etc/marker')])
    assert.equal(next.exitCode, 0, next.stderr)
    assert.equal(next.stdout, 'from the image')
    // …the image's base disk (made for the first pod) untouched: each such pod's disk is its own
    assert.deepEqual(
      baseDisks(ps).map((f) => fs.statSync(f).mtimeMs),
      before,
    )
  })

  test('a pod needing more virtio devices than microvm has is refused before anything starts, naming the limit', async (t) => {
    const ps = PodSandbox.create(t)
    const img = await ps.image(IMAGE)
    const vols = Array.from({length: 6}, (_, i) => {
      const d = path.join(ps.s.work, `v${i}`)
      fs.mkdirSync(d)
      return d
    })
    const r = await ps.rkt([
      'run',
      KVM,
      NET,
      ...vols.map((d, i) => `--volume=v${i},kind=host,source=${d}`),
      img.name,
      ...vols.map((_, i) => `--mount=volume=v${i},target=/v${i}`),
      ...sh('echo never'),
    ])
    assert.equal(r.exitCode, 254, r.stderr)
    assert.match(r.stderr, /needs 9 virtio devices .*host volume shares: 6\), more than the 8 a QEMU microvm has/)
    assert.match(r.stderr, /fewer apps, networks or host volumes/)
    assert.equal(r.stdout, '')
    const uuid = fs.readdirSync(path.join(ps.data, 'pods', 'run'))[0]!
    assert.equal((await ps.rkt(['gc', '--grace-period=0s'])).exitCode, 0)
    assert.deepEqual(
      readMountinfo().filter((m) => m.mountPoint.includes(uuid)),
      [],
    )
  })
})
