/**
 * Protocol v2 against v1 on the same gateway process: (a) RouteChat at the same load shape (N
 * sockets, one RouteChat stream each, a window of notes in flight), alternating v1 and v2 in each
 * round, gateway CPU per note side by side; (b) many streams per socket (sockets × streams, each
 * proved by one note and its reply), the gateway's RSS per stream, against v1's RSS per connection.
 */
import { type BenchConfig, peakLoadOptions } from './config.js';
import type { Transport } from './ipc.js';
import { type LoadResult, runLoad } from './load.js';
import { type LoadWorker, PROTO_PATH, type ProductProcess } from './processes.js';
import { round } from './stats.js';
import { type PathSummary, ratio, summarize, takeLatitudes } from './throughput.js';

export interface V2RouteChatComparison {
  readonly connections: number;
  readonly window: number;
  readonly v1: Omit<PathSummary, 'percentiles'>;
  readonly v2: Omit<PathSummary, 'percentiles'>;
  /** Medians, v2 / v1: gateway CPU per note (below 1: v2 is cheaper) and notes/s. */
  readonly gatewayCpuPerNoteRatio: number;
  readonly throughputRatio: number;
}

export interface V2ScaleResult {
  readonly sockets: number;
  readonly streamsPerSocket: number;
  readonly streams: number;
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly openSeconds: number;
  readonly gatewayRssBeforeMiB: number;
  readonly gatewayRssAfterMiB: number;
  readonly gatewayRssPerStreamKiB: number;
  readonly gatewayRssPerSocketKiB: number;
  /** From the same run's v1 scale phase: RSS per connection (one socket + one stream). */
  readonly v1GatewayRssPerConnectionKiB: number;
  /** v2's RSS per stream / v1's RSS per connection. */
  readonly rssPerStreamVsV1Connection: number;
}

