// The attach entrypoint (rkt's argv, docs/stage1.md "attach"): the app's attach endpoints are unix sockets in the
// pod's stage1 rootfs, which the host reaches directly.
import {attachApp, entrypoint, parseAttachArgv, PodPaths} from '@rkt/core/stage1'

export const main = entrypoint('attach', import.meta.url, (argv) =>
  attachApp(new PodPaths(process.cwd()), parseAttachArgv(argv)),
)
