// The pod's /etc files: rkt's hosts entry rule, and what each DNS mode gives the apps.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {PodPaths} from '@rkt/core/stage1'

import {addHostsEntry, HOSTS_FALLBACK, preparePodEtc} from './etc.js'

describe('/etc files of a pod', () => {
  test('the hostname joins the first line of its IP, or gets a line of its own (rkt’s AddHostsEntry)', () => {
    assert.match(addHostsEntry(HOSTS_FALLBACK, '127.0.0.1', 'rkt-x'), /^127\.0\.0\.1 localhost .* rkt-x$/m)
    assert.equal(addHostsEntry('10.0.0.1 a\n', '127.0.0.1', 'web'), '10.0.0.1 a\n127.0.0.1\tweb\n')
    assert.equal(addHostsEntry('', '127.0.0.1', 'web'), '127.0.0.1\tweb\n')
  })

  const dirs: string[] = []
  after(() => {
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
  })
  const pod = (): PodPaths => {
    dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-nspawn-etc-')))
    const p = new PodPaths(dirs.at(-1)!)
    fs.mkdirSync(path.dirname(p.hostname), {recursive: true})
    return p
  }

  test('default modes: the hostname file, the fallback with the hostname, only for apps without /etc/hosts', () => {
    const p = pod()
    const etc = preparePodEtc(p, 'rkt-x', {resolv: 'default', hosts: 'default'})
    assert.equal(fs.readFileSync(p.hostname, 'utf8'), 'rkt-x', 'no newline, as rkt writes it')
    assert.deepEqual(etc, {hostnameFile: p.hostname, hosts: {file: p.hostsFallback, replace: false}})
    assert.match(fs.readFileSync(p.hostsFallback, 'utf8'), /^127\.0\.0\.1 .* rkt-x$/m)
  })

  test('stage0 modes: rkt-hosts (with the hostname) and rkt-resolv.conf replace the app’s; host modes the host’s', () => {
    const p = pod()
    fs.writeFileSync(p.hosts, '127.0.0.1 localhost\n10.1.1.1 db\n')
    fs.writeFileSync(p.resolvConf, 'nameserver 10.1.1.53\n')
    const etc = preparePodEtc(p, 'web', {resolv: 'stage0', hosts: 'stage0'})
    assert.deepEqual(etc.hosts, {file: p.hosts, replace: true})
    assert.equal(etc.resolvConf, p.resolvConf)
    assert.equal(fs.readFileSync(p.hosts, 'utf8'), '127.0.0.1 localhost web\n10.1.1.1 db\n')
    const host = preparePodEtc(pod(), 'web', {resolv: 'host', hosts: 'host'})
    assert.deepEqual(host.hosts, {file: '/etc/hosts', replace: true})
    assert.equal(host.resolvConf, '/etc/resolv.conf')
  })

  test('a network’s DNS makes rkt-resolv.conf in the default mode only; --dns modes win', () => {
    const dns = {nameservers: ['10.2.0.53'], search: ['pods.example'], options: []}
    const p = pod()
    const etc = preparePodEtc(p, 'web', {resolv: 'default', hosts: 'default'}, dns)
    assert.equal(etc.resolvConf, p.resolvConf)
    assert.match(fs.readFileSync(p.resolvConf, 'utf8'), /^search pods\.example\nnameserver 10\.2\.0\.53$/m)
    assert.equal(preparePodEtc(pod(), 'web', {resolv: 'host', hosts: 'default'}, dns).resolvConf, '/etc/resolv.conf')
    assert.equal(preparePodEtc(pod(), 'web', {resolv: 'none', hosts: 'default'}, dns).resolvConf, undefined)
    const q = pod()
    fs.writeFileSync(q.resolvConf, 'nameserver 10.1.1.53\n')
    preparePodEtc(q, 'web', {resolv: 'stage0', hosts: 'default'}, dns)
    assert.equal(fs.readFileSync(q.resolvConf, 'utf8'), 'nameserver 10.1.1.53\n', 'stage0’s file is kept')
  })
})
