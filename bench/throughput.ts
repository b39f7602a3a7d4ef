/**
 * Direct gRPC vs the gateway, alternating within each round so that drift (other tenants, thermal,
 * the core's note store filling) hits both paths alike: closed-loop peak, then open loop at half of
 * the gateway's peak for the latency the gateway adds.
 */
import type { BenchConfig } from './config.js';
import { type LoadResult, runLoad } from './load.js';
import type { LoadWorker, ProductProcess } from './processes.js';
import { mergeHistograms, percentileCurve, round, type Spread, spread } from './stats.js';

export interface PathSummary {
  readonly notesPerSec: Spread;
  readonly p50Ms: Spread;
  readonly p99Ms: Spread;
  readonly maxMs: Spread;
  readonly coreCpuUsPerNote: Spread;
  readonly gatewayCpuUsPerNote?: Spread;
  readonly gatewayRssMiB?: Spread;
  readonly gatewayCpuPercent?: Spread;
  readonly errors: number;
  readonly outOfOrder: number;
  /** All rounds merged, for the chart. */
  readonly percentiles: { percentile: number; ms: number }[];
}

export interface Comparison {
  readonly rounds: { direct: Omit<LoadResult, 'histogram'>; gateway: Omit<LoadResult, 'histogram'> }[];
  readonly direct: PathSummary;
  readonly gateway: PathSummary;
}

let nextLatitude = 1;
/** Each run gets latitudes of its own, so every note is alone at its location. */
export function takeLatitudes(count: number): number {
  const base = nextLatitude;
  nextLatitude += count;
  return base;
}

export function summarize(results: readonly LoadResult[]): PathSummary {
  const pick = (f: (r: LoadResult) => number | undefined) => {
    const values = results.map(f).filter((v): v is number => v !== undefined);
    return values.length ? spread(values) : undefined;
  };
  const gatewayCpu = pick((r) => r.gatewayCpuUsPerNote);
  const gatewayRss = pick((r) => r.gatewayRssMiB);
  const gatewayPct = pick((r) => r.gatewayCpuPercent);
  return {
    notesPerSec: spread(results.map((r) => r.notesPerSec)),
    p50Ms: spread(results.map((r) => r.latency.p50Ms)),
    p99Ms: spread(results.map((r) => r.latency.p99Ms)),
    maxMs: spread(results.map((r) => r.latency.maxMs)),
    coreCpuUsPerNote: spread(results.map((r) => r.coreCpuUsPerNote)),
    ...(gatewayCpu ? { gatewayCpuUsPerNote: gatewayCpu } : {}),
    ...(gatewayRss ? { gatewayRssMiB: gatewayRss } : {}),
    ...(gatewayPct ? { gatewayCpuPercent: gatewayPct } : {}),
    errors: results.reduce((s, r) => s + r.errors, 0),
    outOfOrder: results.reduce((s, r) => s + r.outOfOrder, 0),
    percentiles: percentileCurve(mergeHistograms(results.flatMap((r) => r.histogram))),
  };
}

const withoutHistogram = ({ histogram: _h, ...rest }: LoadResult) => rest;

export async function compare(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: ProductProcess,
  load: { window: number } | { rate: number },
  log: (line: string) => void,
): Promise<Comparison> {
  const byPath: Record<'grpc' | 'ws', LoadResult[]> = { grpc: [], ws: [] };
  const rounds: Comparison['rounds'] = [];
  for (let round_ = 0; round_ < config.rounds; round_ += 1) {
    const order: ('grpc' | 'ws')[] = round_ % 2 === 0 ? ['grpc', 'ws'] : ['ws', 'grpc'];
    for (const transport of order) {
      const result = await runLoad({
        workers,
        transport,
        target: transport === 'grpc' ? core.address : gateway.address,
        connections: config.connections,
        ...load,
        warmupMs: config.warmupMs,
        measureMs: config.measureMs,
        messageBytes: config.messageBytes,
        latBase: takeLatitudes(workers.length * 100_000),
        core,
        ...(transport === 'ws' ? { gateway } : {}),
      });
      byPath[transport].push(result);
      const l = result.latency;
      log(
        `  round ${round_ + 1} ${transport === 'grpc' ? 'direct ' : 'gateway'}: ${result.notesPerSec} notes/s, p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, max ${l.maxMs} ms` +
          (result.gatewayCpuUsPerNote !== undefined
            ? `, gateway ${result.gatewayCpuUsPerNote} µs CPU/note, ${result.gatewayRssMiB} MiB RSS`
            : ''),
      );
    }
    rounds.push({
      direct: withoutHistogram(byPath.grpc[round_]!),
      gateway: withoutHistogram(byPath.ws[round_]!),
    });
  }
  return { rounds, direct: summarize(byPath.grpc), gateway: summarize(byPath.ws) };
}

export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : round(a / b, 3);
}
