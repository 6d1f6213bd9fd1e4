import assert from 'node:assert/strict'
import {test} from 'node:test'

import {RKT_VERSION} from '../version.js'
import {stage1FlavourEngine, withOwnStage1Name} from './stage1-flavours.js'

test("rkt's flavour names mean our engines; rkt's own version matches any version of ours", () => {
  assert.equal(stage1FlavourEngine('coreos.com/rkt/stage1-coreos'), 'nspawn')
  assert.equal(stage1FlavourEngine('coreos.com/rkt/stage1-fly'), 'fly')
  assert.equal(stage1FlavourEngine('coreos.com/rkt/stage1-kvm'), 'kvm')
  assert.equal(stage1FlavourEngine('coreos.com/rkt/stage1-src'), undefined)
  assert.equal(stage1FlavourEngine('toString'), undefined)
  assert.deepEqual(
    withOwnStage1Name({name: 'coreos.com/rkt/stage1-fly', labels: {version: RKT_VERSION, os: 'linux'}}),
    {
      name: 'rkt-ts/stage1-fly',
      labels: {os: 'linux'},
    },
  )
  assert.deepEqual(withOwnStage1Name({name: 'coreos.com/rkt/stage1-kvm', labels: {version: '0.1'}}), {
    name: 'rkt-ts/stage1-kvm',
    labels: {version: '0.1'},
  })
  const other = {name: 'example.com/app', labels: {version: RKT_VERSION}}
  assert.equal(withOwnStage1Name(other), other)
})
