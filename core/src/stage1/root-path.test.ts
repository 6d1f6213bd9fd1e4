import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, mock, test} from 'node:test'

import fc from 'fast-check'

import {RktError} from '../errors.js'
import {MAX_SYMLINKS, hostPathInRoot, resolveInRoot} from './root-path.js'

let tmp: string

/** Runs `fn` with spies on the fs calls path resolution makes, and returns every path they were given. */
function pathsLookedAt(fn: () => void): string[] {
  const spies = [mock.method(fs, 'lstatSync'), mock.method(fs, 'readlinkSync')]
  try {
    fn()
  } finally {
    for (const s of spies) s.mock.restore()
  }
  return spies.flatMap((s) => s.mock.calls.map((c) => String(c.arguments[0])))
}
let root: string

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-rootpath-'))
  root = path.join(tmp, 'rootfs')
  // The tree of rkt's functional test image (tests/functional.mk), used by TestMountSymlink.
  fs.mkdirSync(path.join(root, 'dir1'), {recursive: true})
  fs.mkdirSync(path.join(root, 'dir2'))
  fs.writeFileSync(path.join(root, 'dir1', 'file'), 'dir1')
  fs.writeFileSync(path.join(root, 'dir2', 'file'), 'dir2')
  fs.symlinkSync('/dir2', path.join(root, 'dir1', 'link_abs_dir2'))
  fs.symlinkSync('/../dir2', path.join(root, 'dir1', 'link_abs_dotdot_dir2'))
  fs.symlinkSync('../dir2', path.join(root, 'dir1', 'link_rel_dir2'))
  fs.symlinkSync('/', path.join(root, 'dir1', 'link_abs_root'))
  fs.symlinkSync('/notexists', path.join(root, 'dir1', 'link_abs_notexists'))
  // Extra links that would leave the root if followed on the host.
  fs.mkdirSync(path.join(tmp, 'victim'))
  fs.symlinkSync('../../../../../../victim', path.join(root, 'dir1', 'link_escape_rel'))
  fs.symlinkSync(path.join(tmp, 'victim'), path.join(root, 'dir1', 'link_escape_host'))
  fs.symlinkSync('loop_b', path.join(root, 'loop_a'))
  fs.symlinkSync('loop_a', path.join(root, 'loop_b'))
  fs.symlinkSync('file', path.join(root, 'dir2', 'link_file'))
})

after(() => fs.rmSync(tmp, {recursive: true, force: true}))

describe('resolveInRoot: rkt TestMountSymlink table', () => {
  const table: [string, string][] = [
    ['/dir1/link_abs_dir2/foo', '/dir2/foo'],
    ['/dir1/link_rel_dir2/bar', '/dir2/bar'],
    ['/dir1/../dir1/.//link_rel_dir2/foo', '/dir2/foo'],
    ['/dir1/../../../foo', '/foo'],
    ['/dir1/link_abs_dotdot_dir2/foo', '/dir2/foo'],
    ['/dir1/../../../newdir/foo', '/newdir/foo'],
    ['/dir1/link_rel_dir2/newdir/foo', '/dir2/newdir/foo'],
    ['/dir1/link_abs_dir2/newdir/foo', '/dir2/newdir/foo'],
    ['/dir1/link_abs_notexists/newdir1/newdir2/foo', '/notexists/newdir1/newdir2/foo'],
    ['/dir1/link_abs_root/newdir1/newdir2/foo', '/newdir1/newdir2/foo'],
    ['../../../../../../../../../../../../../../../foo', '/foo'],
  ]
  for (const [target, want] of table) {
    test(`${target} → ${want}`, () => {
      assert.equal(resolveInRoot(root, target), want)
    })
  }
})

