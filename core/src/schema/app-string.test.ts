import assert from 'node:assert/strict'
import {test} from 'node:test'

import fc from 'fast-check'

import {formatAppString, parseAppString} from './app-string.js'
import {SchemaError} from './schema-error.js'

test('name, version and labels', () => {
  assert.deepEqual(parseAppString('example.com/reduce-worker:1.0.0,os=linux,arch=amd64').app, {
    name: 'example.com/reduce-worker',
    labels: {version: '1.0.0', os: 'linux', arch: 'amd64'},
  })
  assert.deepEqual(parseAppString('example.com/app').app, {name: 'example.com/app', labels: {}})
  assert.deepEqual(parseAppString('example.com/app,channel=alpha,expr=a=b').app.labels, {channel: 'alpha', expr: 'a=b'})
  assert.deepEqual(parseAppString('example.com/app,version=2').app.labels, {version: '2'})
})

test('colon rules, missing values, repeats and the reserved "name" label', () => {
  assert.throws(() => parseAppString('example.com/app:1:2'), {
    message: 'image "example.com/app:1:2": a colon may appear at most once (name:version)',
  })
  assert.throws(
    () => parseAppString('example.com/app,os=linux:1'),
    /a colon may appear only right after the image name/,
  )
  assert.throws(() => parseAppString('example.com/app,os'), /label "os" has no value/)
  assert.throws(() => parseAppString('example.com/app:1,version=2'), /label "version" is given more than once/)
  assert.throws(() => parseAppString('example.com/app,name=other'), {
    message: 'image "example.com/app,name=other": "name" cannot be used as a label (it is the image name)',
  })
  assert.throws(() => parseAppString(':1.0'), SchemaError)
  assert.throws(() => parseAppString('Example.com/app'), /is not a valid AC Identifier/)
  assert.throws(() => parseAppString('example.com/app,OS=linux'), /is not a valid AC Identifier/)
})

test('Go-only identifiers warn in compat mode and fail in strict mode', () => {
  assert.equal(parseAppString('example.com//app').warnings.length, 1)
  assert.throws(() => parseAppString('example.com//app', {strict: true}), SchemaError)
})

test('formatting writes the version with ":" and refuses values the syntax cannot carry', () => {
  assert.equal(
    formatAppString({name: 'example.com/app', labels: {os: 'linux', version: '1.0'}}),
    'example.com/app:1.0,os=linux',
  )
  assert.throws(() => formatAppString({name: 'a', labels: {os: 'a,b'}}), {
    message: 'labels.os: "a,b" cannot contain "," or ":"',
  })
})

test('property: format then parse gives back the same reference', () => {
  const id = fc.stringMatching(/^[a-z0-9]{1,6}([-._~/][a-z0-9]{1,6}){0,2}$/).filter((s) => s !== 'name')
  const value = fc.string({maxLength: 8}).filter((s) => !/[,:]/.test(s))
  fc.assert(
    fc.property(id, fc.dictionary(id, value, {maxKeys: 4}), (name, labels) => {
      const app = {name, labels}
      const parsed = parseAppString(formatAppString(app), {strict: true}).app
      assert.equal(parsed.name, name)
      assert.deepEqual({...parsed.labels}, {...labels})
    }),
    {numRuns: 100, seed: 3},
  )
})
