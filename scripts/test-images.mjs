#!/usr/bin/env node
// The test images made of Debian's own packages (PostgreSQL, a Flask app on gunicorn, nginx): real software
// for the end-to-end tests and the bench, as a user would build it, with mmdebstrap and `actool build`.
// Minutes to make, so each is built once per machine into the machine cache (scripts/cache-dir.mjs:
// <cache>/images/<name>-<key>.aci), keyed by the hash of its spec, this script and mmdebstrap's version; a
// fresh clone on the same machine (CI's) reuses it. Builds run under one machine-wide lock and appear whole
// (made under a temporary name, then renamed). apt's downloads are kept in <cache>/apt, so a rebuild after a
// spec change downloads nothing it had before.
//
//   node scripts/test-images.mjs [NAME…]   builds what is missing (all images without NAME), prints NAME PATH
import {spawnSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {machineCacheDir, pruneCache} from './cache-dir.mjs'

const root = path.resolve(import.meta.dirname, '..')
const SUITE = 'bookworm'
const MIRROR = 'http://deb.debian.org/debian'

/** A shell script, run as the app. */
const script = (body) => ({mode: 0o755, content: `#!/bin/sh\nset -e\n${body.trim()}\n`})

/**
 * Each image: the Debian packages on top of the essential set, files added to the rootfs (path → content or
 * {mode, content}), commands run in the finished tree (chroot), and the manifest's app section.
 */
export const IMAGES = {
  // The server runs as user postgres, its Unix socket in /run/postgresql; the cluster is made at first start
  // (as a user's first `rkt run` would), not at build time.
  postgres: {
    packages: ['postgresql-15'],
    // Debian's server depends on LLVM for its JIT (130 MiB with z3 and the bitcode), which the tests never
    // use: left out, and the server runs with jit=off so it never looks for it.
    excludes: [
      'path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM-*',
      'path-exclude=/usr/lib/x86_64-linux-gnu/libz3.so*',
      'path-exclude=/usr/lib/postgresql/15/lib/bitcode/*',
      'path-exclude=/usr/lib/postgresql/15/lib/llvmjit*',
    ],
    files: {
      '/usr/local/bin/start-postgres': script(`
PGDATA=/var/lib/postgresql/data
mkdir -p /run/postgresql "$PGDATA"
chown postgres:postgres /run/postgresql "$PGDATA"
chmod 2775 /run/postgresql
chmod 700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  as_postgres /usr/lib/postgresql/15/bin/initdb --pgdata="$PGDATA" --username=postgres --auth-local=trust \\
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \\
  /usr/lib/postgresql/15/bin/postgres -D "$PGDATA" -k /run/postgresql -c listen_addresses='' -c jit=off
`),
    },
    // Debian's postinst makes a cluster (15/main); this image makes its own at first start.
    chroot: ['pg_dropcluster 15 main'],
    app: {
      exec: ['/usr/local/bin/start-postgres'],
      user: '0',
      group: '0',
      environment: [{name: 'LANG', value: 'C.UTF-8'}],
    },
  },
  // Debian's python3-flask served by Debian's gunicorn on port 8080, as www-data.
  flask: {
    packages: ['python3-flask', 'gunicorn'],
    files: {
      '/srv/hello/app.py': `from flask import Flask

app = Flask(__name__)


@app.route('/')
def hello():
    return 'hello from flask\\n'
`,
    },
    chroot: [],
    app: {
      exec: ['/usr/bin/gunicorn', '--bind=0.0.0.0:8080', '--workers=1', '--chdir=/srv/hello', 'app:app'],
      user: '33',
      group: '33',
      ports: [{name: 'http', protocol: 'tcp', port: 8080}],
    },
  },
  // nginx with Debian's default site as shipped, `listen [::]:80 default_server;` included.
  nginx: {
    packages: ['nginx'],
    files: {},
    chroot: [],
    app: {
      exec: ['/usr/sbin/nginx', '-g', 'daemon off;'],
      user: '0',
      group: '0',
      ports: [{name: 'http', protocol: 'tcp', port: 80}],
    },
  },
}

// Nothing a test or an app reads: man pages, docs (their copyright files kept), translations, info pages.
const EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
]

export function imageName(name) {
  return `rkt-ts.test/debian-${name}`
}

let builder
function mmdebstrapVersion() {
  if (builder) return builder
  const r = spawnSync('mmdebstrap', ['--version'], {encoding: 'utf8'})
  if (r.error || r.status !== 0)
    throw new Error('mmdebstrap is not installed: run scripts/setup (Debian: apt-get install mmdebstrap)')
  return (builder = r.stdout.trim())
}

