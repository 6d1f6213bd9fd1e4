// The ESLint rule that keeps core/src free of folder cycles: each folder of core/src sits in a layer (the
// order is declared once, in eslint.config.js) and may import only folders of the layers below its own.
// Files directly in core/src (errors.ts, version.ts, testing.ts) are below every folder. Folders of the
// same layer do not import each other either: they are independent by declaration.
import path from 'node:path'

/**
 * An ESLint plugin with the rule `layers`, for `layers` (bottom first, each a list of folder names) under
 * `root`. `unlayered` folders are neither checked nor restricted (a folder on its way out of core).
 */
export function coreLayers({root, layers, unlayered = []}) {
  const layerOf = new Map(layers.flatMap((folders, i) => folders.map((f) => [f, i])))
  const declared = layers.flat()
  if (new Set(declared).size !== declared.length)
    throw new Error('eslint.config.js: a core/src folder is in two layers')
  /** The folder of a path under root ('.' for the files directly in it) and its layer (-1 for those). */
  const place = (file) => {
    const parts = path.relative(root, file).split(path.sep)
    if (parts[0] === '..' || path.isAbsolute(parts[0])) return undefined
    if (parts.length === 1) return {folder: '.', name: parts[0], layer: -1}
    return {folder: parts[0], name: parts[0], layer: layerOf.get(parts[0])}
  }
  const rule = {
    meta: {
      type: 'problem',
      docs: {description: 'a core/src folder imports only the folders below it (CORE_LAYERS in eslint.config.js)'},
      messages: {
        unplaced:
          'core/src/{{folder}} is not in CORE_LAYERS (eslint.config.js): place it above the folders it imports.',
        upward:
          'core/src/{{from}} may not import core/src/{{to}}: {{to}} is not below {{from}} in CORE_LAYERS (eslint.config.js). Move the shared piece down to where it belongs.',
      },
      schema: [],
    },
    create(context) {
      const from = place(context.filename)
      if (from === undefined || unlayered.includes(from.folder)) return {}
      if (from.layer === undefined) {
        return {Program: (node) => context.report({node, messageId: 'unplaced', data: {folder: from.folder}})}
      }
      const check = (source) => {
        if (source?.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return
        const to = place(path.resolve(path.dirname(context.filename), source.value))
        if (to === undefined || to.folder === from.folder || unlayered.includes(to.folder)) return
        if (to.layer === undefined || to.layer >= from.layer)
          context.report({node: source, messageId: 'upward', data: {from: from.name, to: to.name}})
      }
      return {
        ImportDeclaration: (n) => check(n.source),
        ExportNamedDeclaration: (n) => check(n.source),
        ExportAllDeclaration: (n) => check(n.source),
        ImportExpression: (n) => check(n.source),
      }
    },
  }
  return {rules: {layers: rule}}
}
