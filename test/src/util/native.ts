// Test programs written in C (test/native/*.c): hostile apps and attackers that need system calls no shell
// or busybox applet makes. Each is built once per test process with the machine's gcc, statically, so that
// it runs in any image.
import {execFileSync, spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {ROOT} from './harness.js'

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-test-native-'))
process.on('exit', () => fs.rmSync(outDir, {recursive: true, force: true}))
const built = new Map<string, string>()

/** The built program test/native/NAME.c (its host path). */
export function testProgram(name: string): string {
  let bin = built.get(name)
  if (bin === undefined) {
    bin = path.join(outDir, name)
    const src = path.join(ROOT, 'test', 'native', `${name}.c`)
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-static', '-o', bin, src], {stdio: 'pipe'})
    built.set(name, bin)
  }
  return bin
}

/** A unit's notification socket: a real datagram socket on the host, and what arrived on it so far. */
export function unitNotifySocket(dir: string): {path: string; received: () => string[]; close: () => void} {
  const file = path.join(dir, 'notify.sock')
  const proc = spawn(testProgram('sd-app'), ['recv', file], {stdio: ['ignore', 'pipe', 'inherit']})
  let out = ''
  proc.stdout.setEncoding('utf8').on('data', (d) => (out += String(d)))
  return {
    path: file,
    received: () => out.split('\n').filter((l) => l !== '' && l !== 'listening'),
    close: () => proc.kill('SIGKILL'),
  }
}
