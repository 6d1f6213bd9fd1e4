import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, test} from 'node:test'

import {composeEnv, DEFAULT_PATH, readEnvFile, writeEnvFile} from './env.js'

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
  test('env files round-trip', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-env-'))
    try {
      const file = path.join(dir, 'rkt', 'env', 'app')
      const env = composeEnv([{name: 'A', value: 'x=y z'}], {AC_APP_NAME: 'app'})
      writeEnvFile(file, env)
      assert.deepEqual(readEnvFile(file), env)
    } finally {
      fs.rmSync(dir, {recursive: true})
    }
  })
})

test('a value with a newline is refused, not split into two variables', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-env-'))
  try {
    assert.throws(() => writeEnvFile(path.join(dir, 'e'), ['A=1\nB=2']), /A has a newline/)
    assert.ok(!fs.existsSync(path.join(dir, 'e')))
  } finally {
    fs.rmSync(dir, {recursive: true})
  }
})
