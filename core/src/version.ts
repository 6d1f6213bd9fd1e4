// Versions this implementation reports. rkt's interface version is what orchestrators check
// (Nomad requires rkt >= 1.27.0 and parses `rkt Version:` and `appc Version:`).

/** The rkt release whose CLI, on-disk layout and stage1 contract this implementation follows. */
export const RKT_VERSION = '1.30.0'
/** The App Container spec version of the schema (last release of appc). */
export const APPC_VERSION = '0.8.11'

const GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
}

/** The lines of `rkt version`, in rkt's order and spelling. */
export function versionLines(): string[] {
  return [
    `rkt Version: ${RKT_VERSION}`,
    `appc Version: ${APPC_VERSION}`,
    // rkt printed the Go toolchain here; this implementation's counterpart is Node.js.
    `Go Version: none (Node.js ${process.version})`,
    `Go OS/Arch: ${process.platform}/${GO_ARCH[process.arch] ?? process.arch}`,
    'Features: -TPM -SDJOURNAL',
  ]
}
