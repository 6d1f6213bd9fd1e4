// kvm's export without a VM: a base disk made by mkfs.ext4 -d, a qcow2 overlay on it that holds only the
// blocks a change wrote (as a guest's writes would), and the export of both. Needs root (device nodes, owners).
import {isRoot, skipUnless} from '@rkt/core/testing'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {exportDisk} from './export.js'

const skip = skipUnless(isRoot, 'needs root (device nodes, owners)')
const run = (cmd: string, args: string[], env: Record<string, string> = {}) =>
  execFileSync(cmd, args, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})

/** The same file system parameters for every disk of a test, so two trees differ only where their files do. */
function mkfs(tree: string, disk: string, options: string[] = []): void {
  run(
    'mkfs.ext4',
    [
      ...options,
      '-b',
      '4096',
      '-q',
      '-F',
      '-U',
      '0b5a5b53-3e4c-4d76-9a3a-6f0c2f4bb001',
      '-E',
      'hash_seed=0b5a5b53-3e4c-4d76-9a3a-6f0c2f4bb002',
      '-d',
      tree,
      disk,
      '16M',
    ],
    {E2FSPROGS_FAKE_TIME: '1700000000'},
  )
}

/** A tree with what an app root holds: files, a setuid binary, a symlink, a hard link, a FIFO, a device node. */
function makeTree(dir: string): void {
  fs.mkdirSync(path.join(dir, 'etc'), {recursive: true})
  fs.mkdirSync(path.join(dir, 'bin'))
  fs.writeFileSync(path.join(dir, 'etc', 'base'), 'from the image\n')
  fs.writeFileSync(path.join(dir, 'bin', 'su'), 'not really su\n', {mode: 0o755})
  fs.chmodSync(path.join(dir, 'bin', 'su'), 0o4755)
  fs.linkSync(path.join(dir, 'bin', 'su'), path.join(dir, 'bin', 'su-link'))
  fs.symlinkSync('../etc/base', path.join(dir, 'bin', 'base-link'))
  run('mkfifo', ['-m', '0620', path.join(dir, 'etc', 'fifo')])
  run('mknod', ['-m', '0666', path.join(dir, 'etc', 'null'), 'c', '1', '3'])
  fs.chownSync(path.join(dir, 'etc', 'base'), 1234, 567)
  fs.utimesSync(path.join(dir, 'etc', 'base'), 1000000000, 1000000000)
  fs.utimesSync(path.join(dir, 'etc'), 1100000000, 1100000000)
}

