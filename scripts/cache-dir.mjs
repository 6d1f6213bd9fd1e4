// The machine's cache of slow-to-make build and test artefacts (the guest kernel, the Debian-package test
// images): outside any checkout, so a fresh clone on the same machine (CI's) reuses them. RKT_TS_CACHE moves
// it. Entries are keyed by the hash of what they are made from, so clones at different commits share it.
import fs from 'node:fs/promises'
import path from 'node:path'

export function machineCacheDir() {
  return process.env.RKT_TS_CACHE || '/var/cache/rkt-ts'
}

/** Keeps the `keep` most recently made entries of a cache folder (other checkouts may still use them). */
export async function pruneCache(dir, keep) {
  const entries = []
  for (const name of await fs.readdir(dir)) {
    if (name.endsWith('.tmp') || name.endsWith('.lock')) continue
    entries.push({name, mtime: (await fs.stat(path.join(dir, name))).mtimeMs})
  }
  entries.sort((a, b) => b.mtime - a.mtime)
  for (const e of entries.slice(keep)) await fs.rm(path.join(dir, e.name), {recursive: true, force: true})
}
