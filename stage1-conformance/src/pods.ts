// The suite's pods. Each pod serves several behaviours at once (a kvm pod boots a VM: seconds each), and its
// app reports what it sees as `@KEY=value` lines on stdout, which the host compares with what it asked for.
import fs from 'node:fs'
import path from 'node:path'

import {bashLine, run} from './cli.js'
import {PROBE_USER, PROBE_WORKDIR} from './fixtures.js'
import {reported, type Session} from './session.js'

/** A pod of the suite: the behaviours it checks, and how. `on(id)`: the behaviour is being checked. */
export interface Scenario {
  readonly name: string
  readonly behaviours: readonly string[]
  run(s: Session, on: (id: string) => boolean): Promise<void>
}

const PLAIN = 'conformance.rkt-ts/plain'
const PROBE = 'conformance.rkt-ts/probe'
/** rkt's PATH for apps whose image sets none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** App flags running a shell script as the app's program. */
const sh = (script: string): string[] => ['--exec=/bin/sh', '--', '-c', script, '---']

/** The app's own cgroup file of a controller (v1: the controller's hierarchy; v2: the unified one). */
const CGROUP_FILE = [
  'cg() {',
  '  p=$(awk -F: -v c="$1" \'{n=split($2,a,","); for(i=1;i<=n;i++) if(a[i]==c) print $3}\' /proc/self/cgroup | head -n1)',
  '  u=$(awk -F: \'$1=="0" && $2=="" {print $3}\' /proc/self/cgroup | head -n1)',
  '  for f in "/sys/fs/cgroup/$1$p/$2" "/sys/fs/cgroup/$1/$2" "/sys/fs/cgroup$u/$3" "/sys/fs/cgroup/$3"; do',
  '    if [ -r "$f" ]; then cat "$f"; return; fi',
  '  done',
  '  echo none',
  '}',
].join('\n')

const VOLUME_TARGETS = ['/vol/ro', '/vol/rw', '/vol/empty', '/tmp/vol']

const PROBE_SCRIPT = [
  'echo "@uid=$(id -u)"; echo "@gid=$(id -g)"; echo "@groups=$(id -G)"; echo "@cwd=$(pwd)"',
  'for v in IMG_VAR SET_VAR FILE_VAR AC_APP_NAME AC_METADATA_URL PATH; do eval "echo \\"@$v=\\$$v\\""; done',
  'echo "@pre-start=$(cat /handlers/pre-start 2>&1)"',
  'echo "@ro-read=$(cat /vol/ro/from-host 2>&1)"',
  'if (echo x > /vol/ro/denied) 2>/dev/null; then echo @ro-write=allowed; else echo @ro-write=refused; fi',
  'echo "@rw-read=$(cat /vol/rw/from-host 2>&1)"; echo from-app > /vol/rw/from-app',
  'echo "@tmp-read=$(cat /tmp/vol/from-host 2>&1)"; echo from-app > /tmp/vol/from-app',
  'echo from-empty > /vol/empty/f; echo "@empty=$(cat /vol/empty/f 2>&1)"',
  `for t in ${VOLUME_TARGETS.join(' ')}; do`,
  '  if grep -q "^[^ ]* [^ ]* [^ ]* [^ ]* $t " /proc/self/mountinfo; then echo "@mount:$t=yes"; else echo "@mount:$t=no"; fi',
  'done',
  CGROUP_FILE,
  'echo "@memory=$(cg memory memory.limit_in_bytes memory.max)"',
  'echo "@cpu-quota=$(cg cpu cpu.cfs_quota_us cpu.max)"; echo "@cpu-period=$(cg cpu cpu.cfs_period_us cpu.max)"',
  'echo done > /vol/rw/app-done',
  'exit 7',
].join('\n')

