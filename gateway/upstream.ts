/**
 * The gateway's upstream: calls of any method, v1's RouteChat among them, as wire bytes on the
 * gateway's channel pool (upstream/channel-pool.ts, the only module that speaks gRPC). One pool for
 * v1 and v2: its health-checked balancing, rapid-reset retirement and status rules are shared.
 */
import { createMethodUpstream } from './methods/grpc-call.js';
import type { CallOpener } from './session/ports.js';
import type { ChannelPool, PoolStats } from './upstream/channel-pool.js';

export interface Upstream extends CallOpener {
  /** true when at least one core is connected and its health watch says SERVING. */
  checkHealth(timeoutMs: number): Promise<boolean>;
  /** The whole pool's channels and calls (v1 and v2). */
  stats(): PoolStats;
  /** Closes the pool: one gateway, one close. */
  close(): void;
}

export function createUpstream(pool: ChannelPool): Upstream {
  return {
    ...createMethodUpstream(pool),
    checkHealth: (timeoutMs) => pool.checkHealth(timeoutMs),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
