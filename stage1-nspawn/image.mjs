// The nspawn stage1's image (core/src/stage1-build/image.ts builds it).
import {SUPPORT_VOCABULARY} from '@rkt/core/stage1-build'
import {HOSTS_FALLBACK} from './dist/etc.js'

export default {
  name: 'nspawn',
  interfaceVersion: 6,
  entrypoints: ['run', 'enter', 'gc', 'stop'],
  helpers: [
    ['dist/supervisor', 'supervisor'],
    ['dist/enter', 'enter'],
  ],
  // systemd-nspawn refuses a directory without /usr and /etc/os-release. hosts-fallback: the /etc/hosts of
  // apps whose image has none, and the head of the one stage0 writes for --hosts-entry (rkt's file).
  files: {
    'usr/.keep': '',
    'etc/os-release': 'NAME="rkt stage1-nspawn"\nID=rkt-stage1\nPRETTY_NAME="rkt stage1-nspawn"\n',
    'etc/hosts-fallback': HOSTS_FALLBACK,
  },
  // The default stage1 (defaults.json).
  default: true,
  supports: [...SUPPORT_VOCABULARY.required, ...SUPPORT_VOCABULARY.optional],
}
