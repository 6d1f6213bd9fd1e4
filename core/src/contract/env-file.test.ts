import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {readEnvFile, writeEnvFile} from './env-file.js'

test('env files round-trip', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-env-'))
  try {
    const file = path.join(dir, 'rkt', 'env', 'app')
    const env = ['PATH=/bin', 'A=x=y z', 'AC_APP_NAME=app']
    writeEnvFile(file, env)
    assert.deepEqual(readEnvFile(file), env)
  } finally {
    fs.rmSync(dir, {recursive: true})
  }
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
