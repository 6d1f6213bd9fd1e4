import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {UsageError} from '../errors.js'
import {parseDockerSource} from './reference.js'

describe('parseDockerSource', () => {
  const cases: [string, unknown][] = [
    [
      'docker://busybox',
      {kind: 'registry', registry: 'registry-1.docker.io', repository: 'library/busybox', tag: 'latest'},
    ],
    [
      'docker:busybox:1.36',
      {kind: 'registry', registry: 'registry-1.docker.io', repository: 'library/busybox', tag: '1.36'},
    ],
    [
      'docker://docker.io/nginx',
      {kind: 'registry', registry: 'registry-1.docker.io', repository: 'library/nginx', tag: 'latest'},
    ],
    ['docker://user/app:v2', {kind: 'registry', registry: 'registry-1.docker.io', repository: 'user/app', tag: 'v2'}],
    ['docker://127.0.0.1:5000/app', {kind: 'registry', registry: '127.0.0.1:5000', repository: 'app', tag: 'latest'}],
    ['docker://localhost/a/b:1', {kind: 'registry', registry: 'localhost', repository: 'a/b', tag: '1'}],
    [
      'docker://quay.io/coreos/etcd:v3.5.0',
      {kind: 'registry', registry: 'quay.io', repository: 'coreos/etcd', tag: 'v3.5.0'},
    ],
    [
      `docker://127.0.0.1:5000/app@sha256:${'a'.repeat(64)}`,
      {kind: 'registry', registry: '127.0.0.1:5000', repository: 'app', digest: `sha256:${'a'.repeat(64)}`},
    ],
    ['docker-archive:/tmp/x.tar', {kind: 'archive', file: '/tmp/x.tar'}],
    ['docker-archive:/tmp/x.tar:app:1', {kind: 'archive', file: '/tmp/x.tar', ref: 'app:1'}],
    ['oci:/tmp/layout:app', {kind: 'oci', dir: '/tmp/layout', ref: 'app'}],
    ['oci:/tmp/layout', {kind: 'oci', dir: '/tmp/layout'}],
  ]
  for (const [arg, want] of cases) test(arg, () => assert.deepEqual(parseDockerSource(arg), want))

  for (const arg of [
    'docker://',
    'docker://Busybox',
    'docker://busybox:bad/tag',
    'docker://busybox@sha256:xyz',
    'docker://busybox@md5:' + 'a'.repeat(32),
    'docker://a//b',
    'docker://-a',
    'docker-archive:',
    'oci::ref',
    'oci:/dir:',
  ]) {
    test(`refuses ${arg}`, () => {
      assert.throws(
        () => parseDockerSource(arg),
        (e: unknown) =>
          e instanceof UsageError && /invalid Docker image reference/.test(e.message) && e.hint !== undefined,
      )
    })
  }
})
