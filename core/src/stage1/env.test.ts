import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, test} from 'node:test'

import {composeEnv, DEFAULT_PATH, enterEnv, envRecord, writeAppEnv} from './env.js'
import {makeTestPod} from './testing.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
})

describe('composeEnv', () => {
  test("rkt's defaults fill in what the app does not set", () => {
    assert.deepEqual(composeEnv([]), [
      `PATH=${DEFAULT_PATH}`,
      'SHELL=/bin/sh',
      'USER=root',
      'LOGNAME=root',
      'HOME=/root',
    ])
  })
  test("the app's values win over the defaults, in the defaults' positions", () => {
    const env = composeEnv([
      {name: 'HOME', value: '/home/app'},
      {name: 'X', value: '1'},
    ])
    assert.equal(env[4], 'HOME=/home/app')
    assert.equal(env.at(-1), 'X=1')
  })
  test('AC_APP_NAME is the executor’s: the app cannot override it', () => {
    const env = composeEnv([{name: 'AC_APP_NAME', value: 'fake'}], {AC_APP_NAME: 'web'})
    assert.deepEqual(
      env.filter((e) => e.startsWith('AC_APP_NAME=')),
      ['AC_APP_NAME=web'],
    )
  })
})

describe('the env file as engines use it', () => {
  const pod = () => {
    dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-env-')))
    const environment = [{name: 'GREETING', value: 'a=b c'}]
    return makeTestPod(dirs.at(-1)!, crypto.randomUUID(), [{name: 'web', app: {environment}}])
  }

  test('envRecord splits at the first "=" only', () => {
    assert.deepEqual(envRecord(['A=1', 'B=x=y', 'C=']), {A: '1', B: 'x=y', C: ''})
  })

  test('writeAppEnv writes the final environment, with AC_METADATA_URL only when given', () => {
    const p = pod()
    const app = p.apps[0]!
    const env = writeAppEnv(p.paths, app, 'http://127.0.0.1:2375/TOKEN')
    assert.equal(fs.readFileSync(p.paths.appEnv('web'), 'utf8'), env.map((e) => `${e}\n`).join(''))
    assert.deepEqual(env.slice(-3), [
      'GREETING=a=b c',
      'AC_APP_NAME=web',
      'AC_METADATA_URL=http://127.0.0.1:2375/TOKEN',
    ])
    assert.ok(!writeAppEnv(p.paths, app).some((e) => e.startsWith('AC_METADATA_URL=')))
  })

  test("enterEnv is the app's environment plus the caller's TERM, when it has one", () => {
    const p = pod()
    writeAppEnv(p.paths, p.apps[0]!)
    const term = process.env['TERM']
    try {
      process.env['TERM'] = 'vt220'
      assert.equal(enterEnv(p.paths, 'web')['TERM'], 'vt220')
      assert.equal(enterEnv(p.paths, 'web')['GREETING'], 'a=b c')
      delete process.env['TERM']
      assert.ok(!('TERM' in enterEnv(p.paths, 'web')))
    } finally {
      if (term === undefined) delete process.env['TERM']
      else process.env['TERM'] = term
    }
  })
})