/** Checks `rkt status` of an exited pod: its state and the app's exit code (and the contract's status file). */
async function exitedStatus(s: Session, b: string, uuid: string, app: string, code: number): Promise<void> {
  const st = await s.rkt(['status', uuid])
  s.expect(b, 'rkt status: state', 'state=exited', /^state=.*$/m.exec(st.stdout)?.[0] ?? st.stderr.trim())
  s.expect(b, `rkt status: app-${app}`, `app-${app}=${code}`, new RegExp(`^app-${app}=.*$`, 'm').exec(st.stdout)?.[0])
  if (b !== 'status') return
  s.expect(b, 'rkt status: exited', 'exited=true', /^exited=.*$/m.exec(st.stdout)?.[0])
  const json = await s.rkt(['status', '--format=json', uuid])
  let app0: {exit_code?: number; state?: string} | undefined
  try {
    app0 = (JSON.parse(json.stdout) as {apps?: {name: string; exit_code?: number; state?: string}[]}).apps?.find(
      (a) => a.name === app,
    )
  } catch {
    // reported as seen below
  }
  s.expect(b, 'rkt status --format=json: exit_code', String(code), String(app0?.exit_code ?? json.stdout + json.stderr))
  const dir = s.podDir(uuid)
  const file = dir === undefined ? undefined : path.join(dir, 'stage1', 'rootfs', 'rkt', 'status', app)
  s.expect(
    b,
    'status file rkt/status/APP',
    String(code),
    file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined,
  )
}

/** One app with everything a single pod can show: credentials, env, volumes, handlers, limits; exits 7. */
const probe: Scenario = {
  name: 'probe',
  behaviours: [
    'exit-codes',
    'status',
    'env',
    'user-group',
    'volumes',
    'event-handlers',
    'volumes-mountpoint',
    'limits',
  ],
  async run(s, on) {
    const host = path.join(s.hostDir, 'probe')
    for (const v of ['ro', 'rw', 'tmp']) {
      fs.mkdirSync(path.join(host, v), {recursive: true})
      fs.chmodSync(path.join(host, v), 0o777) // the app is not root
      fs.writeFileSync(path.join(host, v, 'from-host'), `host-${v}`)
    }
    const envFile = path.join(host, 'env-file')
    fs.writeFileSync(envFile, 'FILE_VAR=from-env-file\n')
    const r = await s.runPod([
      '--mds-register',
      '--set-env=SET_VAR=from-set-env',
      `--set-env-file=${envFile}`,
      `--volume=ro,kind=host,source=${host}/ro,readOnly=true`,
      `--volume=rw,kind=host,source=${host}/rw`,
      `--volume=tmpvol,kind=host,source=${host}/tmp`,
      '--volume=empty,kind=empty,mode=0777',
      '--mount=volume=ro,target=/vol/ro',
      '--mount=volume=rw,target=/vol/rw',
      '--mount=volume=empty,target=/vol/empty',
      '--mount=volume=tmpvol,target=/tmp/vol',
      PROBE,
      '--name=probe',
      ...(on('limits') ? ['--memory=64M', '--cpu=250m'] : []),
      ...sh(PROBE_SCRIPT),
    ])
    const seen = reported(r.stdout)
    if (seen.size === 0)
      return s.cannot(this.behaviours, 'the probe pod', `rkt run exited ${r.code}: ${r.stderr.trim()}`)
    s.expect('exit-codes', 'rkt run exit code (app exits 7)', '7', String(r.code))
    await exitedStatus(s, 'exit-codes', r.uuid, 'probe', 7)
    await exitedStatus(s, 'status', r.uuid, 'probe', 7)

    s.expect('env', 'image environment', 'from-image', seen.get('IMG_VAR'))
    s.expect('env', '--set-env', 'from-set-env', seen.get('SET_VAR'))
    s.expect('env', '--set-env-file', 'from-env-file', seen.get('FILE_VAR'))
    s.expect('env', 'AC_APP_NAME', 'probe', seen.get('AC_APP_NAME'))
    s.expect(
      'env',
      'AC_METADATA_URL (--mds-register)',
      /^http:\/\/[^/]+:\d+\/[0-9a-f]{64}$/,
      seen.get('AC_METADATA_URL'),
    )
    s.expect('env', 'PATH default', DEFAULT_PATH, seen.get('PATH'))

    const u = PROBE_USER
    s.expect('user-group', 'user by name', String(u.uid), seen.get('uid'))
    s.expect('user-group', 'group by name', String(u.gid), seen.get('gid'))
    s.expect('user-group', 'supplementary gids', [u.gid, ...u.supplementary].join(' '), seen.get('groups'))
    s.expect('user-group', 'working directory', PROBE_WORKDIR, seen.get('cwd'))

    const hostFile = (p: string): string | undefined =>
      fs.existsSync(path.join(host, p)) ? fs.readFileSync(path.join(host, p), 'utf8').trim() : undefined
    s.expect('volumes', 'host volume read-only: host content', 'host-ro', seen.get('ro-read'))
    s.expect('volumes', 'host volume read-only: write refused', 'refused', seen.get('ro-write'))
    s.expect('volumes', 'host volume read-only: nothing written on the host', '(nothing)', hostFile('ro/denied'))
    s.expect('volumes', 'host volume read-write: host content', 'host-rw', seen.get('rw-read'))
    s.expect('volumes', 'host volume read-write: the app’s file on the host', 'from-app', hostFile('rw/from-app'))
    s.expect('volumes', 'empty volume read-write', 'from-empty', seen.get('empty'))

    for (const t of VOLUME_TARGETS)
      s.expect('volumes-mountpoint', `${t} is a mount point`, 'yes', seen.get(`mount:${t}`))
    s.expect('volumes-mountpoint', 'host volume at /tmp/vol: host content', 'host-tmp', seen.get('tmp-read'))
    s.expect(
      'volumes-mountpoint',
      'host volume at /tmp/vol: the app’s file on the host',
      'from-app',
      hostFile('tmp/from-app'),
    )

    s.expect('event-handlers', 'pre-start ran as root in the app’s root before the app', '0', seen.get('pre-start'))
    s.expect('event-handlers', 'post-stop ran as root after the app', '0 done', hostFile('rw/post-stop-ran'))

    s.expect('limits', '--memory=64M: memory limit (appc quantities: M is 10^6)', '64000000', seen.get('memory'))
    const quota = Number(/^\d+/.exec(seen.get('cpu-quota') ?? '')?.[0])
    const period = Number(/\d+$/.exec(seen.get('cpu-period') ?? '')?.[0])
    const cpu = `${seen.get('cpu-quota')} / ${seen.get('cpu-period')}`
    s.expect('limits', '--cpu=250m: quota / period', '0.25 of a CPU', quota / period === 0.25 ? '0.25 of a CPU' : cpu)
  },
}

