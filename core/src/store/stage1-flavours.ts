// rkt's stage1 flavour names. Scripts and orchestrators written for rkt look its stage1 images up by these names
// (`--stage1-name=coreos.com/rkt/stage1-fly:1.30.0`, `rkt image cat-manifest coreos.com/rkt/stage1-coreos`);
// here each answers for the engine that plays its part. The version rkt gave its stage1 images was its own, so
// a query's `version` label equal to the version `rkt version` prints matches whatever version our image has.
import {RKT_VERSION} from '../version.js'

/** rkt's flavour name → this build's stage1 engine (its image is `rkt-ts/stage1-<engine>`). */
export const RKT_STAGE1_FLAVOURS: Readonly<Record<string, string>> = {
  'coreos.com/rkt/stage1-coreos': 'nspawn', // rkt's default flavour: systemd-nspawn
  'coreos.com/rkt/stage1-fly': 'fly',
  'coreos.com/rkt/stage1-kvm': 'kvm',
}

/** The engine a name means when it is one of rkt's flavour names. */
export function stage1FlavourEngine(name: string): string | undefined {
  return Object.hasOwn(RKT_STAGE1_FLAVOURS, name) ? RKT_STAGE1_FLAVOURS[name] : undefined
}

/** A name-and-labels query with rkt's flavour name replaced by our engine's image name (other queries as given). */
export function withOwnStage1Name<Q extends {readonly name: string; readonly labels: Readonly<Record<string, string>>}>(
  q: Q,
): Q {
  const engine = stage1FlavourEngine(q.name)
  if (engine === undefined) return q
  const labels = {...q.labels}
  if (labels['version'] === RKT_VERSION) delete labels['version']
  return {...q, name: `rkt-ts/stage1-${engine}`, labels}
}
