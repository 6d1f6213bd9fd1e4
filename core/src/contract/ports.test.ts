import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {RktError} from '../errors.js'
import {collides, portMappings} from './ports.js'

describe('forwarded ports', () => {
  test('mappings from the manifest: the app port of that name, or the exposed port’s own', () => {
    const app = {ports: [{name: 'http', protocol: 'tcp', port: 80, count: 1, socketActivated: false}]}
    const apps = [app] as unknown as Parameters<typeof portMappings>[1]
    assert.deepEqual(portMappings([{name: 'http', hostPort: 8080}], apps), [
      {hostPort: 8080, containerPort: 80, protocol: 'tcp'},
    ])
    assert.deepEqual(
      portMappings(
        [
          {
            name: 'dns',
            hostPort: 53,
            hostIP: '127.0.0.1',
            podPort: {name: 'dns', protocol: 'udp', port: 5353, count: 1, socketActivated: false},
          },
        ],
        apps,
      ),
      [{hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1'}],
    )
    assert.throws(() => portMappings([{name: 'nope', hostPort: 1}], apps), RktError)
  })
  test('two forwards collide on the same protocol and port with an address in common', () => {
    const m = (hostPort: number, protocol = 'tcp', hostIP?: string) => ({
      hostPort,
      containerPort: 80,
      protocol,
      ...(hostIP === undefined ? {} : {hostIP}),
    })
    assert.ok(collides(m(80), m(80)))
    assert.ok(collides(m(80), m(80, 'tcp', '127.0.0.1')), 'every address includes 127.0.0.1')
    assert.ok(!collides(m(80, 'tcp', '127.0.0.2'), m(80, 'tcp', '127.0.0.1')))
    assert.ok(!collides(m(80), m(81)))
    assert.ok(!collides(m(80), m(80, 'udp')))
  })
})
