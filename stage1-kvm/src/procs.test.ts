import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {findQemu} from './procs.js'

test("the pod's QEMU is found by its -name, not by a look-alike argument", () => {
  const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'proc-'))
  try {
    const uuid = '11111111-2222-3333-4444-555555555555'
    const put = (pid: number, argv: string[]): void => {
      fs.mkdirSync(path.join(proc, String(pid)))
      fs.writeFileSync(path.join(proc, String(pid), 'cmdline'), argv.map((a) => `${a}\0`).join(''))
    }
    put(10, ['/usr/bin/qemu-system-x86_64', '-name', `rkt-${uuid}`, '-m', '512M'])
    put(11, ['grep', `rkt-${uuid}`])
    put(12, ['qemu-system-x86_64', '-name', `rkt-${uuid}x`])
    // kvm-exec carries QEMU's argv after "--": it is the pod's parent, not its VM
    put(13, ['kvm-exec', '--lock-fd', '3', '--', '/usr/bin/qemu-system-x86_64', '-name', `rkt-${uuid}`])
    fs.mkdirSync(path.join(proc, 'self'))
    assert.deepEqual(findQemu(uuid, proc), [10])
  } finally {
    fs.rmSync(proc, {recursive: true, force: true})
  }
})
