// The host ports a pod forwards, read from its pod manifest: what the engine's port forwarding installs, and
// what stage0 compares between pods before a new one starts (a host port goes to one pod at a time).
import type {App, ExposedPort} from '../schema/index.js'

import {RktError} from '../errors.js'

/** A forwarded port, as the portmap plugin's `portMappings` capability takes it. */
export interface PortMapping {
  readonly hostPort: number
  readonly containerPort: number
  readonly protocol: string
  /** Absent: every host address. */
  readonly hostIP?: string
}

/**
 * The pod manifest's forwarded ports as portmap mappings: each names an app port (stage0 checked that exactly
 * one app has it) unless it carries its own podPort.
 */
export function portMappings(ports: readonly ExposedPort[], apps: readonly (App | undefined)[]): PortMapping[] {
  return ports.map((ep) => {
    const pod = ep.podPort ?? apps.flatMap((a) => a?.ports ?? []).find((p) => p.name === ep.name)
    if (pod === undefined) {
      throw new RktError(`port "${ep.name}" is not a port of any app in the pod`, {
        code: 'EPORT',
        hint: 'forward only ports the images declare (their app.ports)',
      })
    }
    return {
      hostPort: ep.hostPort,
      containerPort: pod.port,
      protocol: pod.protocol ?? 'tcp',
      ...(ep.hostIP === undefined ? {} : {hostIP: ep.hostIP}),
    }
  })
}

/** Two mappings claim the same host port: same protocol and port, and an address in common. */
export function collides(a: PortMapping, b: PortMapping): boolean {
  return (
    a.hostPort === b.hostPort &&
    a.protocol === b.protocol &&
    (a.hostIP === undefined || b.hostIP === undefined || a.hostIP === b.hostIP)
  )
}
