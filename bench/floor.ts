/**
 * The gateway against the floor of its own stack (`floor-relay.ts`: ws, grpc-js and the same codec,
 * no rules) and, when given, the Go peer (grpc-gateway + grpc-websocket-proxy), all in front of the
 * same core. (a) RouteChat at the peak load shape, the three alternating in each round (the order
 * rotates): CPU per note, notes/s, p50 and p99 of each, and per-round ratios; (b) RSS per idle open
 * stream on a fresh process of each, alternating.
 */
import { type BenchConfig, peakLoadOptions } from './config.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import type { Transport } from './ipc.js';
import { type LoadResult, runLoad } from './load.js';
import { type LoadWorker, type ProductProcess, startPeerGateway, startProduct } from './processes.js';
import { measureScale } from './scale.js';
import { round, type Spread, spread } from './stats.js';
import { type PathSummary, summarize, takeLatitudes } from './throughput.js';

/** `--peer`: the peer-gw binary (started here, in front of the bench's core) or a running peer's URL. */
export type PeerSpec = { readonly binary: string } | { readonly url: string };

export function parsePeer(value: string | undefined): PeerSpec | undefined {
  if (value === undefined) return undefined;
  const url = /^wss?:\/\/([^/]+)\/?$/.exec(value);
  return url ? { url: url[1] as string } : { binary: value };
}

type Relay = 'gateway' | 'floor' | 'peer';

export interface RelaySummary extends Omit<PathSummary, 'percentiles'> {
  /** RSS growth per idle open stream (one note and its reply each), fresh process per round. */
  readonly rssKiBPerIdleStream?: Spread;
}

export interface FloorComparison {
  readonly connections: number;
  readonly window: number;
  readonly idleStreams: number;
  readonly gateway: RelaySummary;
  readonly floor: RelaySummary;
  readonly peer?: RelaySummary & { readonly source: string; readonly sampled: boolean };
  /** Medians of the per-round ratios (each round's runs are back to back, so drift cancels). */
  readonly ratios: {
    readonly cpuVsFloor: number;
    readonly throughputVsFloor: number;
    readonly p99VsFloor: number;
    readonly rssVsFloor: number;
    readonly cpuVsPeer?: number;
    readonly p99VsPeer?: number;
    readonly throughputVsPeer?: number;
    readonly rssVsPeer?: number;
  };
}

const median = (values: readonly number[]) => (values.length ? spread(values).median : 0);
const perRound = (a: readonly number[], b: readonly number[]) =>
  round(median(a.map((x, i) => (b[i] ? x / (b[i] as number) : 0)).filter((r) => r > 0)), 3);
const withoutPercentiles = ({ percentiles: _p, ...rest }: PathSummary) => rest;

