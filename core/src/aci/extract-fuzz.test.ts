// FZ-04: random archives with names and link targets pointing around and outside the root. Invariant: the
// extraction succeeds with everything inside dest, or throws an rkt error; the victim is unchanged either way.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'

import fc from 'fast-check'

import {RktError} from '../errors.js'
import {extractAci} from './extract.js'
import {TEST_MANIFEST, makeSandbox, packTar} from './testing.js'
import type {EntrySpec} from './testing.js'

// Mostly ordinary components, so that many archives extract and later entries meet what earlier ones made.
const component = fc.oneof(
  {weight: 12, arbitrary: fc.constantFrom('a', 'b', 'victim', 'x')},
  {weight: 1, arbitrary: fc.constantFrom('.', '..', '')},
)
const relPath = fc.array(component, {minLength: 1, maxLength: 4}).map((parts) => parts.join('/'))
const name = fc.oneof(
  {weight: 20, arbitrary: relPath.map((p) => `rootfs/${p}`)},
  {weight: 1, arbitrary: relPath},
  {weight: 1, arbitrary: relPath.map((p) => `/${p}`)},
  {weight: 1, arbitrary: relPath.map((p) => `./rootfs/${p}/`)},
)
// '@' stands for the victim's absolute path, known only once the sandbox exists.
const symlinkTarget = fc.oneof(
  relPath,
  fc.constantFrom('../victim', '../../victim', '../../../victim/x', '@', '@/x', '/', '..'),
)
const hardlinkTarget = fc.oneof(name, fc.constantFrom('@/x', '../victim/x', 'rootfs/../victim/x'))

type Gen = {kind: 'file' | 'dir' | 'fifo'; name: string} | {kind: 'symlink' | 'link'; name: string; target: string}

const entry: fc.Arbitrary<Gen> = fc.oneof(
  fc.record({kind: fc.constant('file' as const), name}),
  fc.record({kind: fc.constant('dir' as const), name}),
  fc.record({kind: fc.constant('fifo' as const), name}),
  fc.record({kind: fc.constant('symlink' as const), name, target: symlinkTarget}),
  fc.record({kind: fc.constant('link' as const), name, target: hardlinkTarget}),
)

function toSpec(g: Gen, victim: string): EntrySpec {
  const fix = (s: string): string => s.replace('@', victim)
  const n = fix(g.name)
  switch (g.kind) {
    case 'file':
      return {name: n, data: 'pwned'}
    case 'dir':
      return {name: n.endsWith('/') ? n : `${n}/`}
    case 'fifo':
      return {name: n, type: 'fifo'}
    case 'symlink':
      return {name: n, type: 'symlink', linkname: fix(g.target)}
    case 'link':
      return {name: n, type: 'link', linkname: fix(g.target)}
  }
}

test('FZ-04: random hostile archives never touch anything outside dest', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(entry, {minLength: 1, maxLength: 8}), {minLength: 1, maxLength: 2}),
      fc.boolean(),
      async (layers, rootfsOnly) => {
        const sb = makeSandbox()
        try {
          const files: string[] = []
          for (const [i, l] of layers.entries()) {
            const specs = [
              {name: 'manifest', data: TEST_MANIFEST},
              {name: 'rootfs/'},
              ...l.map((g) => toSpec(g, sb.victim)),
            ]
            files.push(sb.writeTar(await packTar(specs), `l${i}.tar`))
          }
          const before = sb.snapshot()
          for (const [i, f] of files.entries()) {
            try {
              extractAci(f, sb.dest, {rootfsOnly, layered: i > 0})
            } catch (err) {
              if (!(err instanceof RktError)) throw err
            }
          }
          assert.equal(sb.snapshot(), before)
          assert.deepEqual(sb.sharedInodes(), [])
          // Every non-symlink in dest is reachable without leaving it (walked without following links).
          const real = fs.realpathSync(sb.dest)
          const walk = (dir: string): void => {
            for (const n of fs.readdirSync(dir)) {
              const p = path.join(dir, n)
              const st = fs.lstatSync(p)
              if (st.isSymbolicLink()) continue
              assert.ok(fs.realpathSync(p).startsWith(`${real}/`), p)
              if (st.isDirectory()) walk(p)
            }
          }
          walk(sb.dest)
        } finally {
          sb.cleanup()
        }
      },
    ),
    {numRuns: 300, seed: 20260426},
  )
})
