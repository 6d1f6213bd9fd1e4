// The host never executes, nor trusts, anything from a tree a pod can write. A pod's stage1 rootfs is the
// pod's own (nspawn's container root, kvm's 9p root): an app holding CAP_SYS_PTRACE reaches it as
// /proc/1/root. So stage0 runs the stage1's entrypoints (gc, stop, enter, run) from the image's tree in the
// store, the stage1's files are read-only inside the pod, and the helper `rkt enter` forks into the pod runs
// from a sealed in-memory copy that no process of the pod can rewrite through /proc/PID/exe (CVE-2019-5736).
// Each attack is run as a hostile app would, on nspawn and on kvm.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {testProgram} from '../util/native.js'
import {BASE, PodSandbox, sh, waitFor, type PodImageSpec} from '../util/pods.js'

const ENGINES = ['nspawn', 'kvm'] as const

/** A payload that proves it ran as host root by writing `marker`: a gc entrypoint, or a script. */
const jsPayload = (marker: string): string =>
  `require('fs').writeFileSync(${JSON.stringify(marker)}, 'the host ran the pod\\'s code'); exports.main = async () => 0\n`
const shPayload = (marker: string): string => `#!/bin/sh\necho "the host ran the pod's code" > ${marker}\n`

const sha = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')

/** The stage1 image's tree in the store, where stage0 runs its entrypoints from. */
function stage1Tree(ps: PodSandbox, uuid: string): string {
  const tree = fs.readFileSync(path.join(ps.podPath(uuid), 'stage1TreeStoreID'), 'utf8').trim()
  return path.join(ps.data, 'cas', 'tree', tree, 'rootfs')
}

for (const engine of ENGINES) {
  describe(`the host runs nothing a pod wrote (${engine})`, () => {
    test('an app with CAP_SYS_PTRACE cannot plant a gc or stop entrypoint for the host to run', async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const marker = path.join(ps.s.dir, 'pwned-by-gc')
      await ps.image(BASE)
      fs.writeFileSync(path.join(ps.s.work, 'uuid'), '')
      const payload = jsPayload(marker).replace(/'/g, `'\\''`)
      const r = await ps.rkt([
        'run',
        '--net=none',
        `--uuid-file-save=${path.join(ps.s.work, 'uuid')}`,
        'example.com/pod-base:1.0',
        '--caps-retain=CAP_SYS_PTRACE',
        ...sh(
          `for e in gc stop enter; do echo '${payload}' > /proc/1/root/$e.cjs && echo "wrote $e"; done; ` +
            `echo x > /proc/1/root/rkt/supervisor.conf && echo 'wrote conf'; ` +
            `echo 0 > /proc/1/root/rkt/status/probe && echo 'wrote status'; true`,
        ),
      ])
      assert.equal(r.exitCode, 0, r.stderr)
      // The stage1's files are read-only in the pod; its records for the host (statuses) are not.
      assert.doesNotMatch(r.stdout, /wrote (gc|stop|enter|conf)/, r.stdout)
      assert.match(r.stderr, /\/proc\/1\/root\/gc\.cjs: Read-only file system/)
      assert.match(r.stdout, /wrote status/)
      const uuid = fs.readFileSync(path.join(ps.s.work, 'uuid'), 'utf8').trim()
      const tree = stage1Tree(ps, uuid)
      const before = sha(path.join(tree, 'gc.cjs'))
      // Even where the pod's copy did change (an app with CAP_SYS_ADMIN can undo a read-only mount; kvm's
      // guest owns its kernel), the host runs the store's: rewrite the pod's copy from outside, as it would.
      const podGc = path.join(ps.podPath(uuid), 'stage1', 'rootfs', 'gc.cjs')
      fs.writeFileSync(podGc, jsPayload(marker))
      const gc = await ps.rkt(['gc', '--grace-period=0s'])
      assert.equal(gc.exitCode, 0, gc.stderr)
      assert.equal(fs.existsSync(marker), false, 'rkt gc ran the gc.cjs the pod wrote')
      assert.equal(ps.podDir(uuid), undefined, 'the pod was collected by the real gc entrypoint')
      assert.equal(sha(path.join(tree, 'gc.cjs')), before)
    })

    test('rkt enter: its helper cannot be rewritten through /proc/PID/exe by the pod (CVE-2019-5736)', async (t) => {
      const ps = PodSandbox.create(t, {stage1: engine})
      const marker = path.join(ps.s.dir, 'pwned-by-enter')
      const spec: PodImageSpec = {
        name: 'example.com/exe-hijack',
        version: '1.0',
        programs: {'/bin/exe-hijack': testProgram('exe-hijack')},
        files: {'/payload': shPayload(marker)},
        exec: ['/bin/exe-hijack', '/log/hijack.log', '/payload'],
      }
      await ps.image(spec)
      // Its log on a host volume: kvm's app root is a disk of the VM, which the host does not read.
      const logDir = path.join(ps.s.work, 'log')
      fs.mkdirSync(logDir)
      const pod = await ps.start(
        [
          'run',
          '--net=none',
          `--volume=log,kind=host,source=${logDir}`,
          'example.com/exe-hijack:1.0',
          '--mount=volume=log,target=/log',
          '--caps-retain=CAP_SYS_PTRACE',
        ],
        {detached: true},
      )
      const log = (): string => {
        try {
          return fs.readFileSync(path.join(logDir, 'hijack.log'), 'utf8')
        } catch {
          return ''
        }
      }
      const tree = stage1Tree(ps, pod.uuid)
      const helpers = [path.join(tree, 'enter'), path.join(ps.podPath(pod.uuid), 'stage1', 'rootfs', 'enter')]
      const before = helpers.map(sha)
      // The attacker catches the helper between its fork into the pod and its exec; give it a few tries.
      for (let i = 0; i < 30 && !/caught .*enter/.test(log()); i++) {
        const e = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'true'])
        assert.equal(e.exitCode, 0, e.stderr)
      }
      assert.match(log(), /caught .*enter/, `the attack never caught the enter helper: ${log()}`)
      // Whatever it caught, it could not rewrite: wait for a verdict on each, then enter again.
      const count = (re: RegExp): number => log().match(re)?.length ?? 0
      assert.ok(await waitFor(() => count(/^caught /gm) === count(/^(refused|rewrote) /gm)), log())
      const again = await ps.rkt(['enter', pod.uuid, '/bin/sh', '-c', 'echo entered'])
      assert.equal(again.exitCode, 0, again.stderr)
      assert.match(again.stdout, /entered/)
      assert.doesNotMatch(log(), /rewrote/, log())
      assert.equal(fs.existsSync(marker), false, 'the host ran the pod’s payload')
      assert.deepEqual(helpers.map(sha), before, 'an enter helper changed')
    })
  })
}