/** Numeric credentials, exit 0, and the pod-wide options the image claims (etc files, network, metadata). */
const options: Scenario = {
  name: 'options',
  behaviours: ['exit-codes', 'user-group', 'etc-files', 'private-network', 'metadata-service'],
  async run(s, on) {
    const script = [
      'echo "@uid=$(id -u)"; echo "@gid=$(id -g)"',
      'echo "@hostname=$(hostname)"',
      'echo "@hosts=$(grep conformance-alias /etc/hosts | tr -s " \\t" " ")"',
      'echo "@resolv=$(grep nameserver /etc/resolv.conf | tr "\\n" " ")"',
      'echo "@netns=$(readlink /proc/self/ns/net)"',
      'echo "@addr=$(ip -o -4 addr show | awk \'$2 != "lo" {print $4}\' | head -n1)"',
      'if [ -n "$AC_METADATA_URL" ]; then',
      '  echo "@mds-uuid=$(wget -q -O - --header "Metadata-Flavor: AppContainer" "$AC_METADATA_URL/acMetadata/v1/pod/uuid" 2>&1)"',
      'fi',
      'exit 0',
    ].join('\n')
    const r = await s.runPod([
      ...(on('etc-files')
        ? ['--hostname=conformance-host', '--hosts-entry=10.20.30.40=conformance-alias', '--dns=10.53.53.53']
        : []),
      // Without a network of its own, an engine that has one cannot reach the host's metadata service.
      ...(on('private-network') ? ['--net=default'] : []),
      ...(on('metadata-service') ? ['--mds-register'] : []),
      PLAIN,
      '--name=options',
      '--user=4321',
      '--group=4322',
      ...sh(script),
    ])
    const seen = reported(r.stdout)
    if (seen.size === 0)
      return s.cannot(this.behaviours, 'the options pod', `rkt run exited ${r.code}: ${r.stderr.trim()}`)
    s.expect('exit-codes', 'rkt run exit code (app exits 0)', '0', String(r.code))
    await exitedStatus(s, 'exit-codes', r.uuid, 'options', 0)
    s.expect('user-group', 'user by id', '4321', seen.get('uid'))
    s.expect('user-group', 'group by id', '4322', seen.get('gid'))
    s.expect('etc-files', '--hostname', 'conformance-host', seen.get('hostname'))
    s.expect('etc-files', '--hosts-entry in /etc/hosts', /^10\.20\.30\.40 .*conformance-alias/, seen.get('hosts'))
    s.expect('etc-files', '--dns in /etc/resolv.conf', /nameserver 10\.53\.53\.53/, seen.get('resolv'))
    const hostNs = fs.readlinkSync('/proc/self/ns/net')
    s.expect(
      'private-network',
      'a network namespace of its own',
      `not ${hostNs}`,
      seen.get('netns') === hostNs ? hostNs : `not ${hostNs}`,
    )
    s.expect('private-network', 'an IPv4 address', /^\d+\.\d+\.\d+\.\d+\/\d+$/, seen.get('addr'))
    s.expect('metadata-service', 'pod/uuid from AC_METADATA_URL', r.uuid, seen.get('mds-uuid'))
  },
}

