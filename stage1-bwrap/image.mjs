// The bwrap stage1's image: its entrypoints and app-exec (native/app-exec.c, built static into dist/).
export default {
  name: 'bwrap',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop'],
  helpers: [['dist/app-exec', 'app-exec']],
  // Required set, plus real mount points for volumes (bound on the host) and several apps per pod. Not claimed:
  // limits (no cgroupfs in the sandbox), etc-files, metadata-service, interactive, private-network.
  supports: [
    ...['exit-codes', 'status', 'env', 'user-group', 'volumes', 'event-handlers', 'stop', 'enter', 'gc-clean'],
    ...['volumes-mountpoint', 'multi-app', 'sibling-exit'],
  ],
}