describe('resolveInRoot', () => {
  test('the root itself and empty paths resolve to /', () => {
    assert.equal(resolveInRoot(root, '/'), '/')
    assert.equal(resolveInRoot(root, ''), '/')
    assert.equal(resolveInRoot(root, '.'), '/')
    assert.equal(resolveInRoot(root, '/..'), '/')
  })

  test('relative targets are relative to /', () => {
    assert.equal(resolveInRoot(root, 'dir1/link_rel_dir2'), '/dir2')
  })

  test('a symlink as the last component is followed', () => {
    assert.equal(resolveInRoot(root, '/dir1/link_abs_dir2'), '/dir2')
    assert.equal(resolveInRoot(root, '/dir2/link_file'), '/dir2/file')
  })

  test('.. after a symlink climbs from its target (physical, not lexical)', () => {
    fs.mkdirSync(path.join(root, 'a', 'b'), {recursive: true})
    fs.symlinkSync('/a/b', path.join(root, 'dir1', 'link_ab'))
    assert.equal(resolveInRoot(root, '/dir1/link_ab/../x'), '/a/x')
  })

  test('.. after a missing component returns to the existing tree', () => {
    assert.equal(resolveInRoot(root, '/nothere/../dir1/link_abs_dir2'), '/dir2')
    assert.equal(resolveInRoot(root, '/dir1/link_abs_notexists/x/../../dir1/link_rel_dir2'), '/dir2')
  })

  test('links pointing outside the root stay inside it', () => {
    assert.equal(resolveInRoot(root, '/dir1/link_escape_rel/x'), '/victim/x')
    assert.equal(resolveInRoot(root, '/dir1/link_escape_host/x'), `${path.join(tmp, 'victim')}/x`)
    assert.ok(hostPathInRoot(root, '/dir1/link_escape_host/x').startsWith(`${root}/`))
  })

  test('a loop fails with ELOOP', () => {
    assert.throws(
      () => resolveInRoot(root, '/loop_a/x'),
      (err: unknown) => err instanceof RktError && err.code === 'ELOOP' && /symbolic links/.test(err.message),
    )
  })

  test(`exactly ${MAX_SYMLINKS} links are followed, one more is ELOOP`, () => {
    const chain = path.join(root, 'chain')
    fs.mkdirSync(chain)
    fs.mkdirSync(path.join(chain, 'end'))
    for (let i = 0; i < MAX_SYMLINKS + 1; i++) {
      fs.symlinkSync(i === 0 ? 'end' : `l${i - 1}`, path.join(chain, `l${i}`))
    }
    assert.equal(resolveInRoot(root, `/chain/l${MAX_SYMLINKS - 1}`), '/chain/end')
    assert.throws(() => resolveInRoot(root, `/chain/l${MAX_SYMLINKS}`), {code: 'ELOOP'})
  })

  test('a regular file in the middle keeps the rest as given', () => {
    assert.equal(resolveInRoot(root, '/dir1/file/x/y'), '/dir1/file/x/y')
  })

  test('a missing root keeps the whole path', () => {
    assert.equal(resolveInRoot(path.join(tmp, 'nope'), '/a/../b/c'), '/b/c')
  })

  test('NUL bytes are refused with an RktError', () => {
    assert.throws(() => resolveInRoot(root, '/a\0b'), RktError)
  })

  test('onSymlink sees every link and can refuse it', () => {
    const seen: string[] = []
    resolveInRoot(root, '/dir1/link_rel_dir2/link_file', {onSymlink: (s) => seen.push(`${s.link}>${s.target}`)})
    assert.deepEqual(seen, ['/dir1/link_rel_dir2>../dir2', '/dir2/link_file>file'])
    assert.throws(
      () =>
        resolveInRoot(root, '/dir1/link_abs_dir2', {
          onSymlink: () => {
            throw new RktError('no links')
          },
        }),
      /no links/,
    )
  })
})

describe('resolveInRoot: property', () => {
  // Components drawn from a small alphabet so that random links and queries meet each other.
  const name = fc.constantFrom('a', 'b', 'c', 'etc', 'victim')
  const relPath = fc
    .array(fc.oneof({weight: 6, arbitrary: name}, {weight: 2, arbitrary: fc.constantFrom('..', '.', '')}), {
      minLength: 0,
      maxLength: 5,
    })
    .map((parts) => parts.join('/'))
  // '@' stands for the host path of the victim directory next to the root.
  const linkTarget = fc.oneof(
    relPath,
    relPath.map((p) => `/${p}`),
    fc.constantFrom('@', '@/x', '../victim', '../../../../victim', '/', '..', '../..', '/..', '.'),
  )
  const entry = fc.record({
    kind: fc.constantFrom('dir', 'file', 'link', 'link'),
    at: fc.array(name, {minLength: 1, maxLength: 3}),
    target: linkTarget,
  })
  const query = fc.oneof(
    relPath,
    relPath.map((p) => `/${p}`),
    linkTarget,
  )

  test('whatever the links point to, the result joined to root stays under root and nothing outside is read', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-rootpath-prop-'))
    try {
      let run = 0
      let looked = 0
      fc.assert(
        fc.property(fc.array(entry, {maxLength: 25}), fc.array(query, {minLength: 1, maxLength: 5}), (tree, qs) => {
          const outer = path.join(base, String(run++))
          const r = path.join(outer, 'root')
          const victim = path.join(outer, 'victim')
          fs.mkdirSync(r, {recursive: true})
          fs.mkdirSync(path.join(victim, 'x'), {recursive: true})
          for (const e of tree) {
            const p = path.join(r, ...e.at)
            try {
              fs.mkdirSync(path.dirname(p), {recursive: true})
              if (e.kind === 'dir') fs.mkdirSync(p)
              else if (e.kind === 'file') fs.writeFileSync(p, '')
              else fs.symlinkSync(e.target.replace('@', victim), p)
            } catch {
              // Collisions with earlier entries (or a file where a directory was wanted) are fine.
            }
          }
          const results: [string, string | RktError][] = []
          const touched = pathsLookedAt(() => {
            for (const q of qs) {
              try {
                results.push([q, resolveInRoot(r, q.replace('@', victim))])
              } catch (err) {
                assert.ok(err instanceof RktError && err.code === 'ELOOP', String(err))
                results.push([q, err])
              }
            }
          })
          looked += touched.length
          for (const t of touched) assert.ok(t.startsWith(`${r}/`), `looked outside the root: ${t}`)
          for (const [q, got] of results) {
            if (got instanceof RktError) continue
            assert.ok(got.startsWith('/'), got)
            assert.ok(!got.split('/').some((c) => c === '..' || c === '.'), got)
            const rel = path.relative(r, path.join(r, got))
            assert.ok(rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel)), `${q} → ${got}`)
            // Every existing prefix of the result is a real directory or file, never a link.
            let cur = r
            for (const c of got.split('/').filter(Boolean)) {
              cur = path.join(cur, c)
              let st: fs.Stats
              try {
                st = fs.lstatSync(cur)
              } catch {
                break // missing, or below a regular file
              }
              assert.ok(!st.isSymbolicLink(), `${q} → ${got}: ${cur} is a symlink`)
            }
          }
        }),
        {numRuns: 200},
      )
      assert.ok(looked > 0, 'the spy saw no lookups')
    } finally {
      fs.rmSync(base, {recursive: true, force: true})
    }
  })
})
