// `rkt help COMMAND` pages, as users read them: every command rkt lists (under its topics too) has a page with
// examples of that very command, `rkt COMMAND --help` shows the same page, and an unknown command is a usage
// error. The same for actool and docker2aci.
import {execa} from 'execa'
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {ACTOOL, DOCKER2ACI, RKT} from '../util/harness.js'

async function cli(bin: string, args: readonly string[]) {
  const r = await execa(bin, args, {reject: false, stdin: 'ignore'})
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

/** The entries of a section (`COMMANDS`, `TOPICS`) of a help page: the words before the summary. */
function section(page: string, name: string): string[] {
  const m = new RegExp(`^${name}\\n((?:  .*\\n?)+)`, 'm').exec(page)
  return (m?.[1] ?? '')
    .split('\n')
    .filter((l) => /^ {2}\S/.test(l))
    .map((l) => l.trim().split(/ {2,}/)[0]!)
}

/** Every command a CLI's help lists, topics opened. */
async function listed(bin: string): Promise<string[]> {
  const top = await cli(bin, ['help'])
  assert.equal(top.exitCode, 0, top.stderr)
  const commands = section(top.stdout, 'COMMANDS')
  for (const topic of section(top.stdout, 'TOPICS')) {
    const page = await cli(bin, ['help', topic])
    assert.equal(page.exitCode, 0, page.stderr)
    commands.push(...section(page.stdout, 'COMMANDS'))
  }
  return commands
}

async function checkPages(bin: string, name: string, expectAtLeast: number): Promise<void> {
  const commands = await listed(bin)
  assert.ok(commands.length >= expectAtLeast, `${name} lists ${commands.join(', ')}`)
  for (const command of commands) {
    const words = command.split(' ')
    const page = await cli(bin, ['help', ...words])
    assert.equal(page.exitCode, 0, `${name} help ${command}: ${page.stderr}`)
    const examples = page.stdout.slice(page.stdout.indexOf('\nEXAMPLES\n'))
    assert.ok(page.stdout.includes('\nEXAMPLES\n'), `${name} help ${command} has examples`)
    assert.ok(
      new RegExp(`\\$ ${name}( --?\\S+)* ${command}\\b`).test(examples),
      `an example of ${name} ${command} runs it:\n${examples}`,
    )
    const flag = await cli(bin, [...words, '--help'])
    assert.equal(flag.exitCode, 0)
    assert.equal(flag.stdout, page.stdout, `${name} ${command} --help is the same page`)
  }
}

describe('help pages', () => {
  test('rkt: every command has a page with examples; --help shows the same', async () => {
    await checkPages(RKT, 'rkt', 25)
    const bad = await cli(RKT, ['help', 'nope'])
    assert.equal(bad.exitCode, 2)
    assert.match(bad.stderr, /unknown command "nope" for "rkt"[\s\S]*rkt help/)
  })

  test('actool: every command has a page with examples', async () => {
    await checkPages(ACTOOL, 'actool', 5)
  })

  test('docker2aci: its one page has examples; help and --help agree', async () => {
    const page = await cli(DOCKER2ACI, ['--help'])
    assert.equal(page.exitCode, 0)
    assert.match(page.stdout, /\nEXAMPLES\n[\s\S]*\$ docker2aci /)
    assert.equal((await cli(DOCKER2ACI, ['help'])).stdout, page.stdout)
  })
})
