// Resource limits from isolators: what the cgroups of a pod and its apps get, and a warning for every
// request that is not enforced as asked.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {parseQuantity} from '../schema/index.js'
import {cfsQuota, limitsOf, podLimits} from './limits.js'

const q = (text: string) => parseQuantity(text)

describe('limits', () => {
  test('memory and cpu limits, cpu-shares; a request other than the limit is said to be ignored', () => {
    const warnings: string[] = []
    const limits = limitsOf(
      [
        {name: 'resource/memory', value: {request: q('10M'), limit: q('25Mi')}},
        {name: 'resource/cpu', value: {request: q('800m'), limit: q('800m')}},
        {name: 'os/linux/cpu-shares', value: 512},
      ],
      (m) => warnings.push(m),
    )
    assert.deepEqual(limits, {memory: 25n * 1024n * 1024n, cpuMilli: 800n, cpuShares: 512})
    assert.deepEqual(warnings, ['resource/memory: request 10M ignored, limit 25Mi enforced'])
  })

  test('cfs quota: millicores over a 100 ms period, at least the kernel’s 1 ms (with a warning)', () => {
    assert.equal(cfsQuota(800n), 80_000n)
    assert.equal(cfsQuota(2500n), 250_000n)
    assert.equal(cfsQuota(1n), 1000n)
    const warnings: string[] = []
    limitsOf([{name: 'resource/cpu', value: {limit: q('1m')}}], (m) => warnings.push(m))
    assert.match(warnings[0]!, /raised to 10m/)
  })

  test('a resource isolator without a limit is ignored, and said so', () => {
    const warnings: string[] = []
    assert.deepEqual(
      limitsOf([{name: 'resource/memory', value: {request: q('1G')}}], (m) => warnings.push(m)),
      {},
    )
    assert.match(warnings[0]!, /resource\/memory without a limit ignored/)
  })

  test('pod isolators: memory and cpu limit the pod’s cgroup, the others are ignored with a warning', () => {
    const warnings: string[] = []
    const limits = podLimits(
      [
        {name: 'resource/memory', value: {limit: q('1G')}},
        {name: 'os/unix/sysctl', value: {'net.ipv4.ip_forward': '1'}},
      ],
      (m) => warnings.push(m),
    )
    assert.deepEqual(limits, {memory: 1_000_000_000n})
    assert.deepEqual(warnings, ['pod isolator os/unix/sysctl ignored'])
  })
})