describe('kvm export (exportDisk)', {skip}, () => {
  test('a qcow2 overlay holding a change: the image files and the change, with owners, modes, links, times', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-kvm-export-'))
    t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
    const [image, changed] = [path.join(dir, 'image'), path.join(dir, 'changed')]
    makeTree(image)
    makeTree(changed)
    fs.writeFileSync(path.join(changed, 'etc', 'written-by-app'), 'the app was here\n')
    fs.utimesSync(path.join(changed, 'etc'), 1100000000, 1100000000)
    const [base, after, overlay, block] = ['base.raw', 'after.raw', 'app.qcow2', 'block'].map((f) => path.join(dir, f))
    mkfs(image, base!)
    mkfs(changed, after!)
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base!, '-F', 'raw', overlay!])
    // Into the overlay, only the 4 KiB blocks where the changed disk differs (what a guest's writes leave).
    const [a, b] = [fs.readFileSync(base!), fs.readFileSync(after!)]
    let blocks = 0
    for (let off = 0; off < b.length; off += 4096) {
      if (a.subarray(off, off + 4096).equals(b.subarray(off, off + 4096))) continue
      fs.writeFileSync(block!, b.subarray(off, off + 4096))
      run('qemu-io', ['-f', 'qcow2', '-c', `write -s ${block} ${off} 4096`, overlay!])
      blocks++
    }
    assert.ok(blocks > 0 && blocks < 100, `a small change: ${blocks} blocks`)
    const info = JSON.parse(run('qemu-img', ['info', '--output=json', overlay!]).toString()) as {'actual-size': number}
    assert.ok(info['actual-size'] < 2 << 20, 'the overlay holds only the change; the rest is read from the base')

    const out = path.join(dir, 'out')
    fs.mkdirSync(out)
    exportDisk(overlay!, out, path.join(dir, 'scratch.raw'))
    assert.ok(!fs.existsSync(path.join(dir, 'scratch.raw')), 'the raw copy is deleted')
    assert.equal(fs.readFileSync(path.join(out, 'etc', 'written-by-app'), 'utf8'), 'the app was here\n')
    assert.equal(fs.readFileSync(path.join(out, 'etc', 'base'), 'utf8'), 'from the image\n')
    const base_ = fs.statSync(path.join(out, 'etc', 'base'))
    assert.deepEqual([base_.uid, base_.gid, base_.mtimeMs], [1234, 567, 1000000000 * 1000])
    assert.equal(fs.statSync(path.join(out, 'etc')).mtimeMs, 1100000000 * 1000, "a directory's time")
    const su = fs.statSync(path.join(out, 'bin', 'su'))
    assert.equal(su.mode & 0o7777, 0o4755, 'the setuid bit is kept')
    assert.equal(fs.statSync(path.join(out, 'bin', 'su-link')).ino, su.ino, 'a hard link stays one')
    assert.equal(fs.readlinkSync(path.join(out, 'bin', 'base-link')), '../etc/base')
    const fifo = fs.lstatSync(path.join(out, 'etc', 'fifo'))
    assert.ok(fifo.isFIFO() && (fifo.mode & 0o777) === 0o620)
    const nul = fs.lstatSync(path.join(out, 'etc', 'null'))
    assert.ok(nul.isCharacterDevice() && nul.rdev === fs.statSync('/dev/null').rdev && (nul.mode & 0o777) === 0o666)
    assert.ok(!fs.existsSync(path.join(out, 'lost+found')), "mkfs's empty lost+found is not the app's")

    const raw = path.join(dir, 'raw-out')
    fs.mkdirSync(raw)
    exportDisk(after!, raw, path.join(dir, 'unused.raw'))
    assert.equal(fs.readFileSync(path.join(raw, 'etc', 'written-by-app'), 'utf8'), 'the app was here\n')
  })

  test('a crafted disk (two entries of one name: a symlink out, then a directory) is refused, nothing written out', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-kvm-export-'))
    t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
    const outside = path.join(dir, 'outside')
    fs.mkdirSync(outside)
    const tree = path.join(dir, 'tree')
    // The symlink first: rdump then makes it before it writes the directory's files through it.
    fs.mkdirSync(tree)
    fs.symlinkSync(outside, path.join(tree, 'x'))
    fs.mkdirSync(path.join(tree, 'd'))
    fs.writeFileSync(path.join(tree, 'd', 'payload'), 'escaped\n')
    const disk = path.join(dir, 'crafted.raw')
    mkfs(tree, disk, ['-O', '^metadata_csum'])
    // What a hostile guest can write: in the root directory, the symlink as an entry "x" and then the
    // directory as a second entry "x" (entries found by their bytes: name length 1, file type, name).
    const rootBlock = Number(run('debugfs', ['-R', 'blocks <2>', disk]).toString().trim().split(/\s+/)[0])
    const img = fs.readFileSync(disk)
    const find = (type: number, name: string) =>
      img.indexOf(Buffer.from([1, type, name.charCodeAt(0)]), rootBlock * 4096) - 6
    const [dirEntry, linkEntry] = [find(2, 'd'), find(7, 'x')].sort((a, b) => a - b) as [number, number]
    const [dirIno, linkIno] = [img.readUInt32LE(find(2, 'd')), img.readUInt32LE(find(7, 'x'))]
    img.writeUInt32LE(linkIno, dirEntry)
    img.writeUInt32LE(dirIno, linkEntry)
    img.set([1, 7, 0x78], dirEntry + 6)
    img.set([1, 2, 0x78], linkEntry + 6)
    fs.writeFileSync(disk, img)
    const listing = run('debugfs', ['-R', 'ls -p /', disk]).toString()
    assert.equal(listing.split('\n').filter((l) => l.includes('/x/')).length, 2, listing)
    const out = path.join(dir, 'out')
    fs.mkdirSync(out)
    assert.throws(() => exportDisk(disk, out, path.join(dir, 'scratch.raw')), /lists "x" twice/)
    assert.deepEqual(fs.readdirSync(outside), [])
    assert.deepEqual(fs.readdirSync(out), [], 'refused before anything was copied')
  })

  test('a crafted disk with a directory inside itself is refused before anything is copied', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-kvm-export-'))
    t.after(() => fs.rmSync(dir, {recursive: true, force: true}))
    const tree = path.join(dir, 'tree')
    fs.mkdirSync(path.join(tree, 'd'), {recursive: true})
    fs.writeFileSync(path.join(tree, 'd', 'f'), 'x'.repeat(4096))
    const disk = path.join(dir, 'crafted.raw')
    mkfs(tree, disk)
    run('debugfs', ['-w', '-R', 'ln /d /d/loop', disk])
    const out = path.join(dir, 'out')
    fs.mkdirSync(out)
    assert.throws(() => exportDisk(disk, out, path.join(dir, 'scratch.raw')), /directory \/d\/loop is reached twice/)
    assert.deepEqual(fs.readdirSync(out), [])
  })
})
