import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {composeEnv, DEFAULT_PATH} from './env.js'

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