/** An app that kills itself with SIGUSR2 (12): 140. */
const signal: Scenario = {
  name: 'signal',
  behaviours: ['exit-codes'],
  async run(s) {
    const r = await s.runPod([PLAIN, '--name=signal', ...sh('kill -USR2 $$; sleep 5; exit 99')])
    s.expect('exit-codes', 'rkt run exit code (app killed by SIGUSR2)', '140', String(r.code))
    if (r.uuid !== '') await exitedStatus(s, 'exit-codes', r.uuid, 'signal', 140)
  },
}

/** A running pod: its status and pid, enter, then rkt stop. */
const running: Scenario = {
  name: 'running',
  behaviours: ['status', 'enter', 'stop'],
  async run(s, on) {
    const pod = await s.startPod([
      PLAIN,
      '--name=runner',
      '--set-env=ENTER_VAR=from-pod',
      '--working-dir=/srv',
      ...sh('exec sleep 100000'),
    ])
    if ('failed' in pod) return s.cannot(this.behaviours, 'the running pod', pod.failed)
    const {uuid} = pod
    if (on('status')) {
      const st = await s.rkt(['status', uuid])
      s.expect(
        'status',
        'rkt status of a running pod: state',
        'state=running',
        /^state=.*$/m.exec(st.stdout)?.[0] ?? st.stderr.trim(),
      )
      const pid = /^pid=(\d+)$/m.exec(st.stdout)?.[1]
      s.expect(
        'status',
        'rkt status: pid= is a live process',
        'alive',
        pid && fs.existsSync(`/proc/${pid}`) ? 'alive' : `pid=${pid}`,
      )
      const dir = s.podDir(uuid) ?? ''
      const pidFile = ['pid', 'ppid'].find((f) => fs.existsSync(path.join(dir, f)))
      s.expect('status', 'pid or ppid file in the pod directory', /^p?pid$/, pidFile)
      const list = await s.rkt(['list', '--format=json'])
      let state: string | undefined
      try {
        state = (JSON.parse(list.stdout) as {name: string; state: string}[]).find((p) => p.name === uuid)?.state
      } catch {
        state = list.stdout + list.stderr
      }
      s.expect('status', 'rkt list --format=json: state', 'running', state)
    }
    if (on('enter')) {
      const five = await s.rkt(['enter', uuid, '/bin/sh', '-c', 'exit 5'])
      s.expect('enter', 'exit code of the command', '5', String(five.code))
      const e = await s.rkt(
        ['enter', uuid, '/bin/sh', '-c', 'echo "@ENTER_VAR=$ENTER_VAR"; echo "@TERM=$TERM"; echo "@cwd=$(pwd)"'],
        {env: {...process.env, TERM: 'conformance-term'}},
      )
      const seen = reported(e.stdout)
      s.expect('enter', 'the app’s environment', 'from-pod', seen.get('ENTER_VAR') ?? e.stderr.trim())
      s.expect('enter', 'the caller’s TERM', 'conformance-term', seen.get('TERM'))
      s.expect('enter', 'the app’s working directory', '/srv', seen.get('cwd'))
    }
    const stop = await s.rkt(['stop', uuid], {timeoutMs: 60_000})
    s.expect('stop', 'rkt stop exit code', '0', String(stop.code) + (stop.code === 0 ? '' : `: ${stop.stderr.trim()}`))
    const r = await pod.done
    s.expect('stop', 'rkt run exit code after rkt stop', '143', String(r.code))
    await exitedStatus(s, 'stop', uuid, 'runner', 143)
  },
}

