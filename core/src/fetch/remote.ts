// Fetch of an image URL (http/https): the pull policy and the remote cache decide
// whether to ask the server at all; a changed or new image is downloaded (resuming a partial download when
// the server's ETag still matches), then its signature, and both go through the local-file import, so a
// remote image is checked exactly as a local one. The downloads are deleted whatever happens, except a
// partial image kept for the next attempt to resume.
import fs from 'node:fs'

import type {ImageRecord} from '../store/index-file.js'
import type {ImageStore} from '../store/image-store.js'
import type {FileFetchOptions} from './file.js'
import type {HttpClient} from '../http/client.js'

import {RktError, wrap} from '../errors.js'
import {parseMaxAge, Remotes} from '../store/remotes.js'
import {FileLock} from '../sys/lock.js'
import {fetchFile} from './file.js'
import {notInStore} from './lookup.js'

export type PullPolicy = 'new' | 'update' | 'never'

export interface RemoteFetchOptions extends Omit<FileFetchOptions, 'trusted' | 'onProgress'> {
  readonly http: HttpClient
  readonly pullPolicy: PullPolicy
  /** Signature URL; default: signatureUrlOf(url). A local `signature` file, when given, wins. */
  readonly signatureUrl?: string | undefined
  /** Download progress: bytes so far, total (0 when the server does not say). */
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}

/** Where rkt looks for the signature of an image URL. */
export function signatureUrlOf(url: string): string {
  const u = new URL(url)
  u.pathname = u.pathname.endsWith('.aci') ? `${u.pathname}.asc` : `${u.pathname}.aci.asc`
  return u.href
}

/** Fetches one image URL into the store under the pull policy; returns its record. */
export async function fetchRemoteAci(store: ImageStore, url: string, opts: RemoteFetchOptions): Promise<ImageRecord> {
  const remotes = new Remotes(store.layout)
  const known = remotes.get(url)
  const cached = known && store.get(known.key)
  if (cached && (opts.pullPolicy !== 'update' || Remotes.fresh(known))) return cached
  if (opts.pullPolicy === 'never') throw notInStore(url)

  const part = store.layout.download(url)
  // Its own directory, never deleted: removing a lock file while another process waits on it would let a
  // third take a fresh one, and two would write the same partial file.
  const lock = FileLock.onFile(store.layout.downloadLock(url), {exclusive: true, wait: true})
  const sigFile = `${part}.asc`
  let downloaded = ''
  try {
    const got = await download(opts.http, url, part, {ifNoneMatch: cached ? known.etag : undefined}, opts.onProgress)
    if (got.notModified) {
      remotes.put({...known!, maxAge: got.maxAge, checked: Date.now()})
      opts.onInfo?.(`${url}: not modified, using the stored image`)
      return cached!
    }
    downloaded = got.file
    const remoteSig = !opts.globals.insecure.has('image') && opts.signature === undefined
    if (remoteSig) await downloadSignature(opts.http, opts.signatureUrl ?? signatureUrlOf(url), sigFile)
    const {record} = await fetchFile(store, got.file, {...opts, signature: remoteSig ? sigFile : opts.signature})
    remotes.put({url, key: record.key, etag: got.etag, maxAge: got.maxAge, checked: Date.now()})
    return record
  } finally {
    if (downloaded) fs.rmSync(downloaded, {force: true})
    fs.rmSync(sigFile, {force: true})
    lock.release()
  }
}

interface Downloaded {
  readonly notModified: boolean
  readonly file: string
  readonly etag?: string | undefined
  readonly maxAge?: number | undefined
}

/**
 * Downloads `url` to `<part>.done`. A previous attempt's `<part>` (with its ETag in `<part>.etag`) is
 * resumed with Range + If-Range: the server sends only the rest when the ETag still matches, the whole
 * image otherwise. With `ifNoneMatch`, a 304 means the stored image is current.
 */
async function download(
  http: HttpClient,
  url: string,
  part: string,
  cond: {ifNoneMatch?: string | undefined},
  onProgress?: (done: number, total: number) => void,
): Promise<Downloaded> {
  const etagFile = `${part}.etag`
  let offset: number
  let partEtag: string | undefined
  try {
    partEtag = fs.readFileSync(etagFile, 'utf8')
    offset = fs.statSync(part).size
  } catch {
    offset = 0
    partEtag = undefined
  }
  const headers: Record<string, string> = {}
  if (cond.ifNoneMatch) headers['if-none-match'] = cond.ifNoneMatch
  if (offset > 0 && partEtag) {
    headers['range'] = `bytes=${offset}-`
    headers['if-range'] = partEtag
  }
  const res = await http.request(url, {headers})
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined
  const maxAge = parseMaxAge(res.headers['cache-control'])
  if (res.status === 304 && cond.ifNoneMatch) {
    res.discard()
    return {notModified: true, file: '', etag, maxAge}
  }
  if (res.status !== 200 && res.status !== 206) {
    res.discard()
    throw new RktError(`${res.url.href}: the server answered ${res.status}`, {
      code: res.status === 404 ? 'ENOIMAGE' : 'EHTTP',
      hint:
        res.status === 401 || res.status === 403
          ? 'add credentials for this domain in auth.d (see rkt config)'
          : undefined,
    })
  }
  const resumed = res.status === 206 && offset > 0 && /^bytes \d+-/.test(String(res.headers['content-range']))
  if (resumed && Number(/^bytes (\d+)-/.exec(String(res.headers['content-range']))![1]) !== offset) {
    res.discard()
    fs.rmSync(part, {force: true})
    throw new RktError(`${url}: the server resumed at the wrong offset; retry the fetch`, {code: 'EHTTP'})
  }
  if (!resumed) offset = 0
  // Only a download with an ETag can be resumed safely (If-Range needs a validator).
  if (etag) fs.writeFileSync(etagFile, etag)
  else fs.rmSync(etagFile, {force: true})
  const length = Number(res.headers['content-length'] ?? 0)
  const total = length > 0 ? offset + length : 0
  const out = fs.openSync(part, resumed ? 'a' : 'w', 0o600)
  let done = offset
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      let off = 0
      while (off < chunk.length) off += fs.writeSync(out, chunk, off)
      done += chunk.length
      onProgress?.(done, total)
    }
    fs.fsyncSync(out)
  } catch (err) {
    throw wrap(`the download of ${url} broke off after ${done} bytes`, err, {
      hint: etag ? 'run the fetch again: it resumes where it stopped' : 'run the fetch again',
    })
  } finally {
    fs.closeSync(out)
  }
  if (total > 0 && done !== total) {
    throw new RktError(`the download of ${url} ended after ${done} of ${total} bytes`, {
      code: 'EHTTP',
      hint: 'run the fetch again: it resumes where it stopped',
    })
  }
  const file = `${part}.done`
  fs.renameSync(part, file)
  fs.rmSync(etagFile, {force: true})
  return {notModified: false, file, etag, maxAge}
}

async function downloadSignature(http: HttpClient, url: string, file: string): Promise<void> {
  const res = await http.request(url)
  if (res.status !== 200) {
    res.discard()
    throw new RktError(`no signature for the image at ${url} (the server answered ${res.status})`, {
      code: 'ENOSIG',
      hint:
        'give the signature URL with --signature, or, if you trust this image without one, ' +
        'skip the check with --insecure-options=image',
    })
  }
  fs.writeFileSync(file, await res.text(1 << 20), {mode: 0o600})
}
