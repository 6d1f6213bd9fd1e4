// Staging files: where an image is written while it is fetched and checked, invisible to every reader.
// Each is flock'ed by its writer for its whole life, so a staging file whose lock can be taken belongs to
// a process that died (SIGKILL, power loss) and may be deleted by anyone.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import type {AciLimits, AciValidation} from '../aci/index.js'

import {AciValidator, ImageIdHasher} from '../aci/index.js'
import {flock, LOCK_EX, LOCK_NB} from '../sys/native.js'

/** A locked temporary file in cas/tmp. */
export class StagingFile {
  private constructor(
    readonly path: string,
    public fd: number,
  ) {}

  /** Creates and locks a new, empty staging file. */
  static create(tmpDir: string): StagingFile {
    for (;;) {
      const file = path.join(tmpDir, `stage-${crypto.randomBytes(12).toString('hex')}`)
      const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
      try {
        // A concurrent cleanStaleStaging may see the file between its creation and this lock, take the lock
        // first and unlink it: wait for it, then keep the file only if it is still the one at `file`.
        flock(fd, LOCK_EX)
        const ours = fs.fstatSync(fd)
        const now = fs.statSync(file, {throwIfNoEntry: false})
        if (now !== undefined && now.ino === ours.ino && now.dev === ours.dev) return new StagingFile(file, fd)
      } catch (err) {
        fs.closeSync(fd)
        throw err
      }
      fs.closeSync(fd)
    }
  }

  /** Flushes the content to disk. */
  sync(): void {
    fs.fsyncSync(this.fd)
  }

  /** Closes the descriptor (releasing the lock). */
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd)
    this.fd = -1
  }

  /** Closes and deletes the file, if it is still here. */
  discard(): void {
    this.close()
    fs.rmSync(this.path, {force: true})
  }
}

/**
 * Writes an image's uncompressed tar to a staging file while hashing it (the image ID) and validating every
 * entry: one pass, shared by every import (local files, URLs, converted Docker layers).
 */
export class StagingWriter {
  private readonly hasher = new ImageIdHasher()
  private readonly validator: AciValidator

  constructor(
    readonly staging: StagingFile,
    limits: Partial<AciLimits>,
  ) {
    this.validator = new AciValidator({limits})
  }

  write(chunk: Buffer): void {
    this.hasher.update(chunk)
    this.validator.push(chunk)
    let off = 0
    while (off < chunk.length) off += fs.writeSync(this.staging.fd, chunk, off)
  }

  /** The image ID and what validation found (throws if the tar is incomplete). */
  finish(): {id: string; checked: AciValidation} {
    const checked = this.validator.finish()
    return {id: this.hasher.digest(), checked}
  }
}

/** Deletes staging files left by dead processes; returns how many. */
export function cleanStaleStaging(tmpDir: string): number {
  let names: string[]
  try {
    names = fs.readdirSync(tmpDir)
  } catch {
    return 0
  }
  let removed = 0
  for (const name of names) {
    const file = path.join(tmpDir, name)
    let fd: number
    try {
      // O_NONBLOCK: anything but a staging file (a FIFO someone left here) must not hang the sweep.
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    } catch {
      continue
    }
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd)
      continue
    }
    try {
      flock(fd, LOCK_EX | LOCK_NB)
      fs.rmSync(file, {force: true}) // unlink while holding the lock: no writer can be racing us
      removed++
    } catch {
      // locked: a live fetch owns it
    } finally {
      fs.closeSync(fd)
    }
  }
  return removed
}