/** rkt stop --force on an app that ignores SIGTERM: 137. */
const forced: Scenario = {
  name: 'forced',
  behaviours: ['stop'],
  async run(s) {
    const pod = await s.startPod([PLAIN, '--name=forced', ...sh('trap "" TERM; while :; do sleep 1; done')])
    if ('failed' in pod) return s.cannot(this.behaviours, 'the pod to stop --force', pod.failed)
    const stop = await s.rkt(['stop', '--force', pod.uuid], {timeoutMs: 60_000})
    s.expect(
      'stop',
      'rkt stop --force exit code',
      '0',
      String(stop.code) + (stop.code === 0 ? '' : `: ${stop.stderr.trim()}`),
    )
    s.expect('stop', 'rkt run exit code after rkt stop --force', '137', String((await pod.done).code))
    await exitedStatus(s, 'stop', pod.uuid, 'forced', 137)
  },
}

/** Two apps sharing an empty volume; the writer fails (3), which stops the reader. */
const multi: Scenario = {
  name: 'multi',
  behaviours: ['multi-app', 'sibling-exit'],
  async run(s) {
    const wait = (f: string): string => `i=0; while [ ! -f ${f} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done`
    const r = await s.runPod([
      '--volume=shared,kind=empty,mode=0777',
      '--mount=volume=shared,target=/shared',
      PLAIN,
      '--name=writer',
      ...sh(
        `echo conformance-token > /shared/token; ${wait('/shared/ack')}; echo "@writer-ack=$(cat /shared/ack)"; exit 3`,
      ),
      PLAIN,
      '--name=reader',
      ...sh(
        `${wait('/shared/token')}; echo "@reader-saw=$(cat /shared/token)"; echo ack > /shared/ack; exec sleep 100000`,
      ),
    ])
    const seen = reported(r.stdout)
    if (r.uuid === '')
      return s.cannot(this.behaviours, 'the two-app pod', `rkt run exited ${r.code}: ${r.stderr.trim()}`)
    s.expect(
      'multi-app',
      'the reader sees the writer’s file',
      'conformance-token',
      seen.get('reader-saw') ?? r.stderr.trim(),
    )
    s.expect('multi-app', 'the writer sees the reader’s file', 'ack', seen.get('writer-ack'))
    s.expect('multi-app', 'rkt run exit code (an app failed)', /^[1-9]\d*$/, String(r.code))
    await exitedStatus(s, 'multi-app', r.uuid, 'writer', 3)
    await exitedStatus(s, 'sibling-exit', r.uuid, 'reader', 0)
  },
}