/** Where the image's ACI is (or will be) in the machine cache: its file name carries its key. */
export function imagePath(name) {
  const spec = IMAGES[name]
  if (!spec) throw new Error(`no test image ${name} (${Object.keys(IMAGES).join(', ')})`)
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({name, spec, SUITE, MIRROR, EXCLUDES}))
    .update(fs.readFileSync(import.meta.filename))
    .update(mmdebstrapVersion())
    .digest('hex')
    .slice(0, 16)
  return path.join(machineCacheDir(), 'images', `${name}-${key}.aci`)
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'inherit', 'inherit']})
  if (r.error || r.status !== 0) throw new Error(`${what} failed (${cmd} exited ${r.status ?? r.error?.message})`)
}

/** Builds one image into `aci` (the caller holds the lock and has checked it is missing). */
function build(name, aci) {
  const spec = IMAGES[name]
  const tmp = `${aci}.tmp`
  fs.rmSync(tmp, {recursive: true, force: true})
  const layout = path.join(tmp, 'layout')
  const rootfs = path.join(layout, 'rootfs')
  fs.mkdirSync(layout, {recursive: true})
  const debs = path.join(machineCacheDir(), 'apt')
  fs.mkdirSync(debs, {recursive: true})
  const t0 = performance.now()
  // --skip=essential/unlink keeps the essential set's .debs in the tree until the customize hook has copied
  // every download into the apt cache; mmdebstrap's clean-up then empties /var/cache/apt in the image.
  run(
    'mmdebstrap',
    [
      '--variant=essential',
      '--mode=root',
      '--format=directory',
      `--include=${spec.packages.join(',')}`,
      ...[...EXCLUDES, ...(spec.excludes ?? [])].map((o) => `--dpkgopt=${o}`),
      '--skip=essential/unlink',
      `--setup-hook=mkdir -p "$1"/var/cache/apt/archives && cp -a ${debs}/. "$1"/var/cache/apt/archives/`,
      `--customize-hook=cp -a "$1"/var/cache/apt/archives/. ${debs}/ && rm -f ${debs}/lock && rm -rf ${debs}/partial`,
      ...spec.chroot.map((c) => `--customize-hook=chroot "$1" ${c}`),
      SUITE,
      rootfs,
      MIRROR,
    ],
    `mmdebstrap of ${spec.packages.join(', ')}`,
  )
  for (const [p, f] of Object.entries(spec.files)) {
    const file = typeof f === 'string' ? {mode: 0o644, content: f} : f
    fs.mkdirSync(path.join(rootfs, path.dirname(p)), {recursive: true})
    fs.writeFileSync(path.join(rootfs, p), file.content, {mode: file.mode})
  }
  // The image's /dev is the pod's to make.
  fs.rmSync(path.join(rootfs, 'dev'), {recursive: true, force: true})
  fs.mkdirSync(path.join(rootfs, 'dev'))
  const labels = [
    {name: 'version', value: SUITE},
    {name: 'os', value: 'linux'},
    {name: 'arch', value: 'amd64'},
  ]
  const manifest = {acKind: 'ImageManifest', acVersion: '0.8.11', name: imageName(name), labels, app: spec.app}
  fs.writeFileSync(path.join(layout, 'manifest'), JSON.stringify(manifest, null, 2))
  const t1 = performance.now()
  const made = path.join(tmp, 'image.aci')
  run(process.execPath, [path.join(root, 'core', 'dist', 'cli', 'actool.cjs'), 'build', layout, made], 'actool build')
  fs.renameSync(made, aci)
  fs.rmSync(tmp, {recursive: true, force: true})
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`
  const mib = (fs.statSync(aci).size / 2 ** 20).toFixed(1)
  console.error(
    `test-images: ${name} built in ${s(performance.now() - t0)} (mmdebstrap ${s(t1 - t0)}, actool build ${s(performance.now() - t1)}): ${mib} MiB`,
  )
}

/** The image's ACI, built first if this machine has not got it (under the machine-wide lock). */
export function testImage(name) {
  const aci = imagePath(name)
  if (fs.existsSync(aci)) return aci
  const r = spawnSync('flock', [path.join(path.dirname(aci), '.lock'), process.execPath, import.meta.filename, name], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {...process.env, RKT_TEST_IMAGES_LOCKED: '1'},
  })
  if (r.status !== 0 || !fs.existsSync(aci)) throw new Error(`test image ${name} could not be built (see above)`)
  return aci
}

if (process.argv[1] === import.meta.filename) {
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(IMAGES)
  try {
    for (const name of names) {
      const aci = imagePath(name)
      fs.mkdirSync(path.dirname(aci), {recursive: true})
      if (!fs.existsSync(aci) && process.env.RKT_TEST_IMAGES_LOCKED) {
        console.error(`test-images: building ${name} (${IMAGES[name].packages.join(', ')}; minutes the first time)`)
        build(name, aci)
        await pruneCache(path.dirname(aci), 3 * Object.keys(IMAGES).length)
      }
      console.log(`${name} ${process.env.RKT_TEST_IMAGES_LOCKED ? aci : testImage(name)}`)
    }
  } catch (err) {
    console.error(`test-images: ${err.message}`)
    process.exit(1)
  }
}
