// A replay of the contract Nomad's rkt driver (drivers/rkt, Nomad 0.9–0.10) holds rkt to, command by command as
// the driver writes them, on nspawn (default network, a forwarded port, DNS flags) and fly (host network): the
// version lines it parses, trust by discovery for a prefix, prepare with the task directories as host volumes,
// environment, memory and CPU after the image (stdout exactly the UUID), run-prepared in the background, the
// status JSON fields it decodes, cat-manifest's ports, enter for `nomad alloc exec`, and SIGINT to stop the task.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {fileRoute, makeTestCa, startTestServer, type TestCa, type TestServer} from '@rkt/core/http/tls-fixture'
import {Gpg} from '@rkt/core/trust/gpg-fixture'

import {RKT, requireTool} from '../util/harness.js'
import {rktWithHosts} from '../util/hosts.js'
import {alive, buildAci, PodSandbox, waitFor} from '../util/pods.js'

const HOST = 'nomad.test'
const NAME = `${HOST}/task`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The task: records what it sees into /alloc, then serves /www on 8080 until stopped. */
const TASK = [
  'echo "$NOMAD_TASK_NAME $GREETING" > /alloc/env',
  'cat /etc/resolv.conf > /alloc/resolv.conf',
  'cat /local/config > /alloc/config',
  '(echo x > /secrets/written) 2>/dev/null || echo read-only > /alloc/secrets',
  'mkdir -p /tmp/www && echo "served by $NOMAD_TASK_NAME" > /tmp/www/index.html',
  'touch /alloc/ready',
  'exec /bin/busybox httpd -f -p 8080 -h /tmp/www',
].join('; ')

let ca: TestCa
let https: TestServer
let gpg: Gpg
let scratch: string

/** A free TCP port on the host (Nomad allocates the dynamic port the same way: a port nobody listens on). */
async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

function get(url: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    http
      .get(url, {timeout: 10_000}, (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
      })
      .on('timeout', () => reject(new Error(`${url}: no answer in 10 s`)))
      .on('error', reject)
  })
}

