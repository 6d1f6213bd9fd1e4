// Deleting a pod while a process its app left behind swaps a directory of the app's rootfs for a symlink to a
// host directory, over and over (renameat2 RENAME_EXCHANGE): `rkt rm` and `rkt gc` must delete the pod and
// never a file of the host directory, even one the app could not read (root's 0700) but whose names it
// guessed. A deletion that walks by path (lstat, then readdir or unlink of the same path) was sent through
// the symlink. The attacker runs as uid 1000 without capabilities, its working directory in the app's home,
// as a process left in a fly pod's chroot would.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import crypto from 'node:crypto'
import {once} from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import {describe, test} from 'node:test'

import {ACTOOL, makeLayout, requireTool} from '../util/harness.js'
import {mountsUnder, PodSandbox, sh} from '../util/pods.js'

const ITERATIONS = 50
/** Files of the app's directory, named as the host directory's. */
const NAMES = Array.from({length: 16}, (_, i) => `f${String(i).padStart(2, '0')}`)

/** Swaps ./DIR and ./LINK (a symlink to TARGET it makes) until killed; says "ready" after the first swap. */
const ATTACKER = `
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  if (symlink(argv[1], argv[3]) < 0) return perror("symlink"), 1;
  for (int ready = 0;;) {
    if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) == 0 && !ready) {
      puts("ready");
      fflush(stdout);
      ready = 1;
    }
  }
}
`

/** Every entry under `dir` with its mode and content: the host directory must stay byte for byte as it was. */
function snapshot(dir: string): string[] {
  return [dir, ...(fs.readdirSync(dir, {recursive: true}) as string[]).sort().map((r) => path.join(dir, r))].map(
    (p) => {
      const st = fs.lstatSync(p)
      const what = st.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : ''
      return `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${what}`
    },
  )
}

/** A root-only host directory holding files named as the app's. */
function makeVictim(dir: string): string[] {
  fs.mkdirSync(dir, {mode: 0o700})
  for (const n of NAMES) fs.writeFileSync(path.join(dir, n), `host data ${n}\n`, {mode: 0o600})
  fs.mkdirSync(path.join(dir, 'sub'), {mode: 0o700})
  fs.writeFileSync(path.join(dir, 'sub', 'deeper'), 'more host data\n')
  return snapshot(dir)
}

/** The attacker, started as uid 1000 with no capabilities, working in `cwd`; resolves once it swapped. */
async function startAttacker(bin: string, cwd: string, victim: string): Promise<ChildProcess> {
  const child = spawn(
    'setpriv',
    ['--reuid=1000', '--regid=1000', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', bin, victim, 'd', 'l'],
    {cwd, stdio: ['ignore', 'pipe', 'pipe']},
  )
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`the attacker exited (${code}): ${out}`)))
  })
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8')
  assert.match(status, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m, 'the attacker runs as uid 1000')
  assert.match(status, /^CapEff:\s+0+$/m, 'with no capabilities')
  return child
}

describe('deleting a pod while its leftover process swaps a directory for a symlink to the host', () => {
  test(`${ITERATIONS} rounds of rm and gc: every pod goes, the root-only host directory is never touched`, async (t) => {
    await requireTool(t, 'gcc')
    await requireTool(t, 'setpriv')
    const ps = PodSandbox.create(t, {stage1: 'fly'})
    const attacker = path.join(ps.s.work, 'swapper')
    fs.writeFileSync(`${attacker}.c`, ATTACKER)
    await execa('gcc', ['-O2', '-o', attacker, `${attacker}.c`])
    fs.chmodSync(ps.s.dir, 0o755) // the attacker (uid 1000) runs its binary from the sandbox

    // An image whose /home/app belongs to uid 1000, as a user's home does.
    const layout = makeLayout(path.join(ps.s.work, 'layout'), {name: 'example.com/swap', version: '1.0'})
    fs.mkdirSync(path.join(layout, 'rootfs', 'home', 'app'), {recursive: true})
    fs.chownSync(path.join(layout, 'rootfs', 'home', 'app'), 1000, 1000)
    const aci = path.join(ps.s.work, 'swap.aci')
    await execa(ACTOOL, ['build', layout, aci])
    assert.equal((await ps.rkt(['--insecure-options=image', 'fetch', aci])).exitCode, 0)
    const app = sh(`mkdir /home/app/d && cd /home/app/d && for f in ${NAMES.join(' ')}; do echo pod > $f; done`)

    const running = new Set<ChildProcess>()
    t.after(() => running.forEach((c) => c.kill('SIGKILL')))
    const hits: string[] = []
    const failures: string[] = []
    for (let i = 0; i < ITERATIONS; i++) {
      const victim = path.join(ps.s.work, `victim-${i}`)
      const before = makeVictim(victim)
      const uuidFile = path.join(ps.s.work, `uuid-${i}`)
      const run = await ps.rkt([
        'run',
        `--uuid-file-save=${uuidFile}`,
        'example.com/swap:1.0',
        '--user=1000',
        '--group=1000',
        ...app,
      ])
      assert.equal(run.exitCode, 0, run.stderr)
      const uuid = fs.readFileSync(uuidFile, 'utf8').trim()
      const child = await startAttacker(attacker, ps.appPath(uuid, 'home/app'), victim)
      running.add(child)
      const how = i % 3 === 2 ? ['gc', '--grace-period=0s'] : ['rm', uuid]
      const r = await ps.rkt(how)
      child.kill('SIGKILL')
      await once(child, 'close')
      running.delete(child)
      const after = snapshot(victim)
      if (after.join('\n') !== before.join('\n')) {
        hits.push(`round ${i} (${how[0]}): ${before.filter((l) => !after.includes(l)).join(', ')}`)
      }
      if (r.exitCode !== 0 || ps.podDir(uuid) !== undefined) failures.push(`round ${i} (${how[0]}): ${r.stderr}`)
    }
    assert.deepEqual(hits, [], `${hits.length} of ${ITERATIONS} rounds changed the host directory`)
    assert.deepEqual(failures, [], `${failures.length} of ${ITERATIONS} pods were not removed`)
    assert.deepEqual(mountsUnder(ps.data), [])
  })
})
