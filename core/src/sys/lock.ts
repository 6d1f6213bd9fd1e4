// Node (libuv) opens every descriptor with O_CLOEXEC: nothing opened here leaks into an exec, unless
// setCloexec(fd, false) is called on purpose (the pod lock handed to stage1).
// Advisory flock(2) locks: held by an open file description, so the kernel drops them when the holder
// dies, even by SIGKILL. This is what makes rkt's filesystem-as-state safe without a daemon.
import fs from 'node:fs'

import {flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN} from './native.js'

export interface LockOptions {
  /** Shared (readers) or exclusive (writers). */
  exclusive: boolean
  /** Block until the lock is free (true) or fail at once with EAGAIN (false). */
  wait: boolean
  /** Called once, before blocking, when the lock is busy and wait is true. */
  onWait?: () => void
}

/** A held lock on a file or directory. */
export class FileLock {
  private constructor(
    readonly path: string,
    public fd: number,
  ) {}

  /** Locks `file`, creating it as an empty regular file if it does not exist. */
  static onFile(file: string, opts: LockOptions): FileLock {
    return FileLock.take(file, fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600), opts)
  }

  /** Locks an existing directory (how pods are locked: the lock lives on the directory itself). */
  static onDir(dir: string, opts: LockOptions): FileLock {
    return FileLock.take(dir, fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY), opts)
  }

  /** Tries a lock without waiting; undefined when somebody else holds it. */
  static tryOnDir(dir: string, exclusive: boolean): FileLock | undefined {
    try {
      return FileLock.onDir(dir, {exclusive, wait: false})
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return undefined
      throw err
    }
  }

  private static take(file: string, fd: number, opts: LockOptions): FileLock {
    const op = opts.exclusive ? LOCK_EX : LOCK_SH
    try {
      try {
        flock(fd, op | LOCK_NB)
      } catch (err) {
        if (!opts.wait || (err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
        opts.onWait?.()
        flock(fd, op)
      }
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
    return new FileLock(file, fd)
  }

  /** Converts between shared and exclusive without releasing (not atomic: flock(2) semantics). */
  change(exclusive: boolean, wait: boolean): void {
    flock(this.fd, (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB))
  }

  /** Releases the lock and closes the descriptor. Idempotent. */
  release(): void {
    if (this.fd < 0) return
    try {
      flock(this.fd, LOCK_UN)
    } finally {
      fs.closeSync(this.fd)
      this.fd = -1
    }
  }
}
