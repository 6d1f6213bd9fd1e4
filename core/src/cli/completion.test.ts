import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {RKT_COMMANDS} from '../commands/rkt/index.js'
import {completionScript} from './completion.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkt-completion-'))
process.on('exit', () => fs.rmSync(dir, {recursive: true, force: true}))
const bashScript = path.join(dir, 'rkt.bash')
fs.writeFileSync(bashScript, completionScript('bash', 'rkt', RKT_COMMANDS))

/**
 * What real bash completes for the command line `line` (the cursor at its end): the function `complete -p`
 * registered for rkt, called as bash's programmable completion calls it (COMP_WORDS split at bash's
 * COMP_WORDBREAKS, which include '=').
 */
function bashComplete(line: string): string[] {
  const driver = `
source "$1"
spec=$(complete -p rkt) || exit 3
fn=\${spec##*-F }; fn=\${fn%% *}
COMP_LINE="$2"; COMP_POINT=\${#COMP_LINE}
COMP_WORDS=(); w=''
for ((i = 0; i < \${#COMP_LINE}; i++)); do
  ch=\${COMP_LINE:i:1}
  if [[ $ch == ' ' ]]; then [[ -n $w ]] && COMP_WORDS+=("$w"); w=''
  elif [[ $ch == '=' ]]; then [[ -n $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=('='); w=''
  else w+=$ch; fi
done
COMP_WORDS+=("$w"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
"$fn" rkt "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
`
  const out = execFileSync('bash', ['-c', driver, 'bash', bashScript, line], {encoding: 'utf8'})
  return out.split('\n').filter((w) => w !== '')
}

test('bash: commands, topics, flags and flag values, generated from the command table', () => {
  assert.deepEqual(bashComplete('rkt ima'), ['image'])
  assert.deepEqual(bashComplete('rkt image l'), ['list'])
  assert.deepEqual(bashComplete('rkt --debug image re'), ['rebuild-index', 'render'])
  assert.deepEqual(bashComplete('rkt fetch --pu'), ['--pull-policy'])
  assert.deepEqual(bashComplete('rkt fetch --pull-policy '), ['new', 'update', 'never'])
  assert.deepEqual(bashComplete('rkt fetch --pull-policy=u'), ['update'])
  assert.deepEqual(bashComplete('rkt completion '), ['bash', 'zsh'])
  assert.deepEqual(bashComplete('rkt help stage1 '), ['new', 'test'])
  // run parses its own command line; its declared (help) flags complete all the same.
  assert.ok(bashComplete('rkt run --').includes('--net'))
  assert.ok(bashComplete('rkt run --').includes('--insecure-options'), 'global flags too')
  // A file argument: no candidates, so bash falls back to file names (complete -o default).
  assert.deepEqual(bashComplete('rkt fetch '), [])
  assert.match(execFileSync('bash', ['-c', `source ${bashScript}; complete -p rkt`], {encoding: 'utf8'}), /-o default/)
})

test('bash: every command of the table completes from its first word on', () => {
  for (const id of Object.keys(RKT_COMMANDS)) {
    const parts = id.split(':')
    const line = `rkt ${[...parts.slice(0, -1), parts.at(-1)!.slice(0, -1)].join(' ')}`
    assert.ok(bashComplete(line).includes(parts.at(-1)!), `${line} completes to ${id}`)
    const offered = bashComplete(`rkt ${parts.join(' ')} --`)
    for (const [name, f] of Object.entries(RKT_COMMANDS[id]!.flags ?? {}))
      if (!f.hidden) assert.ok(offered.includes(`--${name}`), `${id} --${name}`)
  }
})

test('zsh: the script parses, registers with compdef, and gives the same candidates', () => {
  const zshScript = path.join(dir, 'rkt.zsh')
  fs.writeFileSync(zshScript, completionScript('zsh', 'rkt', RKT_COMMANDS))
  const out = execFileSync(
    'zsh',
    [
      '-c',
      `autoload -Uz compinit && compinit -u -d ${dir}/zcompdump; source ${zshScript}; print -r -- $_comps[rkt]; ` +
        `__rkt_complete '' image; __rkt_complete '--pull-policy=n' fetch; __rkt_complete '--ins' fetch`,
    ],
    {encoding: 'utf8'},
  )
  const [registered, image, policy, flags] = out.split('\n')
  assert.equal(registered, '___rkt')
  assert.deepEqual(image!.split(' '), [
    'cat-manifest',
    'export',
    'extract',
    'gc',
    'list',
    'rebuild-index',
    'render',
    'rm',
    'verify',
  ])
  assert.equal(policy, 'new update never')
  assert.ok(flags!.split(' ').includes('--insecure-options'))
})

/**
 * What an interactive zsh (in a pseudo-terminal, zsh's zpty) shows after typing `typed` and TAB, with the
 * script sourced after compinit.
 */
function zshTyped(typed: string): string {
  const zshScript = path.join(dir, 'rkt.zsh')
  fs.writeFileSync(zshScript, completionScript('zsh', 'rkt', RKT_COMMANDS))
  const driver = `
zmodload zsh/zpty
zpty -b z 'zsh -f -i'
zpty -w z "PS1='%% '; autoload -Uz compinit; compinit -u -d $2/zcompdump-i; source $1"
zpty -w -n z "$3"$'\\t'
sleep 1
zpty -w z $'\\x15print END'
zpty -r z out '*END*'
zpty -d z
print -r -- "$out"
`
  return execFileSync('zsh', ['-f', '-c', driver, 'zsh', zshScript, dir, typed], {encoding: 'latin1', timeout: 20_000})
}

test('zsh, interactively: TAB completes a command word and a flag value', () => {
  assert.match(zshTyped('rkt image reb'), /rkt image rebuild-index/)
  assert.match(zshTyped('rkt fetch --pull-policy=nev'), /--pull-policy=never/)
})
