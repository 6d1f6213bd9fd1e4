import assert from 'node:assert/strict'
import {test} from 'node:test'

import {EXIT_FAILURE, EXIT_USAGE, RktError, UsageError, exitCodeOf, formatError, hasCode, wrap} from './errors.js'

test('users see the outer context, the innermost cause and its fix', () => {
  const inner = new RktError('no trusted key for prefix example.com/app', {
    code: 'ENOTTRUSTED',
    hint: 'trust the signing key with: rkt trust --prefix=example.com/app KEYFILE',
  })
  const err = wrap('fetch: cannot import image', wrap('verifying signature', inner))
  assert.equal(
    formatError(err),
    'fetch: cannot import image: no trusted key for prefix example.com/app\n' +
      '  trust the signing key with: rkt trust --prefix=example.com/app KEYFILE',
  )
  assert.equal(hasCode(err, 'ENOTTRUSTED'), true)
  assert.equal(exitCodeOf(err), EXIT_FAILURE)
})

test('--debug shows every layer', () => {
  const err = wrap('a', wrap('b', new Error('c')))
  const text = formatError(err, true)
  assert.match(text, /^a\n└─ b\n {2}└─ c\n/)
})

test('usage errors exit 2; errors with no rkt layer exit 254', () => {
  assert.equal(exitCodeOf(new UsageError('bad flag')), EXIT_USAGE)
  assert.equal(exitCodeOf(wrap('x', new UsageError('bad'))), EXIT_USAGE)
  assert.equal(exitCodeOf(new Error('plain')), EXIT_FAILURE)
  const enoent = Object.assign(new Error('ENOENT: no such file'), {code: 'ENOENT'})
  assert.equal(hasCode(wrap('open', enoent), 'ENOENT'), true)
})

test('a system error under the deepest rkt layer is shown with it; rkt wording is never skipped', () => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x.asc'"), {code: 'ENOENT'})
  assert.equal(
    formatError(wrap('cannot fetch image x.aci', wrap('cannot read the signature file /x.asc', enoent))),
    "cannot fetch image x.aci: cannot read the signature file /x.asc: ENOENT: no such file or directory, open '/x.asc'",
  )
  const zlib = new Error('incorrect data check')
  const corrupt = new RktError('corrupt or truncated gzip data: incorrect data check', {cause: zlib})
  assert.equal(
    formatError(wrap('cannot fetch image t.aci', corrupt)),
    'cannot fetch image t.aci: corrupt or truncated gzip data: incorrect data check',
  )
  assert.equal(
    formatError(wrap('cannot open image y', enoent)),
    "cannot open image y: ENOENT: no such file or directory, open '/x.asc'",
  )
})
