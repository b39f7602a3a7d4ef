/**
 * `npm run bench [-- --quick]`: the gateway against direct gRPC, at scale, with a slow consumer and
 * under churn. Runs the compiled build (dist/) as separate processes; load comes from forked workers.
 * Writes results/latest.json, results/latest.md and results/latency.svg (or into --out DIR).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { type CurvePoint, latencyChartSvg } from './chart.js';
import { measureChurn } from './churn.js';
import { type BenchConfig, readConfig } from './config.js';
import { compareWithFloorAndPeer, type FloorComparison, parsePeer } from './floor.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import { measureNoteStore } from './note-store.js';
import {
  forkWorker,
  freePort,
  killAll,
  type LoadWorker,
  type ProductProcess,
  startProduct,
} from './processes.js';
import {
  type BenchResults,
  evaluateTargets,
  floorMarkdown,
  type Machine,
  markdown,
  v2EncodingsMarkdown,
} from './report.js';
import { measureScale } from './scale.js';
import { measureSlowConsumer } from './slow-consumer.js';
import { runSoak, soakMarkdown } from './soak.js';
import { round } from './stats.js';
import { compare, ratio } from './throughput.js';
import { compareV1V2, compareV2Encodings, measureV2Scale } from './v2.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

function machine(): Machine {
  const list = cpus();
  let openFilesLimit = 'unknown';
  try {
    openFilesLimit = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim();
  } catch {}
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    openFilesLimit,
  };
}

async function withProducts<T>(
  gatewayArgs: readonly string[],
  body: (core: ProductProcess, gateway: ProductProcess) => Promise<T>,
): Promise<T> {
  // The slow consumer counts every reply owed at one location: keep the core from evicting them.
  // No metrics port: the bench reads /proc, and a fixed port may be taken by another process.
  const core = await startProduct('core-server/main.js', [
    '--metrics-listen',
    'off',
    '--max-total-notes',
    '5000000',
    '--max-total-note-bytes',
    '1GiB',
    // The Go peer carries every stream on one HTTP/2 connection: past the core's default of 1,000
    // streams per connection its idle streams would queue (the gateway opens 100 per channel anyway).
    '--max-concurrent-streams',
    '100000',
  ]);
  let gateway: ProductProcess | undefined;
  try {
    gateway = await startProduct('gateway/main.js', [
      '--core',
      core.address,
      ...BENCH_GATEWAY_ARGS,
      ...gatewayArgs,
    ]);
    return await body(core, gateway);
  } finally {
    await gateway?.stop();
    await core.stop();
  }
}

async function run(config: BenchConfig): Promise<BenchResults> {
  const started = performance.now();
  const workers: LoadWorker[] = Array.from({ length: config.loadWorkers }, forkWorker);
  const slowWorker = forkWorker();
  try {
    log(`peak (closed loop, ${config.connections} connections × window ${config.window})`);
    const { peak, halfPeak, v2RouteChat, v2Encodings, floor } = await withProducts(
      [],
      async (core, gateway) => {
        const peak = await compare(config, workers, core, gateway, { window: config.window }, log);
        const rate = Math.round(peak.gateway.notesPerSec.median / 2);
        log(`half of peak (open loop, ${rate} notes/s on both paths)`);
        const halfPeak = await compare(config, workers, core, gateway, { rate }, log);
        log(
          `RouteChat v1 vs v2 (closed loop, ${config.connections} sockets × 1 stream × window ${config.window})`,
        );
        const v2RouteChat = await compareV1V2(config, workers, core, gateway, log);
        log(`RouteChat v2 JSON vs binary frames (closed loop, ${config.connections} sockets × 1 stream)`);
        const v2Encodings = await compareV2Encodings(config, workers, core, gateway, log);
        log(floorHeading(config));
        const floor = await compareWithFloorAndPeer(
          config,
          workers,
          core,
          gateway,
          parsePeer(config.peer),
          log,
        );
        return { peak, halfPeak: { ...halfPeak, rateNotesPerSec: rate }, v2RouteChat, v2Encodings, floor };
      },
    );
    log(`  ${JSON.stringify({ gatewayCpuPerNoteRatio: v2RouteChat.gatewayCpuPerNoteRatio })}`);
    log(`  ${JSON.stringify({ binaryVsJsonGatewayCpuPerNote: v2Encodings.gatewayCpuPerNoteRatio })}`);

    log('slow consumer');
    const slowMetrics = `127.0.0.1:${await freePort()}`;
    const slowConsumer = await withProducts(
      ['--socket-high-water-mark', String(config.socketHighWaterMark), '--metrics-listen', slowMetrics],
      (core, gateway) =>
        measureSlowConsumer(
          config,
          workers,
          slowWorker,
          core,
          gateway,
          halfPeak.rateNotesPerSec,
          slowMetrics,
        ),
    );
    log(`  ${JSON.stringify(slowConsumer)}`);

    log('churn');
    const churn = await withProducts([], (_core, gateway) => measureChurn(config, workers, gateway));
    log(`  ${JSON.stringify(churn)}`);

    log(`scale (${config.scaleConnections} idle connections)`);
    const scale = await withProducts([], (core, gateway) => measureScale(config, workers, core, gateway));
    log(`  ${JSON.stringify(scale)}`);

    log('note store (direct gRPC: memory vs Redis)');
    const noteStore = await measureNoteStore(config, workers, log);
    log(`  ${JSON.stringify({ ratio: noteStore.throughputRatio, addedP99Ms: noteStore.addedP99Ms })}`);

    log(`v2 scale (${config.v2ScaleSockets} sockets × ${config.v2StreamsPerSocket} RouteChat streams)`);
    const v2Scale = await withProducts([], (_core, gateway) =>
      measureV2Scale(config, workers, gateway, scale.gatewayRssPerConnectionKiB),
    );
    log(`  ${JSON.stringify(v2Scale)}`);

    const usPerNotePair = peak.gateway.gatewayCpuUsPerNote?.median ?? 0;
    const partial = {
      machine: machine(),
      config,
      peak: {
        ...peak,
        ratios: {
          throughput: ratio(peak.gateway.notesPerSec.median, peak.direct.notesPerSec.median),
          p50: ratio(peak.gateway.p50Ms.median, peak.direct.p50Ms.median),
          p99: ratio(peak.gateway.p99Ms.median, peak.direct.p99Ms.median),
          max: ratio(peak.gateway.maxMs.median, peak.direct.maxMs.median),
        },
      },
      halfPeak: {
        ...halfPeak,
        addedP50Ms: round(halfPeak.gateway.p50Ms.median - halfPeak.direct.p50Ms.median),
        addedP99Ms: round(halfPeak.gateway.p99Ms.median - halfPeak.direct.p99Ms.median),
      },
      gatewayCpu: {
        usPerNotePair,
        notesPerSecPerCoreEachWay: usPerNotePair ? Math.round(1_000_000 / usPerNotePair) : 0,
      },
      scale,
      slowConsumer,
      churn,
      noteStore,
      v2: { routeChat: v2RouteChat, scale: v2Scale, encodings: v2Encodings },
      floor,
    };
    return {
      ...partial,
      targets: evaluateTargets(partial),
      durationSeconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    await Promise.all([...workers, slowWorker].map((w) => w.stop()));
  }
}

async function writeResults(config: BenchConfig, results: BenchResults): Promise<void> {
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(join(config.outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(config.outDir, 'latest.md'), markdown(results));
  const points: CurvePoint[] = [];
  for (const [load, comparison] of [
    ['peak', results.peak],
    ['half of peak', results.halfPeak],
  ] as const) {
    for (const p of comparison.direct.percentiles) points.push({ path: 'direct gRPC', load, ...p });
    for (const p of comparison.gateway.percentiles) points.push({ path: 'gateway (WebSocket)', load, ...p });
  }
  const svg = await latencyChartSvg(
    points,
    `RouteChat note latency, direct gRPC vs gateway (${results.config.connections} connections)`,
  );
  writeFileSync(join(config.outDir, 'latency.svg'), svg);
}

/** `--only v2-routechat`: the RouteChat v1-vs-v2 section alone; prints its JSON, writes v2-routechat.json. */
async function runV2RouteChatOnly(config: BenchConfig): Promise<void> {
  const workers: LoadWorker[] = Array.from({ length: config.loadWorkers }, forkWorker);
  try {
    log(
      `RouteChat v1 vs v2 (closed loop, ${config.connections} sockets × 1 stream × window ${config.window})`,
    );
    const comparison = await withProducts([], (core, gateway) =>
      compareV1V2(config, workers, core, gateway, log),
    );
    mkdirSync(config.outDir, { recursive: true });
    writeFileSync(join(config.outDir, 'v2-routechat.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    process.stdout.write(
      `${JSON.stringify({ gatewayCpuPerNoteRatio: comparison.gatewayCpuPerNoteRatio })}\n`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/**
 * `--only v2-binary`: RouteChat over v2, JSON frames against binary frames, alone; prints the
 * table, writes v2-binary.json.
 */
async function runV2BinaryOnly(config: BenchConfig): Promise<void> {
  const workers: LoadWorker[] = Array.from({ length: config.loadWorkers }, forkWorker);
  try {
    log(`RouteChat v2 JSON vs binary frames (closed loop, ${config.connections} sockets × 1 stream)`);
    const comparison = await withProducts([], (core, gateway) =>
      compareV2Encodings(config, workers, core, gateway, log),
    );
    mkdirSync(config.outDir, { recursive: true });
    writeFileSync(join(config.outDir, 'v2-binary.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    process.stdout.write(`${v2EncodingsMarkdown(comparison, cpus()[0]?.model ?? 'unknown').join('\n')}\n`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

const floorHeading = (config: BenchConfig) =>
  `the stack's floor${config.peer ? ' and the Go peer' : ''} (closed loop, ${config.connections} connections × window ${config.window}; ${config.floorIdleStreams} idle streams each)`;

/** `--only floor`: the gateway against the floor (and `--peer`) alone → floor.json in --out. */
async function runFloorOnly(config: BenchConfig): Promise<void> {
  const workers: LoadWorker[] = Array.from({ length: config.loadWorkers }, forkWorker);
  try {
    log(floorHeading(config));
    const comparison: FloorComparison = await withProducts([], (core, gateway) =>
      compareWithFloorAndPeer(config, workers, core, gateway, parsePeer(config.peer), log),
    );
    mkdirSync(config.outDir, { recursive: true });
    writeFileSync(join(config.outDir, 'floor.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    process.stdout.write(`${floorMarkdown(comparison, machine()).join('\n')}\n`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** `--soak 30m` → soak.json and soak.md in --out. */
async function runSoakOnly(config: BenchConfig, durationMs: number): Promise<void> {
  const workers: LoadWorker[] = Array.from({ length: config.loadWorkers }, forkWorker);
  try {
    const result = await runSoak(config, workers, durationMs, log);
    const text = soakMarkdown(result, `${machine().cpu}, Node ${process.version}`);
    mkdirSync(config.outDir, { recursive: true });
    writeFileSync(join(config.outDir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(config.outDir, 'soak.md'), text);
    process.stdout.write(text);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function main(): Promise<void> {
  const config = readConfig(process.argv.slice(2));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  if (config.soakMs !== undefined) return runSoakOnly(config, config.soakMs);
  if (config.only === 'v2-routechat') return runV2RouteChatOnly(config);
  if (config.only === 'floor') return runFloorOnly(config);
  if (config.only === 'v2-binary') return runV2BinaryOnly(config);
  const results = await run(config);
  await writeResults(config, results);
  process.stdout.write(`${markdown(results)}\n`);
  log(`wrote ${config.outDir}latest.{json,md} and latency.svg`);
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
