import fs from 'node:fs'
import path from 'node:path'

import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import tseslint from 'typescript-eslint'

import {coreLayers} from './scripts/eslint-core-layers.mjs'

// core/src's folders, bottom first. A folder imports only folders of the layers below its own (not its peers),
// so core/src has no folder cycle; a new folder must be placed here. Tests may import any folder.
const CORE_LAYERS = [
  ['schema', 'sys', 'config'],
  ['contract', 'aci', 'http'],
  ['store', 'image', 'trust', 'mds'],
  ['docker', 'stage1-build', 'scaffold'],
  ['fetch', 'stage1'],
  ['pod'],
  ['cli'],
  ['commands'],
]

// The engines are the workspaces that declare a stage1 image (image.mjs). No stage1-* package imports an
// engine other than itself, by package name or by a relative path into its folder: what two engines share
// lives in a package of its own (@rkt/stage1-supervisor) or in the SDK (@rkt/core/stage1).
const packages = fs.readdirSync(import.meta.dirname).filter((dir) => dir.startsWith('stage1-'))
const engines = packages.filter((dir) => fs.existsSync(path.join(import.meta.dirname, dir, 'image.mjs')))
const engineIsolation = packages.map((pkg) => ({
  files: [`${pkg}/**`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: engines
          .filter((other) => other !== pkg)
          .map((other) => ({
            regex: `(^|/)${other}(/|$)`,
            message: `${pkg} imports the engine ${other}: no engine imports another; move what both need to @rkt/stage1-supervisor or the SDK (@rkt/core/stage1).`,
          })),
      },
    ],
  },
}))

export default tseslint.config(
  {ignores: ['**/dist/**', '**/node_modules/**', '.bench/**']},
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/consistent-type-imports': 'error',
      // OpenPGP.js verify() reports signatures from unknown keys too; only expectSigned makes it fail
      // closed (docs/security.md SEC-49). Every verify call must go through trust/verify.ts.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='verify'][callee.object.name='openpgp']",
          message: 'Call openpgp.verify only from core/src/trust/verify.ts, with expectSigned: true.',
        },
      ],
    },
  },
  {
    files: ['core/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    // net/ is leaving core for the net-plugins workspace; until then its pod <-> net edges are not checked.
    plugins: {core: coreLayers({root: `${import.meta.dirname}/core/src`, layers: CORE_LAYERS})},
    rules: {'core/layers': 'error'},
  },
  {
    // node:test's test()/describe() return promises the runner tracks itself.
    files: ['**/*.test.ts'],
    rules: {'@typescript-eslint/no-floating-promises': 'off'},
  },
  ...engineIsolation,
  {
    files: ['core/src/trust/verify.ts'],
    rules: {'no-restricted-syntax': 'off'},
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {console: 'readonly', process: 'readonly', performance: 'readonly'},
    },
  },
  prettier,
)
