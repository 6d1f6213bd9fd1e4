// @rkt/stage1-conformance: the conformance suite for stage1 images. A black box: it drives the rkt and actool
// CLIs as subprocesses and imports no other package of the project.
export {type Command} from './cli.js'
export {ConformanceInputError} from './errors.js'
export {formatTable} from './report.js'
export {runSuite, type BehaviourReport, type Outcome, type SuiteOptions, type SuiteReport} from './suite.js'
export {BEHAVIOURS, REQUIRED, SUPPORTS_ANNOTATION, parseClaims, type Behaviour} from './vocabulary.js'
