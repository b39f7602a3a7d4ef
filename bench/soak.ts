/**
 * `npm run bench -- --soak 30m`: the gateway at half of its peak for a long time. Each minute (a
 * fifth of a soak shorter than five minutes) it records the p99 of that minute, the gateway's RSS (/proc) and V8 heap in use (its own /metrics,
 * `nodejs_heap_size_used_bytes`); at the end, the RSS and heap slopes per hour (least squares over
 * the minutes after the first, which holds the warm-up). Flat means: no leak, no creeping tail.
 */
import { type BenchConfig, peakLoadOptions } from './config.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import { runLoad } from './load.js';
import { freePort, type LoadWorker, PROTO_PATH, startProduct } from './processes.js';
import { latencyOf, mergeHistograms, round } from './stats.js';
import { takeLatitudes } from './throughput.js';

export interface SoakWindow {
  /** 1-based index of the window (a minute long, or a fifth of a short soak). */
  readonly window: number;
  readonly notesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly gatewayRssMiB: number;
  readonly gatewayHeapUsedMiB: number;
  readonly errors: number;
}

export interface SoakResult {
  readonly durationMinutes: number;
  readonly rateNotesPerSec: number;
  readonly peakNotesPerSec: number;
  readonly connections: number;
  readonly windowSeconds: number;
  readonly windows: readonly SoakWindow[];
  readonly rssSlopeMiBPerHour: number;
  readonly heapSlopeMiBPerHour: number;
  readonly p99Ms: { readonly first: number; readonly last: number; readonly max: number };
}

/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

async function heapUsedMiB(metricsAddress: string): Promise<number> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? round(Number(match[1]) / 2 ** 20, 1) : Number.NaN;
}

export async function runSoak(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  durationMs: number,
  log: (line: string) => void,
): Promise<SoakResult> {
  const core = await startProduct('core-server/main.js', ['--metrics-listen', 'off']);
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const gateway = await startProduct('gateway/main.js', [
    '--core',
    core.address,
    ...BENCH_GATEWAY_ARGS,
    '--metrics-listen',
    metricsAddress,
  ]);
  try {
    const peakLoad = () =>
      runLoad({
        workers,
        transport: 'ws',
        target: gateway.address,
        ...peakLoadOptions(config),
        latBase: takeLatitudes(workers.length * 100_000),
        core,
        gateway,
      });
    await peakLoad(); // a fresh process's first seconds are the JIT's
    const peak = await peakLoad();
    const rate = config.soakRate ?? Math.round(peak.notesPerSec / 2);
    log(
      `soak: peak ${peak.notesPerSec} notes/s; ${round(durationMs / 60_000, 1)} min at ${rate} notes/s${config.soakRate ? ' (--soak-rate)' : ' (half of peak)'}`,
    );

    // One load for the whole soak; a recording window per minute.
    workers.forEach((worker, i) => {
      worker.send({
        type: 'open',
        transport: 'ws',
        target: gateway.address,
        connections:
          Math.floor(config.connections / workers.length) + (i < config.connections % workers.length ? 1 : 0),
        latBase: takeLatitudes(100_000),
        messageBytes: config.messageBytes,
        openConcurrency: 64,
        protoPath: PROTO_PATH,
      });
    });
    await Promise.all(workers.map((w) => w.next('opened')));
    for (const worker of workers) worker.send({ type: 'load', rate: rate / workers.length });
    const windows: SoakWindow[] = [];
    // A minute each; a soak shorter than five minutes gets five windows, so a slope still has points.
    const windowMs = durationMs >= 300_000 ? 60_000 : Math.max(1_000, Math.round(durationMs / 5));
    for (let window = 1; window * windowMs <= durationMs + 500; window += 1) {
      for (const worker of workers) worker.send({ type: 'record' });
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, windowMs));
      for (const worker of workers) worker.send({ type: 'stop-record' });
      const recorded = await Promise.all(workers.map((w) => w.next('recorded')));
      const elapsed = performance.now() - t0;
      const latency = latencyOf(mergeHistograms(recorded.map((r) => r.histogram)));
      const entry: SoakWindow = {
        window,
        notesPerSec: round((recorded.reduce((s, r) => s + r.replies, 0) * 1000) / elapsed, 0),
        p50Ms: latency.p50Ms,
        p99Ms: latency.p99Ms,
        gatewayRssMiB: round(gateway.sample().rssKiB / 1024, 1),
        gatewayHeapUsedMiB: await heapUsedMiB(metricsAddress),
        errors: recorded.reduce((s, r) => s + r.errors, 0),
      };
      windows.push(entry);
      log(`  ${JSON.stringify(entry)}`);
    }
    for (const worker of workers) worker.send({ type: 'close' });
    await Promise.all(workers.map((w) => w.next('closed')));
    const steady = windows.length > 2 ? windows.slice(1) : windows;
    const perHour = 3_600_000 / windowMs;
    const p99s = windows.map((m) => m.p99Ms);
    return {
      durationMinutes: round(durationMs / 60_000, 1),
      rateNotesPerSec: rate,
      peakNotesPerSec: peak.notesPerSec,
      connections: config.connections,
      windowSeconds: windowMs / 1000,
      windows,
      rssSlopeMiBPerHour: round(slope(steady.map((m) => [m.window, m.gatewayRssMiB])) * perHour, 2),
      heapSlopeMiBPerHour: round(slope(steady.map((m) => [m.window, m.gatewayHeapUsedMiB])) * perHour, 2),
      p99Ms: { first: p99s[0] ?? 0, last: p99s.at(-1) ?? 0, max: Math.max(0, ...p99s) },
    };
  } finally {
    await gateway.stop();
    await core.stop();
  }
}

export function soakMarkdown(r: SoakResult, cpu: string): string {
  return [
    `# Soak: ${r.durationMinutes} min at ${r.rateNotesPerSec} notes/s (peak measured first: ${r.peakNotesPerSec}), ${r.connections} connections (${cpu})`,
    '',
    `- Gateway RSS slope: ${r.rssSlopeMiBPerHour} MiB/hour; V8 heap in use: ${r.heapSlopeMiBPerHour} MiB/hour (least squares over the windows after the first)`,
    `- p99 first window ${r.p99Ms.first} ms, last ${r.p99Ms.last} ms, worst ${r.p99Ms.max} ms`,
    '',
    `| window (${r.windowSeconds} s) | notes/s | p50 ms | p99 ms | gateway RSS MiB | heap used MiB | errors |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.windows.map(
      (m) =>
        `| ${m.window} | ${m.notesPerSec} | ${m.p50Ms} | ${m.p99Ms} | ${m.gatewayRssMiB} | ${m.gatewayHeapUsedMiB} | ${m.errors} |`,
    ),
    '',
  ].join('\n');
}