export async function compareWithFloorAndPeer(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: ProductProcess,
  peerSpec: PeerSpec | undefined,
  log: (line: string) => void,
): Promise<FloorComparison> {
  const startFloor = () => startProduct('bench/floor-relay.js', ['--core', core.address]);
  const startPeer = async (): Promise<Pick<ProductProcess, 'address' | 'sample' | 'stop'>> => {
    if (!peerSpec) throw new Error('no peer');
    if ('binary' in peerSpec) return startPeerGateway(peerSpec.binary, core.address);
    // A running peer: its process is not ours to sample (CPU and RSS are not reported).
    return {
      address: peerSpec.url,
      sample: () => ({ cpuMs: 0, rssKiB: 0, hwmKiB: 0 }),
      stop: async () => {},
    };
  };
  const relays: Relay[] = peerSpec ? ['gateway', 'floor', 'peer'] : ['gateway', 'floor'];
  const transportOf = (relay: Relay): Transport => (relay === 'peer' ? 'peer' : 'ws');
  const results: Record<Relay, LoadResult[]> = { gateway: [], floor: [], peer: [] };
  const rss: Record<Relay, number[]> = { gateway: [], floor: [], peer: [] };

  const floor = await startFloor();
  const peer = peerSpec ? await startPeer() : undefined;
  try {
    const processOf = { gateway, floor, peer } as const;
    // One unrecorded run each first: a fresh process's first seconds are the JIT's, not the relay's.
    for (const relay of relays)
      await runLoad({
        workers,
        transport: transportOf(relay),
        target: processOf[relay]!.address,
        connections: config.connections,
        window: config.window,
        warmupMs: 0,
        measureMs: config.warmupMs * 2,
        messageBytes: config.messageBytes,
        latBase: takeLatitudes(workers.length * 100_000),
        core,
      });
    for (let round_ = 0; round_ < config.rounds; round_ += 1) {
      const order = relays.map((_, i) => relays[(i + round_) % relays.length] as Relay);
      for (const relay of order) {
        const target = processOf[relay]!;
        const result = await runLoad({
          workers,
          transport: transportOf(relay),
          target: target.address,
          ...peakLoadOptions(config),
          latBase: takeLatitudes(workers.length * 100_000),
          core,
          gateway: target,
        });
        results[relay].push(result);
        log(
          `  round ${round_ + 1} ${relay.padEnd(7)}: ${result.notesPerSec} notes/s, p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms, ${result.gatewayCpuUsPerNote} µs CPU/note`,
        );
      }
    }
  } finally {
    await floor.stop();
    await peer?.stop();
  }

  // Idle streams on a fresh process each: a process that carried load keeps heap it may reuse.
  const idle = { ...config, scaleConnections: config.floorIdleStreams };
  const sampled = !peerSpec || 'binary' in peerSpec;
  for (let round_ = 0; round_ < config.rounds; round_ += 1) {
    const order = relays.map((_, i) => relays[(i + round_) % relays.length] as Relay);
    for (const relay of order) {
      if (relay === 'peer' && !sampled) continue;
      const fresh =
        relay === 'gateway'
          ? await startProduct('gateway/main.js', ['--core', core.address, ...BENCH_GATEWAY_ARGS])
          : relay === 'floor'
            ? await startFloor()
            : await startPeer();
      try {
        const scale = await measureScale(idle, workers, core, fresh, relay === 'peer' ? 'peer' : 'ws');
        if (scale.failed > 0)
          throw new Error(`${relay}: ${scale.failed} idle streams failed: ${scale.firstError}`);
        rss[relay].push(scale.gatewayRssPerConnectionKiB);
        log(
          `  idle ${relay.padEnd(7)}: ${scale.opened} streams, ${scale.gatewayRssPerConnectionKiB} KiB RSS each`,
        );
      } finally {
        await fresh.stop();
      }
    }
  }

  const summary = (relay: Relay): RelaySummary => ({
    ...withoutPercentiles(summarize(results[relay])),
    ...(rss[relay].length ? { rssKiBPerIdleStream: spread(rss[relay]) } : {}),
  });
  const cpu = (relay: Relay) => results[relay].map((r) => r.gatewayCpuUsPerNote ?? 0);
  const p99 = (relay: Relay) => results[relay].map((r) => r.latency.p99Ms);
  const rate = (relay: Relay) => results[relay].map((r) => r.notesPerSec);
  return {
    connections: config.connections,
    window: config.window,
    idleStreams: config.floorIdleStreams,
    gateway: summary('gateway'),
    floor: summary('floor'),
    ...(peerSpec
      ? {
          peer: {
            ...summary('peer'),
            source: 'binary' in peerSpec ? peerSpec.binary : `ws://${peerSpec.url}`,
            sampled,
          },
        }
      : {}),
    ratios: {
      cpuVsFloor: perRound(cpu('gateway'), cpu('floor')),
      throughputVsFloor: perRound(rate('gateway'), rate('floor')),
      p99VsFloor: perRound(p99('gateway'), p99('floor')),
      rssVsFloor: perRound(rss.gateway, rss.floor),
      ...(peerSpec
        ? {
            p99VsPeer: perRound(p99('gateway'), p99('peer')),
            throughputVsPeer: perRound(rate('gateway'), rate('peer')),
            ...(sampled
              ? {
                  cpuVsPeer: perRound(cpu('gateway'), cpu('peer')),
                  rssVsPeer: perRound(rss.gateway, rss.peer),
                }
              : {}),
          }
        : {}),
    },
  };
}
