/**
 * Messages between the bench orchestrator (main.ts) and its load workers (load-worker.ts), over the
 * child_process IPC channel. Histograms travel as hdr-histogram compressed base64 (values in µs).
 */

/**
 * grpc: direct to the core; ws: the gateway's v1 RouteChat socket (or the floor relay, which speaks
 * it too); ws2: protocol v2 streams (JSON frames); ws2bin: the same over v2's binary frames
 * (`gateway.v2.binary`); peer: the Go peer gateway's WebSocket (peer-connection.ts).
 */
export type Transport = 'grpc' | 'ws' | 'ws2' | 'ws2bin' | 'peer';

export interface OpenJob {
  readonly type: 'open';
  readonly transport: Transport;
  /** `host:port` of the core (grpc) or the gateway (ws). */
  readonly target: string;
  readonly connections: number;
  /** Latitude of this worker's first connection; each connection uses its own latitude. */
  readonly latBase: number;
  readonly messageBytes: number;
  /** How many connections may be opening at once. */
  readonly openConcurrency: number;
  readonly protoPath: string;
  /** ws2 only: streams sharing one WebSocket (default 1). */
  readonly streamsPerSocket?: number;
}

/** Closed loop (`window` notes in flight per connection) or open loop (`rate` notes/s for this worker). */
export interface LoadJob {
  readonly type: 'load';
  readonly window?: number;
  readonly rate?: number;
}

export interface SlowJob {
  readonly type: 'slow';
  readonly notes: number;
  readonly latitude: number;
  /** false: the same notes from a client that keeps reading (the control run). */
  readonly pause: boolean;
}

export interface ChurnJob {
  readonly type: 'churn';
  readonly target: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly latBase: number;
  readonly messageBytes: number;
}

export type WorkerJob =
  | OpenJob
  | LoadJob
  | { readonly type: 'record' }
  | { readonly type: 'stop-record' }
  | { readonly type: 'close' }
  | SlowJob
  | { readonly type: 'slow-finish'; readonly timeoutMs: number }
  | ChurnJob
  | { readonly type: 'exit' };

export interface Recorded {
  readonly replies: number;
  readonly histogram: string;
  readonly errors: number;
  readonly outOfOrder: number;
}

export type WorkerReply =
  | {
      readonly type: 'opened';
      readonly ms: number;
      readonly opened: number;
      readonly failed: number;
      readonly firstError?: string;
    }
  | ({ readonly type: 'recorded' } & Recorded)
  | { readonly type: 'closed'; readonly ms: number }
  | { readonly type: 'slow-sent' }
  | { readonly type: 'slow-finished'; readonly received: number; readonly status: string }
  | {
      readonly type: 'churned';
      readonly completed: number;
      readonly failed: number;
      readonly histogram: string;
      readonly ms: number;
    }
  | { readonly type: 'fatal'; readonly message: string };

/** Replies the core sends for `n` notes at one location: note k gets min(k, cap) notes back. */
export function repliesForNotesAtOneLocation(n: number, cap = 100): number {
  let total = 0;
  for (let k = 1; k <= n; k += 1) total += Math.min(k, cap);
  return total;
}
