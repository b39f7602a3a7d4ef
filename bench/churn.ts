/**
 * Connections opened and closed per second at steady state: each lane opens a WebSocket, sends a
 * note, waits for its reply, sends "end" and waits for the OK status and the close, then repeats.
 */
import type { BenchConfig } from './config.js';
import type { LoadWorker, ProductProcess } from './processes.js';
import { latencyOf, mergeHistograms, round } from './stats.js';
import { takeLatitudes } from './throughput.js';

export interface ChurnResult {
  readonly seconds: number;
  readonly lanes: number;
  readonly completed: number;
  readonly failed: number;
  readonly connectionsPerSec: number;
  readonly lifetimeP50Ms: number;
  readonly lifetimeP99Ms: number;
  readonly gatewayCpuUsPerConnection: number;
  readonly gatewayRssBeforeMiB: number;
  readonly gatewayRssAfterMiB: number;
}

export async function measureChurn(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  gateway: ProductProcess,
): Promise<ChurnResult> {
  const before = gateway.sample();
  const latBase = takeLatitudes(workers.length * 1_000_000);
  for (const [i, worker] of workers.entries()) {
    worker.send({
      type: 'churn',
      target: gateway.address,
      concurrency: config.churnConcurrency,
      durationMs: config.churnMs,
      latBase: latBase + i * 1_000_000,
      messageBytes: config.messageBytes,
    });
  }
  const results = await Promise.all(workers.map((w) => w.next('churned', config.churnMs + 60_000)));
  const after = gateway.sample();
  const completed = results.reduce((s, r) => s + r.completed, 0);
  const seconds = Math.max(...results.map((r) => r.ms)) / 1000;
  const lifetimes = latencyOf(mergeHistograms(results.map((r) => r.histogram)));
  return {
    seconds: round(seconds, 2),
    lanes: config.churnConcurrency * workers.length,
    completed,
    failed: results.reduce((s, r) => s + r.failed, 0),
    connectionsPerSec: round(completed / seconds, 0),
    lifetimeP50Ms: lifetimes.p50Ms,
    lifetimeP99Ms: lifetimes.p99Ms,
    gatewayCpuUsPerConnection: completed ? round(((after.cpuMs - before.cpuMs) * 1000) / completed, 1) : 0,
    gatewayRssBeforeMiB: round(before.rssKiB / 1024, 1),
    gatewayRssAfterMiB: round(after.rssKiB / 1024, 1),
  };
}
