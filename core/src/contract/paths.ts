// The pod directory, as stage0 and stage1 share it (docs/stage1.md "The pod directory"). Every path of the
// contract is built here and nowhere else. Names are rkt's, so an engine author who knows rkt feels at home.
import path from 'node:path'

/** Where the stage2 apps live inside the stage1 rootfs. */
export const STAGE2_DIR = 'opt/stage2'

/** Paths inside one pod directory. */
export class PodPaths {
  constructor(readonly root: string) {}

  /** The pod manifest (appc PodManifest JSON), written by stage0. */
  get manifest(): string {
    return path.join(this.root, 'pod')
  }
  /** Marker whose mtime is the pod's creation time. */
  get created(): string {
    return path.join(this.root, 'pod-created')
  }
  /** The pod's name (`--name`), when it has one: written by stage0, unique among the data directory's pods. */
  get podName(): string {
    return path.join(this.root, 'pod-name')
  }
  /** The stage1 image: `manifest` and `rootfs/`. */
  get stage1(): string {
    return path.join(this.root, 'stage1')
  }
  get stage1Manifest(): string {
    return path.join(this.stage1, 'manifest')
  }
  get stage1Rootfs(): string {
    return path.join(this.stage1, 'rootfs')
  }
  /** Tree store ID of the stage1 image (overlay mode). */
  get stage1TreeStoreId(): string {
    return path.join(this.root, 'stage1TreeStoreID')
  }
  /** Marker: the pod was prepared for overlayfs (absent with --no-overlay). */
  get overlayPrepared(): string {
    return path.join(this.root, 'overlay-prepared')
  }
  /** `--private-users`: the pod's uid range, `FIRST:COUNT` (chosen at prepare time; absent without the flag). */
  get privateUsersPrepared(): string {
    return path.join(this.root, 'private-users-prepared')
  }
  /** overlay/: the overlays' layers, the apps' written files among them. */
  get overlays(): string {
    return path.join(this.root, 'overlay')
  }
  /** overlay/<treeStoreID>/idmapped: the tree seen owned by the pod's uid range, the overlays' lower layer. */
  idmappedTree(treeStoreId: string): string {
    return path.join(this.root, 'overlay', treeStoreId, 'idmapped')
  }
  /** overlay/<treeStoreID>/{upper,work}[/<app>]: upper and work directories of the pod's overlay mounts. */
  overlay(treeStoreId: string, kind: 'upper' | 'work', app?: string): string {
    return path.join(this.root, 'overlay', treeStoreId, kind, ...(app ? [app] : []))
  }
  /** appsinfo/<app>/{manifest,treeStoreID}: stage0's record of each app's image. */
  appInfo(app: string): string {
    return path.join(this.root, 'appsinfo', app)
  }
  appInfoManifest(app: string): string {
    return path.join(this.appInfo(app), 'manifest')
  }
  appTreeStoreId(app: string): string {
    return path.join(this.appInfo(app), 'treeStoreID')
  }
  /**
   * appsinfo/<app>/engineCache: the absolute path of the directory stage0 gives the engine for what it makes
   * once per image and keeps (kvm's base disk): one per image ID in the data directory, created by stage0,
   * removed with the image (`rkt image rm`, `image gc`). Engines put their files in a subdirectory named after
   * themselves and make each entry atomically: several pods may make one at the same time.
   */
  appEngineCache(app: string): string {
    return path.join(this.appInfo(app), 'engineCache')
  }
  /** stage1/rootfs/opt/stage2: one directory per app. */
  get stage2(): string {
    return path.join(this.stage1Rootfs, STAGE2_DIR)
  }
  /** stage1/rootfs/opt/stage2/<app>: the app's image manifest and rootfs. */
  app(app: string): string {
    return path.join(this.stage2, app)
  }
  appManifest(app: string): string {
    return path.join(this.app(app), 'manifest')
  }
  appRootfs(app: string): string {
    return path.join(this.app(app), 'rootfs')
  }
  /** stage1/rootfs/rkt: the engine's own files inside the stage1 rootfs (statuses, pids, configuration). */
  get rktDir(): string {
    return path.join(this.stage1Rootfs, 'rkt')
  }
  /** stage1/rootfs/rkt/status: exit statuses of the apps (decimal text), written by stage1. */
  get statusDir(): string {
    return path.join(this.rktDir, 'status')
  }
  appStatus(app: string): string {
    return path.join(this.statusDir, app)
  }
  appCreated(app: string): string {
    return path.join(this.statusDir, `${app}-created`)
  }
  appStarted(app: string): string {
    return path.join(this.statusDir, `${app}-started`)
  }
  /**
   * Present (empty) when the apps die with the stage1's supervisor (nspawn's and kvm's write it): an app of an
   * exited pod that started and has no status was then killed with the pod.
   */
  get appsDieWithSupervisor(): string {
    return path.join(this.statusDir, '.apps-die-with-supervisor')
  }
  /** Present (empty) when the app's cgroup recorded an OOM kill (nspawn's supervisor writes it). */
  appOom(app: string): string {
    return path.join(this.statusDir, `${app}.oom`)
  }
  /** stage1/rootfs/rkt/pids/<app>: the PID enter joins for the app (nspawn: inside the pod's PID namespace; bwrap: on the host). */
  appPid(app: string): string {
    return path.join(this.pidsDir, app)
  }
  get pidsDir(): string {
    return path.join(this.rktDir, 'pids')
  }
  /** stage1/rootfs/rkt/logs/<app>.log: the app's stdout and stderr in the CRI format (contract/logs.ts). */
  appLog(app: string): string {
    return path.join(this.logsDir, `${app}.log`)
  }
  get logsDir(): string {
    return path.join(this.rktDir, 'logs')
  }
  /** stage1/rootfs/rkt/attach/<app>: the app's attach endpoints (unix sockets stdin, stdout, stderr; `endpoints`). */
  appAttach(app: string): string {
    return path.join(this.attachDir, app)
  }
  get attachDir(): string {
    return path.join(this.rktDir, 'attach')
  }
  /** stage1/rootfs/rkt/env/<app>: the app's environment, one NAME=value per line. */
  appEnv(app: string): string {
    return path.join(this.rktDir, 'env', app)
  }
  /** Symlink to `ready` once the pod supervisor is up (status --wait-ready). */
  get supervisorStatus(): string {
    return path.join(this.rktDir, 'supervisor-status')
  }
  /** nspawn, kvm: the configuration of the pod's supervisor (stage1-supervisor/README.md). */
  get supervisorConf(): string {
    return path.join(this.rktDir, 'supervisor.conf')
  }
  /** A mutable pod's supervisor.d/<app>.conf: an added app's configuration (stage1-supervisor/README.md). */
  addedAppConf(app: string): string {
    return path.join(this.addedAppsDir, `${app}.conf`)
  }
  get addedAppsDir(): string {
    return path.join(this.rktDir, 'supervisor.d')
  }
  /** A mutable pod's control socket, by its name in rktDir (a pod's full path may not fit in sun_path). */
  static readonly CONTROL_SOCKET = 'control.sock'
  /** A mutable pod's lock for changing its apps (rkt's pod.lck): add and rm hold it exclusively. */
  get appsLock(): string {
    return path.join(this.root, 'pod.lck')
  }
  /** The pod's hostname (rkt writes it whole, without a newline), bound on each app's /etc/hostname. */
  get hostname(): string {
    return path.join(this.stage1Rootfs, 'etc', 'hostname')
  }
  /** The stage1's own /etc/hosts for apps without one, and the base of a stage0 `rkt-hosts` (rkt's name). */
  get hostsFallback(): string {
    return path.join(this.stage1Rootfs, 'etc', 'hosts-fallback')
  }
  /** DNS files generated by stage0 (--dns*, --hosts-entry) or by networking. */
  get resolvConf(): string {
    return path.join(this.stage1Rootfs, 'etc', 'rkt-resolv.conf')
  }
  get hosts(): string {
    return path.join(this.stage1Rootfs, 'etc', 'rkt-hosts')
  }
  /** Backing directories of `empty` volumes. */
  get sharedVolumes(): string {
    return path.join(this.root, 'sharedVolumes')
  }
  sharedVolume(volume: string): string {
    return path.join(this.sharedVolumes, volume)
  }
  /** Runtime parameters saved by the run entrypoint for the later ones (rkt's RuntimePod JSON). */
  get runtimeConfig(): string {
    return path.join(this.root, 'runtime-config')
  }
  /** The process `rkt enter` joins (pid) or whose single child it joins (ppid), written by stage1. */
  get pid(): string {
    return path.join(this.root, 'pid')
  }
  get ppid(): string {
    return path.join(this.root, 'ppid')
  }
  /** nspawn: the pod's cgroup directories, one absolute path per line, for stop and gc. */
  get cgroups(): string {
    return path.join(this.root, 'cgroups')
  }
  /** fly: the process group of the pod, for stop. */
  get pgid(): string {
    return path.join(this.root, 'pgid')
  }
  /** Path of the pod's network namespace (contained networking). */
  get netns(): string {
    return path.join(this.root, 'netns')
  }
  /** Per-network results shown by list and status. */
  get netInfo(): string {
    return path.join(this.root, 'net-info.json')
  }
  /**
   * What gc needs to undo the pod's networks: each network's exact chain, arguments and ADD result. Its format
   * is the engine's; its presence is the contract: written before the first network is set up and removed once
   * the last is torn down, so stage0 knows an exited pod still holds networks (and forwarded host ports).
   */
  get netState(): string {
    return path.join(this.root, 'net-state.json')
  }
}
