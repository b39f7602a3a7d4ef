/**
 * The gateway's upstream: calls of any method, v1's RouteChat among them, as wire bytes on the
 * gateway's channel pool (channel-pool.ts, the only module that speaks gRPC). One pool for v1 and
 * v2: its health-checked balancing, rapid-reset retirement and status rules are shared. Every kind
 * goes out as a bidi HTTP/2 stream; the stream machine half-closes after a unary request.
 */
import type { CallOpener } from './calls.js';
import type { ChannelPool, PoolStats } from './channel-pool.js';
import type { CoreReport } from './core-diagnosis.js';

/** grpc-js writes Buffers; a codec that made one already (v1's) is passed as it is, others get a view, no copy. */
const serialize = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const deserialize = (bytes: Buffer): Uint8Array => bytes;

export interface Upstream extends CallOpener {
  /** true when at least one core is connected and its health watch says SERVING. */
  checkHealth(timeoutMs: number): Promise<boolean>;
  /** Each core asked directly why it is (not) serving: for /readyz's reason and the log. */
  diagnoseCores(timeoutMs: number): Promise<readonly CoreReport[]>;
  /** The whole pool's channels and calls (v1 and v2). */
  stats(): PoolStats;
  /** Closes the pool: one gateway, one close. */
  close(): void;
}

export function createUpstream(pool: ChannelPool): Upstream {
  return {
    open: (method, metadata, callOptions, handlers) =>
      pool.call({ path: method.path, serialize, deserialize }, metadata, callOptions, handlers),
    checkHealth: (timeoutMs) => pool.checkHealth(timeoutMs),
    diagnoseCores: (timeoutMs) => pool.diagnoseCores(timeoutMs),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
