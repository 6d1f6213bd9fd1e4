// Crash-safe file replacement: a reader sees the old content or the new, never a torn file, and after
// return the new content survives power loss (file and directory entry both fsynced).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** fsyncs a directory, making renames and creations inside it durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** A temp name beside `file` (same filesystem, so the final rename is atomic). */
export function tempPathFor(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
  )
}

/** Writes `data` to `file` atomically and durably, with the given mode. */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempPathFor(file)
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode)
  try {
    fs.writeFileSync(fd, data)
    fs.fchmodSync(fd, mode)
    fs.fsyncSync(fd)
  } catch (err) {
    fs.closeSync(fd)
    fs.rmSync(tmp, {force: true})
    throw err
  }
  fs.closeSync(fd)
  try {
    fs.renameSync(tmp, file)
  } catch (err) {
    fs.rmSync(tmp, {force: true})
    throw err
  }
  fsyncDir(path.dirname(file))
}
