// The registration side of the metadata service (docs/metadata-service.md): what a stage0 or a stage1
// calls, as root, to tell `rkt metadata-service` about a pod. JSON over HTTP/1.1 on a unix socket that only
// root can reach; the service answers a registration with the pod's token, which the apps then reach
// through AC_METADATA_URL.
import fs from 'node:fs'
import path from 'node:path'

import type {PodPaths} from '../contract/paths.js'

import {RktError, wrap} from '../errors.js'
import {parsePodManifest} from '../schema/pod-manifest.js'

/** Where `rkt metadata-service` listens for registrations unless told otherwise (rkt's path). */
export const MDS_SOCKET = '/run/rkt/metadata-svc.sock'
/** The TCP port apps reach the service on unless told otherwise (rkt's common.MetadataServicePort). */
export const MDS_PORT = 18112
/** The registration protocol's version, the first segment of every registration path. */
export const MDS_PROTOCOL = 'v1'

/** A registration: the pod, its manifest as written in the pod, and each app's image manifest. */
export interface PodRegistration {
  readonly uuid: string
  /** The pod manifest's JSON text, served byte for byte (appc: annotations exactly as in the manifest). */
  readonly manifest: string
  /** Image manifest JSON text by pod app name; every app of the pod should be given. */
  readonly apps?: Readonly<Record<string, string>>
  /** The registration socket; MDS_SOCKET by default. */
  readonly socketPath?: string | undefined
}

interface Reply {
  readonly status: number
  readonly body: string
}

function call(socketPath: string, method: string, urlPath: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  // Loaded on use (as fetch/discovery.ts does): stage0's run and gc import this module, node:http cannot be
  // in the CLIs' V8 startup snapshot, and a snapshotted CLI has no dynamic import().
  const http = process.getBuiltinModule('node:http')
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: `/${MDS_PROTOCOL}${urlPath}`,
        headers: payload === undefined ? {} : {'content-type': 'application/json'},
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
        res.on('error', reject)
      },
    )
    req.on('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? 'start it with `rkt metadata-service` (as root), or give the socket it listens on'
          : err.code === 'EACCES'
            ? 'registering with the metadata service needs root'
            : undefined
      reject(new RktError(`cannot reach the metadata service at ${socketPath}: ${err.message}`, {cause: err, hint}))
    })
    req.end(payload)
  })
}

function failure(what: string, reply: Reply): RktError {
  let message = reply.body
  try {
    message = (JSON.parse(reply.body) as {error?: string}).error ?? reply.body
  } catch {
    // Not JSON: the text itself is the message.
  }
  return new RktError(`the metadata service refused to ${what} (HTTP ${reply.status}): ${message}`)
}

/**
 * Registers a pod and its apps; returns the pod's token (the secret part of AC_METADATA_URL). If an app
 * cannot be registered the pod is unregistered again, so a failed registration leaves nothing behind.
 */
export async function registerPod(reg: PodRegistration): Promise<string> {
  const socketPath = reg.socketPath ?? MDS_SOCKET
  const reply = await call(socketPath, 'PUT', `/pods/${encodeURIComponent(reg.uuid)}`, {manifest: reg.manifest})
  if (reply.status !== 201) throw failure(`register pod ${reg.uuid}`, reply)
  const token = (JSON.parse(reply.body) as {token?: unknown}).token
  if (typeof token !== 'string') throw new RktError('the metadata service answered a registration without a token')
  try {
    for (const [app, manifest] of Object.entries(reg.apps ?? {})) {
      await registerApp({uuid: reg.uuid, app, imageManifest: manifest, socketPath})
    }
  } catch (err) {
    await unregisterPod({uuid: reg.uuid, socketPath}).catch(() => {})
    throw err
  }
  return token
}

/** Registers (or replaces) the image manifest of one app of a registered pod. */
export async function registerApp(reg: {
  readonly uuid: string
  readonly app: string
  readonly imageManifest: string
  readonly socketPath?: string | undefined
}): Promise<void> {
  const reply = await call(
    reg.socketPath ?? MDS_SOCKET,
    'PUT',
    `/pods/${encodeURIComponent(reg.uuid)}/apps/${encodeURIComponent(reg.app)}`,
    {imageManifest: reg.imageManifest},
  )
  if (reply.status !== 204) throw failure(`register app ${reg.app} of pod ${reg.uuid}`, reply)
}

/** Forgets a pod: its token stops working at once. Unregistering an unknown pod is not an error (gc retries). */
export async function unregisterPod(reg: {
  readonly uuid: string
  readonly socketPath?: string | undefined
}): Promise<void> {
  const reply = await call(reg.socketPath ?? MDS_SOCKET, 'DELETE', `/pods/${encodeURIComponent(reg.uuid)}`)
  if (reply.status !== 204 && reply.status !== 404) throw failure(`unregister pod ${reg.uuid}`, reply)
}

/** AC_METADATA_URL for a pod: the host's address as the pod sees it, the service's port, the pod's token. */
export function metadataUrl(hostIp: string, token: string, port: number = MDS_PORT): string {
  const host = hostIp.includes(':') ? `[${hostIp}]` : hostIp
  return `http://${host}:${port}/${token}`
}

/**
 * The pod directory's marker that stage0 registered the pod (rkt's `mds-registered`): gc unregisters the
 * pods that have it. Written before the registration, so a crash between the two still gets the pod
 * unregistered (unregistering an unknown pod is not an error).
 */
export const MDS_REGISTERED_FILE = 'mds-registered'

/** Registers a laid-out pod (`rkt run --mds-register`): its manifest and every app's image manifest. */
export async function registerPodDir(uuid: string, paths: PodPaths, socketPath?: string): Promise<string> {
  const manifest = fs.readFileSync(paths.manifest, 'utf8')
  const apps: Record<string, string> = {}
  for (const app of parsePodManifest(manifest).manifest.apps) {
    apps[app.name] = fs.readFileSync(paths.appInfoManifest(app.name), 'utf8')
  }
  fs.writeFileSync(path.join(paths.root, MDS_REGISTERED_FILE), '')
  try {
    return await registerPod({uuid, manifest, apps, socketPath})
  } catch (err) {
    throw wrap(`cannot register pod ${uuid} with the metadata service (--mds-register)`, err)
  }
}

/** Unregisters a pod stage0 registered, if it did; the marker goes once the service has forgotten it. */
export async function unregisterPodDir(uuid: string, paths: PodPaths, socketPath?: string): Promise<void> {
  const marker = path.join(paths.root, MDS_REGISTERED_FILE)
  if (!fs.existsSync(marker)) return
  await unregisterPod({uuid, socketPath})
  fs.rmSync(marker, {force: true})
}
