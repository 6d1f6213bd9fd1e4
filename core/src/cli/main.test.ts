import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {RKT_COMMANDS, RKT_TOPICS} from '../commands/rkt/index.js'
import {UsageError} from '../errors.js'
import {RKT_VERSION} from '../version.js'
import {rktGlobalFlagNames} from './base.js'
import {normalizeBooleans, splitArgv, wantsHelp} from './main.js'
import type {CliSpec} from './main.js'

const rkt: CliSpec = {
  bin: 'rkt',
  version: RKT_VERSION,
  commands: RKT_COMMANDS,
  topics: RKT_TOPICS,
  globalFlags: rktGlobalFlagNames,
}

describe('splitArgv', () => {
  test('leading global flags move after the command id, with their values', () => {
    assert.deepEqual(splitArgv(rkt, ['--dir', '/tmp/rkt', 'fetch', 'x.aci']), {
      id: 'fetch',
      args: ['--dir', '/tmp/rkt', 'x.aci'],
    })
    assert.deepEqual(splitArgv(rkt, ['--dir=/tmp/rkt', '--debug', 'fetch', 'x.aci']), {
      id: 'fetch',
      args: ['--dir=/tmp/rkt', '--debug', 'x.aci'],
    })
    assert.deepEqual(splitArgv(rkt, ['--insecure-options', 'image', '--debug=false', 'fetch', 'image.aci']), {
      id: 'fetch',
      args: ['--insecure-options', 'image', '--debug=false', 'image.aci'],
    })
    // A value that looks like a command name stays the flag's value.
    assert.deepEqual(splitArgv(rkt, ['--dir', 'fetch', 'version']), {id: 'version', args: ['--dir', 'fetch']})
  })

  test('finds multi-word ids, the longest that exists', () => {
    assert.deepEqual(splitArgv(rkt, ['image', 'list']), {id: 'image:list', args: []})
    assert.deepEqual(splitArgv(rkt, ['--dir', 'd', 'image', 'list', '--full', '--no-legend']), {
      id: 'image:list',
      args: ['--dir', 'd', '--full', '--no-legend'],
    })
    assert.deepEqual(splitArgv(rkt, ['image', 'rm', 'sha512-ab', 'sha512-cd']), {
      id: 'image:rm',
      args: ['sha512-ab', 'sha512-cd'],
    })
    // `fetch image` is fetch with the argument "image", not a command "fetch image".
    assert.deepEqual(splitArgv(rkt, ['fetch', 'image', 'list']), {id: 'fetch', args: ['image', 'list']})
  })

  test('flags after the command stay where they are; -- ends the search', () => {
    assert.deepEqual(splitArgv(rkt, ['fetch', '--insecure-options=image', 'x.aci']), {
      id: 'fetch',
      args: ['--insecure-options=image', 'x.aci'],
    })
    assert.deepEqual(splitArgv(rkt, ['fetch', '--', '--odd-name.aci']), {id: 'fetch', args: ['--', '--odd-name.aci']})
    assert.deepEqual(splitArgv(rkt, ['--debug', '--', 'fetch']), {id: undefined, args: ['--debug', '--', 'fetch']})
  })

  test('no command: id undefined and every argument kept', () => {
    assert.deepEqual(splitArgv(rkt, []), {id: undefined, args: []})
    assert.deepEqual(splitArgv(rkt, ['image']), {id: undefined, args: ['image']})
    assert.deepEqual(splitArgv(rkt, ['--debug', 'image', 'bogus']), {
      id: undefined,
      args: ['--debug', 'image', 'bogus'],
    })
    assert.deepEqual(splitArgv(rkt, ['frobnicate', '--x']), {id: undefined, args: ['frobnicate', '--x']})
    // A value flag at the very end has no value to take.
    assert.deepEqual(splitArgv(rkt, ['--dir']), {id: undefined, args: ['--dir']})
  })
})

describe('normalizeBooleans', () => {
  const list = RKT_COMMANDS['image:list']!

  test('--flag=true|false becomes --flag / --no-flag for boolean flags', () => {
    assert.deepEqual(normalizeBooleans(['--debug=true'], list), ['--debug'])
    assert.deepEqual(normalizeBooleans(['--debug=false'], list), ['--no-debug'])
    assert.deepEqual(normalizeBooleans(['--debug=TRUE', '--trust-keys-from-https=False'], list), [
      '--debug',
      '--no-trust-keys-from-https',
    ])
    // strconv.ParseBool's other spellings, which Go's pflag accepts.
    assert.deepEqual(normalizeBooleans(['--debug=1', '--debug=0', '--debug=t', '--debug=F'], list), [
      '--debug',
      '--no-debug',
      '--debug',
      '--no-debug',
    ])
  })

  test('leaves other flags and arguments alone', () => {
    const args = ['--dir=/x=y', '--insecure-options=image,tls', '--debug', 'sha512-ab', '--unknown=true']
    assert.deepEqual(normalizeBooleans(args, list), args)
  })

  test('anything after -- is left alone', () => {
    assert.deepEqual(normalizeBooleans(['--debug=false', '--', '--debug=maybe', '--debug=true'], list), [
      '--no-debug',
      '--',
      '--debug=maybe',
      '--debug=true',
    ])
  })

  test('--debug=maybe is a usage error saying what a boolean is', () => {
    for (const bad of ['--debug=maybe', '--debug=', '--debug=yes']) {
      assert.throws(
        () => normalizeBooleans([bad], list),
        (err: unknown) => {
          assert.ok(err instanceof UsageError)
          assert.equal(err.exitCode, 2)
          assert.match(err.message, /^--debug: ".*" is not a boolean$/)
          assert.match(err.hint ?? '', /true or false/)
          return true
        },
      )
    }
  })
})

describe('wantsHelp', () => {
  test('-h or --help anywhere before --', () => {
    assert.equal(wantsHelp(rkt, 'fetch', ['x.aci', '-h']), true)
    assert.equal(wantsHelp(rkt, 'fetch', ['--help']), true)
    assert.equal(wantsHelp(rkt, 'run', ['x.aci', '--', '-h']), false)
    assert.equal(wantsHelp(rkt, undefined, ['-h']), true)
  })

  test("rkt enter: after the UUID, -h is the command's (rkt enter UUID psql -h /run/postgresql)", () => {
    assert.equal(wantsHelp(rkt, 'enter', ['0b0c', 'psql', '-h', '/run/postgresql']), false)
    assert.equal(wantsHelp(rkt, 'enter', ['--app', 'db', '0b0c', 'ls', '--help']), false)
    assert.equal(wantsHelp(rkt, 'enter', ['--app', 'db', '-h']), true)
    assert.equal(wantsHelp(rkt, 'enter', ['--dir=/tmp/d', '--help']), true)
  })
})