/** rkt app sandbox: two apps added and started; one stopped and removed while the other runs on. */
const mutable: Scenario = {
  name: 'mutable',
  behaviours: ['mutable-pods'],
  async run(s) {
    const b = 'mutable-pods'
    const pod = await s.startPod([], ['app', 'sandbox'])
    if ('failed' in pod) return s.cannot(this.behaviours, 'the sandbox', pod.failed)
    const {uuid} = pod
    const app = (...args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> =>
      s.rkt(['app', ...args], {timeoutMs: 120_000})
    const ok = async (check: string, args: string[]): Promise<void> => {
      const r = await app(...args)
      s.expect(b, check, '0', String(r.code) + (r.code === 0 ? '' : `: ${r.stderr.trim()}`))
    }
    const list = async (): Promise<string> =>
      (await app('list', '--no-legend', uuid)).stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).join('='))
        .join(',')
    for (const name of ['one', 'two'])
      await ok(`rkt app add (${name})`, ['add', uuid, PLAIN, `--name=${name}`, ...sh('exec sleep 100000')])
    s.expect(b, 'rkt app list after add', 'one=created,two=created', await list())
    for (const name of ['one', 'two']) await ok(`rkt app start (${name})`, ['start', uuid, `--app=${name}`])
    s.expect(b, 'rkt app list after start', 'one=running,two=running', await list())
    await ok('rkt app stop', ['stop', uuid, '--app=two'])
    const st = await app('status', uuid, '--app=two', '--format=json')
    let json: {state?: string; exit_code?: number} = {}
    try {
      json = JSON.parse(st.stdout) as typeof json
    } catch {
      // seen as nothing below
    }
    s.expect(b, 'rkt app status --format=json of the stopped app', 'exited 143', `${json.state} ${json.exit_code}`)
    const running = await app('rm', uuid, '--app=one')
    s.expect(b, 'rkt app rm of a running app is refused', '254', String(running.code))
    await ok('rkt app rm', ['rm', uuid, '--app=two'])
    s.expect(b, 'rkt app list after rm: the other app runs on', 'one=running', await list())
    const stop = await s.rkt(['stop', uuid], {timeoutMs: 60_000})
    s.expect(b, 'rkt stop of the sandbox', '0', String(stop.code))
    await pod.done
  },
}

/** --interactive under a pseudo-terminal (util-linux `script`). */
const interactive: Scenario = {
  name: 'interactive',
  behaviours: ['interactive'],
  async run(s) {
    const file = s.uuidFile()
    const line = bashLine(
      s.rktCmd,
      s.runArgs(
        ['--interactive', PLAIN, '--name=tty', ...sh('echo "@tty=$(tty)"; [ -t 0 ] && echo @stdin=tty; exit 0')],
        file,
      ),
    )
    // stdin stays open, as a terminal's would: at end of input `script` would pass an end-of-file on.
    const r = await run({file: 'script'}, ['-qec', line, '/dev/null'], {
      env: {...process.env, SHELL: '/bin/bash'},
      input: '',
      holdStdin: true,
      timeoutMs: 120_000,
    })
    s.adopt(file)
    const seen = reported(r.stdout)
    s.expect('interactive', 'the app’s tty', /^\/dev\//, seen.get('tty') ?? `${r.stdout}${r.stderr}`.trim())
    s.expect('interactive', 'stdin is a terminal', 'tty', seen.get('stdin'))
    s.expect('interactive', 'exit code', '0', String(r.code))
  },
}

/** An app's stdout and stderr, shown by the foreground rkt run and kept for rkt logs once the pod has exited. */
const logs: Scenario = {
  name: 'logs',
  behaviours: ['logs'],
  async run(s) {
    const r = await s.runPod([PLAIN, '--name=talker', ...sh('echo @out=to-stdout; echo @err=to-stderr >&2')])
    if (r.uuid === '') return s.cannot(this.behaviours, 'the pod', `rkt run exited ${r.code}: ${r.stderr.trim()}`)
    s.expect('logs', 'rkt run shows the app’s stdout', 'to-stdout', reported(r.stdout).get('out'))
    s.expect('logs', 'rkt run shows the app’s stderr', 'to-stderr', reported(r.stderr).get('err'))
    const l = await s.rkt(['logs', r.uuid])
    s.expect('logs', 'rkt logs: stdout', 'to-stdout', reported(l.stdout).get('out') ?? l.stderr.trim())
    s.expect('logs', 'rkt logs: stderr', 'to-stderr', reported(l.stderr).get('err') ?? l.stderr.trim())
  },
}

export const SCENARIOS: readonly Scenario[] = [
  running,
  forced,
  probe,
  options,
  multi,
  signal,
  interactive,
  mutable,
  logs,
]
