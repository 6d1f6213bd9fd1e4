// The actool command table (oclif's explicit discovery).
import type {Command} from '@oclif/core'

import Build from './build.js'
import CatManifest from './cat-manifest.js'
import Discover from './discover.js'
import PatchManifest from './patch-manifest.js'
import Validate from './validate.js'

export const ACTOOL_COMMANDS: Record<string, Command.Class> = {
  build: Build,
  'cat-manifest': CatManifest,
  discover: Discover,
  'patch-manifest': PatchManifest,
  validate: Validate,
}
