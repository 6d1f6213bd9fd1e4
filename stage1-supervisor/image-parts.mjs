// What an engine running the supervisor puts in its image (its image.mjs spreads these into its declaration):
// the supervisor and the enter helper, linked statically since the pod's root has no libc, and the /etc/hosts
// of apps whose image has none.
import path from 'node:path'

import {HOSTS_FALLBACK} from './dist/etc.js'

export const SUPERVISOR_HELPERS = [
  [path.join(import.meta.dirname, 'dist', 'supervisor'), 'supervisor'],
  [path.join(import.meta.dirname, 'dist', 'enter'), 'enter'],
  [path.join(import.meta.dirname, 'dist', 'iomux'), 'iomux'],
]

export const SUPERVISOR_FILES = {'etc/hosts-fallback': HOSTS_FALLBACK}