/** v2's two encodings at the same load shape, alternating in each round. */
export interface V2EncodingComparison {
  readonly connections: number;
  readonly window: number;
  readonly json: Omit<PathSummary, 'percentiles'>;
  readonly binary: Omit<PathSummary, 'percentiles'>;
  /** Medians, binary / JSON: gateway CPU per note (below 1: binary is cheaper) and notes/s. */
  readonly gatewayCpuPerNoteRatio: number;
  readonly throughputRatio: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withoutPercentiles = ({ percentiles: _p, ...rest }: PathSummary) => rest;

/**
 * Two transports through the same gateway process at the same load shape (closed loop), the order
 * alternating each round: their results per transport.
 */
async function alternate<T extends Transport>(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: ProductProcess,
  [first, second]: readonly [T, T],
  label: (transport: T) => string,
  log: (line: string) => void,
): Promise<Record<T, LoadResult[]>> {
  const byPath = { [first]: [], [second]: [] } as unknown as Record<T, LoadResult[]>;
  for (let round_ = 0; round_ < config.rounds; round_ += 1) {
    for (const transport of round_ % 2 === 0 ? [first, second] : [second, first]) {
      const result = await runLoad({
        workers,
        transport,
        target: gateway.address,
        ...peakLoadOptions(config),
        latBase: takeLatitudes(workers.length * 100_000),
        core,
        gateway,
      });
      byPath[transport].push(result);
      log(
        `  round ${round_ + 1} ${label(transport)}: ${result.notesPerSec} notes/s, p50 ${result.latency.p50Ms} ms, gateway ${result.gatewayCpuUsPerNote} µs CPU/note`,
      );
    }
  }
  return byPath;
}

export async function compareV1V2(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: ProductProcess,
  log: (line: string) => void,
): Promise<V2RouteChatComparison> {
  const byPath = await alternate(
    config,
    workers,
    core,
    gateway,
    ['ws', 'ws2'],
    (transport) => (transport === 'ws' ? 'v1' : 'v2'),
    log,
  );
  const v1 = summarize(byPath.ws);
  const v2 = summarize(byPath.ws2);
  return {
    connections: config.connections,
    window: config.window,
    v1: withoutPercentiles(v1),
    v2: withoutPercentiles(v2),
    gatewayCpuPerNoteRatio: ratio(v2.gatewayCpuUsPerNote?.median ?? 0, v1.gatewayCpuUsPerNote?.median ?? 0),
    throughputRatio: ratio(v2.notesPerSec.median, v1.notesPerSec.median),
  };
}

/**
 * RouteChat over v2 with JSON frames against binary frames (gateway.v2.binary), same gateway
 * process, same load shape, the order alternating each round (as ab.ts does for builds): the gateway
 * CPU per note is what the binary encoding saves (no proto3 JSON either way, only a check of the
 * request bytes and none of the response's).
 */
export async function compareV2Encodings(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: ProductProcess,
  log: (line: string) => void,
): Promise<V2EncodingComparison> {
  const byPath = await alternate(
    config,
    workers,
    core,
    gateway,
    ['ws2', 'ws2bin'],
    (transport) => (transport === 'ws2' ? 'JSON' : 'binary'),
    log,
  );
  const json = summarize(byPath.ws2);
  const binary = summarize(byPath.ws2bin);
  return {
    connections: config.connections,
    window: config.window,
    json: withoutPercentiles(json),
    binary: withoutPercentiles(binary),
    gatewayCpuPerNoteRatio: ratio(
      binary.gatewayCpuUsPerNote?.median ?? 0,
      json.gatewayCpuUsPerNote?.median ?? 0,
    ),
    throughputRatio: ratio(binary.notesPerSec.median, json.notesPerSec.median),
  };
}

async function openStreams(
  workers: readonly LoadWorker[],
  target: string,
  sockets: number,
  streamsPerSocket: number,
  messageBytes: number,
) {
  const latBase = takeLatitudes(workers.length * 100_000);
  for (const [i, worker] of workers.entries()) {
    // Whole sockets per worker, so that every socket carries exactly streamsPerSocket streams.
    const mine = Math.floor(sockets / workers.length) + (i < sockets % workers.length ? 1 : 0);
    worker.send({
      type: 'open',
      transport: 'ws2',
      target,
      connections: mine * streamsPerSocket,
      streamsPerSocket,
      latBase: latBase + i * 100_000,
      messageBytes,
      openConcurrency: 100,
      protoPath: PROTO_PATH,
    });
  }
  return Promise.all(workers.map((w) => w.next('opened', 300_000)));
}

async function closeStreams(workers: readonly LoadWorker[]) {
  for (const worker of workers) worker.send({ type: 'close' });
  return Promise.all(workers.map((w) => w.next('closed', 300_000)));
}

export async function measureV2Scale(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  gateway: ProductProcess,
  v1GatewayRssPerConnectionKiB: number,
): Promise<V2ScaleResult> {
  const { v2ScaleSockets: sockets, v2StreamsPerSocket: perSocket } = config;
  // Warm the v2 path first, so that what is measured is per stream, not first use.
  await openStreams(workers, gateway.address, 10, perSocket, config.messageBytes);
  await closeStreams(workers);
  await sleep(1000);
  const before = gateway.sample();
  const started = performance.now();
  const opened = await openStreams(workers, gateway.address, sockets, perSocket, config.messageBytes);
  const openSeconds = (performance.now() - started) / 1000;
  await sleep(2000);
  const after = gateway.sample();
  await closeStreams(workers);
  const count = opened.reduce((s, o) => s + o.opened, 0);
  const firstError = opened.find((o) => o.firstError)?.firstError;
  const perStream = count ? (after.rssKiB - before.rssKiB) / count : 0;
  return {
    sockets,
    streamsPerSocket: perSocket,
    streams: sockets * perSocket,
    opened: count,
    failed: opened.reduce((s, o) => s + o.failed, 0),
    ...(firstError ? { firstError } : {}),
    openSeconds: round(openSeconds, 2),
    gatewayRssBeforeMiB: round(before.rssKiB / 1024, 1),
    gatewayRssAfterMiB: round(after.rssKiB / 1024, 1),
    gatewayRssPerStreamKiB: round(perStream, 2),
    gatewayRssPerSocketKiB: round(perStream * perSocket, 2),
    v1GatewayRssPerConnectionKiB,
    rssPerStreamVsV1Connection: ratio(round(perStream, 2), v1GatewayRssPerConnectionKiB),
  };
}
