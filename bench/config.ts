/** Bench settings: the full run (≈ 4–5 min on 2 cores) and `--quick` (under a minute), overridable by flags. */
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
  /** `--only v2-routechat`: just the RouteChat v1-vs-v2 comparison (a codec change's effect, quickly). */
  readonly only: 'v2-routechat' | 'v2-binary' | undefined;
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
    },
    strict: true,
  });
  const quick = values.quick === true;
  if (values.only !== undefined && values.only !== 'v2-routechat' && values.only !== 'v2-binary')
    throw new Error(`--only takes "v2-routechat" or "v2-binary", got "${values.only}"`);
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
    only: values.only as BenchConfig['only'],
  };
}
