// The support vocabulary, version 1: the behaviours a stage1 image may claim in its manifest annotation
// SUPPORTS_ANNOTATION (comma-separated IDs). The required ones are claimed by every engine; an image without
// the annotation claims nothing, and the suite fails it on the required set.

/** The image manifest annotation that lists the behaviours a stage1 claims (version 1 of the vocabulary). */
export const SUPPORTS_ANNOTATION = 'rkt-ts/stage1/supports/v1'

/** One behaviour of the vocabulary. */
export interface Behaviour {
  readonly id: string
  readonly required: boolean
  readonly summary: string
}

const required = (id: string, summary: string): Behaviour => ({id, required: true, summary})
const optional = (id: string, summary: string): Behaviour => ({id, required: false, summary})

/** Every behaviour, in report order. */
export const BEHAVIOURS: readonly Behaviour[] = [
  required('exit-codes', 'app exit 0 / N / killed by signal S -> 128+S, as rkt run’s exit code and in rkt status'),
  required('status', 'rkt status / rkt list states, pid, app-NAME=code, --format=json; the pod’s pid and status files'),
  required(
    'env',
    'image env, --set-env, --set-env-file, AC_APP_NAME, AC_METADATA_URL with --mds-register, PATH default',
  ),
  required('user-group', 'user and group by id and by name, supplementary gids, working directory'),
  required('volumes', 'host and empty volumes, read-only (enforced) and read-write, content visible both ways'),
  required('event-handlers', 'pre-start (as root, in the app’s root) before the app, post-stop after it'),
  required('stop', 'rkt stop -> the app dies of SIGTERM (143); rkt stop --force -> 137'),
  required(
    'enter',
    'rkt enter: the command’s exit code, the app’s env, the caller’s TERM, the app’s working directory',
  ),
  required('gc-clean', 'after rkt gc: no mount, cgroup, network namespace, iptables rule or process of the pods left'),
  optional('volumes-mountpoint', 'host and empty volumes are mount points in the app, targets under /tmp included'),
  optional('limits', '--memory and --cpu visible to the app in its cgroup files'),
  optional('multi-app', 'several apps in one pod, sharing an empty volume'),
  optional('etc-files', '--hostname, --hosts-entry and --dns in the app’s hostname, /etc/hosts and /etc/resolv.conf'),
  optional('metadata-service', 'the app reads its pod’s UUID from AC_METADATA_URL'),
  optional('interactive', '--interactive gives the app the terminal'),
  optional('sibling-exit', 'an app stopped because its sibling failed reports 0'),
  optional(
    'notify',
    'an image annotated supports-systemd-notify gets NOTIFY_SOCKET, a socket in its root; others do not',
  ),
  optional(
    'socket-activation',
    'the sockets of systemd-socket-activate reach the app: fd 3, LISTEN_FDS=1, LISTEN_PID its own',
  ),
  optional('private-network', '--net=default: the app has a network namespace of its own, with an address'),
  optional(
    'mutable-pods',
    'rkt app sandbox: apps added, started, stopped and removed in the running pod, the others running on; app list/status',
  ),
  optional('logs', 'an exited pod’s stdout and stderr through rkt logs, and on rkt run’s own stdout and stderr'),
]

/** The IDs of the behaviours every engine must claim. */
export const REQUIRED: readonly string[] = BEHAVIOURS.filter((b) => b.required).map((b) => b.id)

/** The behaviour IDs an annotation value lists (empty entries and spaces ignored). */
export function parseClaims(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}