describe("Nomad's rkt driver contract", () => {
  before(async () => {
    scratch = fs.mkdtempSync('/tmp/rkt-test-nomad-')
    ca = makeTestCa(path.join(scratch, 'ca'), [HOST])
    https = await startTestServer({tls: ca, port: 443})
    gpg = await Gpg.create()
    await gpg.genKey(`Nomad Test <signer@${HOST}>`)
    const aci = await buildAci({
      name: NAME,
      version: '1.0',
      app: {ports: [{name: 'http', protocol: 'tcp', port: 8080}]},
    })
    const page = [
      `<meta name="ac-discovery" content="${NAME} https://${HOST}/images/{name}-{version}-{os}-{arch}.{ext}">`,
      `<meta name="ac-discovery-pubkeys" content="${NAME} https://${HOST}/pubkeys.gpg">`,
    ].join('\n')
    const file = `/images/${NAME}-1.0-linux-amd64.aci`
    https.routes.set('/task', (_q, r) => r.writeHead(200, {'content-type': 'text/html'}).end(page))
    https.routes.set(file, fileRoute(fs.readFileSync(aci)))
    https.routes.set(`${file}.asc`, fileRoute(Buffer.from(await gpg.detachSign(aci, [`signer@${HOST}`]))))
    https.routes.set('/pubkeys.gpg', fileRoute(Buffer.from(await gpg.exportKey(`signer@${HOST}`))))
  })
  after(async () => {
    await https?.close()
    await gpg?.cleanup()
    fs.rmSync(scratch, {recursive: true, force: true})
  })

  for (const engine of ['nspawn', 'fly'] as const) {
    test(`the driver's sequence on ${engine}`, async (t) => {
      if (!(await requireTool(t, 'unshare'))) return
      const ps = PodSandbox.create(t, {stage1: engine})
      const s = ps.s
      fs.mkdirSync(path.join(s.localConfig, 'certs.d'), {recursive: true})
      fs.copyFileSync(ca.caFile, path.join(s.localConfig, 'certs.d', 'test-ca.pem'))

      // Fingerprint: `rkt version`, its `rkt Version:` (at least 1.27.0) and `appc Version:` lines.
      const version = await ps.rkt(['version'])
      assert.equal(version.exitCode, 0, version.stderr)
      const rktVersion = /^rkt Version: (\d+)\.(\d+)\.(\d+)$/m.exec(version.stdout)
      assert.ok(rktVersion, version.stdout)
      assert.ok(Number(rktVersion[1]) * 1000 + Number(rktVersion[2]) >= 1027, 'Nomad needs rkt >= 1.27.0')
      assert.match(version.stdout, /^appc Version: \d+\.\d+\.\d+$/m)

      // trust_prefix: the keys the prefix's discovery offers, without review (the image name resolves here).
      const trust = await rktWithHosts(
        s,
        [HOST],
        ['trust', '--skip-fingerprint-review=true', `--prefix=${NAME}`, '--debug=false'],
      )
      assert.equal(trust.exitCode, 0, trust.stderr)
      const fetched = await rktWithHosts(s, [HOST], ['fetch', `${NAME}:1.0`])
      assert.equal(fetched.exitCode, 0, `the signature checks with the trusted key: ${fetched.stderr}`)

      // prepare, as the driver writes it: global flags, then pod flags, the image, then the app's flags.
      const task = path.join(s.dir, 'task')
      const dirs = {
        alloc: path.join(task, 'alloc'),
        local: path.join(task, 'local'),
        secrets: path.join(task, 'secrets'),
      }
      for (const d of Object.values(dirs)) fs.mkdirSync(d, {recursive: true})
      fs.writeFileSync(path.join(dirs.local, 'config'), 'from the local dir\n')
      const port = await freePort()
      const alloc = '5b2fa0c1-0d9b-4b88-a1a2-8a3c3c6e8f2e-web'
      const prepareArgs = [
        '--debug=false',
        'prepare',
        ...(engine === 'fly' ? ['--no-overlay=true'] : []),
        `--volume=${alloc}-alloc,kind=host,source=${dirs.alloc}`,
        `--mount=volume=${alloc}-alloc,target=/alloc`,
        `--volume=${alloc}-local,kind=host,source=${dirs.local}`,
        `--mount=volume=${alloc}-local,target=/local`,
        `--volume=${alloc}-secrets,kind=host,source=${dirs.secrets},readOnly=true`,
        `--mount=volume=${alloc}-secrets,target=/secrets`,
        '--set-env=NOMAD_TASK_NAME=web',
        '--set-env=GREETING=hello world',
        `${NAME}:1.0`,
        '--exec=/bin/sh',
        '--memory=67108864',
        engine === 'fly' ? '--cpu=100m' : '--cpu-shares=100',
        ...(engine === 'fly' ? [] : [`--port=http:${port}`]),
        '--user=0',
        '--group=0',
        '--',
        '-c',
        TASK,
      ]
      const prep = await execa(RKT, [...s.globals, ...prepareArgs], {
        reject: false,
        stdin: 'ignore',
        stripFinalNewline: false,
      })
      assert.equal(prep.exitCode, 0, String(prep.stderr))
      assert.match(
        String(prep.stdout),
        new RegExp(`${UUID.source.slice(0, -1)}\\n$`),
        'stdout is the UUID and a newline',
      )
      const uuid = String(prep.stdout).trim()
      assert.match(uuid, UUID)

      // run-prepared under the driver's executor: in the background, with the DNS flags and the network.
      const runArgs = [
        '--debug=false',
        'run-prepared',
        '--dns=192.0.2.53',
        '--dns-search=service.nomad.test',
        engine === 'fly' ? '--net=host' : '--net=default',
        uuid,
      ]
      const run = execa(RKT, [...s.globals, ...runArgs], {reject: false, stdin: 'ignore', cwd: s.work})
      let exited = false
      void run.then(() => (exited = true))
      t.after(() => {
        if (!exited) run.kill('SIGKILL')
      })
      assert.ok(
        await waitFor(() => exited || fs.existsSync(path.join(dirs.alloc, 'ready')), 60_000),
        'the task started',
      )
      if (exited) assert.fail(`run-prepared ended early: ${String((await run).stderr)}`)
      assert.equal(fs.readFileSync(path.join(dirs.alloc, 'env'), 'utf8'), 'web hello world\n')
      assert.equal(fs.readFileSync(path.join(dirs.alloc, 'config'), 'utf8'), 'from the local dir\n')
      assert.equal(fs.readFileSync(path.join(dirs.alloc, 'secrets'), 'utf8'), 'read-only\n')
      const resolv = fs.readFileSync(path.join(dirs.alloc, 'resolv.conf'), 'utf8')
      assert.match(resolv, /^nameserver 192\.0\.2\.53$/m)
      assert.match(resolv, /^search service\.nomad\.test$/m)

      // rkt status --format=json, decoded into rkt's v1.Pod: name, state, networks[].
      const status = await ps.rkt(['status', '--format=json', uuid])
      assert.equal(status.exitCode, 0, status.stderr)
      const pod = JSON.parse(status.stdout) as {
        name: string
        state: string
        networks?: {
          netName: unknown
          netConf: unknown
          pluginPath: unknown
          ifName: unknown
          ip: unknown
          args: unknown
        }[]
      }
      assert.equal(pod.name, uuid)
      assert.equal(pod.state, 'running')
      if (engine === 'fly') assert.deepEqual(pod.networks ?? [], [], 'host network: no pod networks')
      else {
        assert.equal(pod.networks?.length, 1, status.stdout)
        const n = pod.networks[0]!
        assert.equal(n.netName, 'default')
        assert.equal(typeof n.netConf, 'string')
        assert.match(n.netConf as string, /default/)
        assert.equal(typeof n.pluginPath, 'string')
        assert.ok(fs.existsSync(n.pluginPath as string), `pluginPath ${String(n.pluginPath)} exists`)
        assert.equal(n.ifName, 'eth0')
        assert.match(n.ip as string, /^\d+\.\d+\.\d+\.\d+$/)
        assert.ok(net.isIPv4(n.ip as string) && !(n.ip as string).startsWith('127.'), 'a global unicast address')
        assert.equal(typeof n.args, 'string')
      }

      // cat-manifest: the app's ports (the driver maps port_map names to them) and the isolators it asked for.
      const manifest = await ps.rkt(['cat-manifest', uuid])
      assert.equal(manifest.exitCode, 0, manifest.stderr)
      const m = JSON.parse(manifest.stdout) as {
        apps: {app: {ports?: {name: string; port: number}[]; isolators?: {name: string; value: {limit?: string}}[]}}[]
      }
      assert.equal(m.apps.length, 1)
      assert.deepEqual(
        m.apps[0]!.app.ports?.map((p) => [p.name, p.port]),
        [['http', 8080]],
      )
      const isolators = new Map(m.apps[0]!.app.isolators?.map((i) => [i.name, i.value]))
      assert.equal(isolators.get('resource/memory')?.limit, '67108864', 'the quantity as given')
      assert.ok(isolators.has(engine === 'fly' ? 'resource/cpu' : 'os/linux/cpu-shares'), [...isolators.keys()].join())
      if (engine !== 'fly') {
        const page = await get(`http://127.0.0.1:${port}/`)
        assert.deepEqual(page, {status: 200, body: 'served by web\n'})
      }

      // nomad alloc exec: rkt enter UUID CMD ARGS…
      const enter = await ps.rkt(['enter', uuid, '/bin/sh', '-c', 'echo "$NOMAD_TASK_NAME in $(cat /local/config)"'])
      assert.equal(enter.exitCode, 0, enter.stderr)
      assert.equal(enter.stdout, 'web in from the local dir')

      // nomad job stop: SIGINT to run-prepared stops the pod; nothing of it keeps running.
      const pid = ps.podNumber(uuid, 'pid')
      run.kill('SIGINT')
      assert.ok(await waitFor(() => exited, 30_000), 'run-prepared ended after SIGINT')
      assert.equal(alive(pid), false, 'the pod process is gone')
      const after = await ps.rkt(['status', '--format=json', uuid])
      assert.equal((JSON.parse(after.stdout) as {state: string}).state, 'exited')
    })
  }
})
