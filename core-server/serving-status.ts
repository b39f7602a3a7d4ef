/**
 * The core's gRPC health status as one rule: SERVING only while nothing holds it down. Each cause
 * (the note store unreachable, the server draining) holds or releases it under its own name, so
 * one cause clearing cannot undo another: a store that comes back during a drain keeps the core
 * NOT_SERVING.
 */
import type { HealthImplementation } from 'grpc-health-check';

export interface ServingStatus {
  /** `down: true` holds the status at NOT_SERVING for `reason` until the same reason releases it. */
  hold(reason: string, down: boolean): void;
  readonly serving: boolean;
}

export function createServingStatus(
  health: HealthImplementation,
  services: readonly string[],
): ServingStatus {
  const holds = new Set<string>();
  const publish = () => {
    const status = holds.size === 0 ? 'SERVING' : 'NOT_SERVING';
    for (const service of services) health.setStatus(service, status);
  };
  publish();
  return {
    hold(reason, down) {
      const had = holds.has(reason);
      if (down === had) return;
      if (down) holds.add(reason);
      else holds.delete(reason);
      publish();
    },
    get serving() {
      return holds.size === 0;
    },
  };
}
