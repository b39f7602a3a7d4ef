/** Bench settings: the full run (≈ 4–5 min on 2 cores) and `--quick` (under a minute), overridable by flags. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface BenchConfig {
  readonly quick: boolean;
  readonly outDir: string;
  readonly rounds: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Connections (streams) for the throughput and latency runs, same on both paths. */
  readonly connections: number;
  /** Notes in flight per connection in the closed-loop (peak) runs. */
  readonly window: number;
  readonly messageBytes: number;
  readonly loadWorkers: number;
  readonly scaleConnections: number;
  readonly slowNotes: number;
  readonly slowMessageBytes: number;
  readonly socketHighWaterMark: number;
  readonly churnMs: number;
  readonly churnConcurrency: number;
  /** Protocol v2 at scale: sockets, each with this many open RouteChat streams. */
  readonly v2ScaleSockets: number;
  readonly v2StreamsPerSocket: number;
  /** Idle streams per relay for the floor comparison's RSS (fresh process each round). */
  readonly floorIdleStreams: number;
  /**
   * `--peer PATH|ws://HOST:PORT`: the Go peer gateway's binary, or a running one (floor.ts); by
   * default `bench/.peers/peer-gw` when it has been built.
   */
  readonly peer: string | undefined;
  /**
   * `--only v2-routechat`: just the RouteChat v1-vs-v2 comparison (a codec change's effect, quickly);
   * `--only v2-binary`: just v2's JSON against its binary frames; `--only floor`: just the gateway
   * against the floor (and the peer).
   */
  readonly only: (typeof ONLY)[number] | undefined;
  /** `--soak 30m`: the soak run alone, at half of peak, for this long (ms). */
  readonly soakMs: number | undefined;
  /** `--soak-rate N`: the soak's notes/s instead of half of the peak it measures first (a shared host). */
  readonly soakRate: number | undefined;
}

const ONLY = ['v2-routechat', 'v2-binary', 'floor'] as const;

/**
 * Where `../shared/tools/setup-peers.sh bench/.peers` puts the Go peer (gitignored): when it is
 * there, every run measures it without `--peer`. Relative to the compiled dist/bench/config.js.
 */
export const BUILT_PEER = fileURLToPath(new URL('../../bench/.peers/peer-gw', import.meta.url));

/** `30m`, `2h`, `90s` → ms. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(value);
  if (!match) throw new Error(`--soak takes a duration like 90s, 30m or 2h, got "${value}"`);
  return Math.round(Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h']);
}

export function readConfig(argv: readonly string[]): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      rounds: { type: 'string' },
      'measure-ms': { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      'scale-connections': { type: 'string' },
      'v2-scale-sockets': { type: 'string' },
      only: { type: 'string' },
      peer: { type: 'string' },
      soak: { type: 'string' },
      'soak-rate': { type: 'string' },
    },
    strict: true,
  });
  const quick = values.quick === true;
  const only = ONLY.find((name) => name === values.only);
  if (values.only !== undefined && !only)
    throw new Error(`--only takes ${ONLY.map((name) => `"${name}"`).join(', ')}, got "${values.only}"`);
  const num = (value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${value}"`);
    return n;
  };
  return {
    quick,
    outDir: values.out ?? new URL('./results/', new URL('../../bench/', import.meta.url)).pathname,
    rounds: num(values.rounds, quick ? 1 : 3),
    warmupMs: quick ? 500 : 1000,
    measureMs: num(values['measure-ms'], quick ? 1500 : 5000),
    connections: num(values.connections, quick ? 32 : 64),
    window: num(values.window, quick ? 4 : 8),
    messageBytes: 64,
    loadWorkers: 2,
    scaleConnections: num(values['scale-connections'], quick ? 500 : 10_000),
    slowNotes: quick ? 150 : 400,
    slowMessageBytes: 1024,
    socketHighWaterMark: 1024 * 1024,
    churnMs: quick ? 1500 : 5000,
    churnConcurrency: quick ? 8 : 16,
    // 1,000 × 10 = 10,000 streams, as many as v1's scale connections: figures compare like for like.
    v2ScaleSockets: num(values['v2-scale-sockets'], quick ? 50 : 1000),
    v2StreamsPerSocket: 10,
    floorIdleStreams: quick ? 300 : 3000,
    peer: values.peer ?? (existsSync(BUILT_PEER) ? BUILT_PEER : undefined),
    only,
    soakMs: values.soak === undefined ? undefined : parseDuration(values.soak),
    soakRate: values['soak-rate'] === undefined ? undefined : num(values['soak-rate'], 0),
  };
}

/** The closed-loop load at peak, as every comparison at peak runs it (spread into runLoad's options). */
export const peakLoadOptions = (config: BenchConfig) => ({
  connections: config.connections,
  window: config.window,
  warmupMs: config.warmupMs,
  measureMs: config.measureMs,
  messageBytes: config.messageBytes,
});
