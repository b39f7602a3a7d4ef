/**
 * N idle connections, each holding an open RouteChat stream (proved by one note and its reply):
 * how long they take to open, and the gateway's RSS per connection once they are all open.
 */
import type { BenchConfig } from './config.js';
import type { Transport } from './ipc.js';
import { type LoadWorker, PROTO_PATH, type ProductProcess } from './processes.js';
import { round } from './stats.js';
import { takeLatitudes } from './throughput.js';

export interface ScaleResult {
  readonly connections: number;
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly openSeconds: number;
  readonly opensPerSec: number;
  readonly gatewayRssBeforeMiB: number;
  readonly gatewayRssAfterMiB: number;
  readonly gatewayRssPerConnectionKiB: number;
  readonly gatewayCpuUsPerOpen: number;
  readonly coreRssPerStreamKiB: number;
  readonly closeSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openOn(
  workers: readonly LoadWorker[],
  transport: Transport,
  target: string,
  total: number,
  messageBytes: number,
) {
  const latBase = takeLatitudes(workers.length * 100_000);
  for (const [i, worker] of workers.entries()) {
    worker.send({
      type: 'open',
      transport,
      target,
      connections: Math.floor(total / workers.length) + (i < total % workers.length ? 1 : 0),
      latBase: latBase + i * 100_000,
      messageBytes,
      openConcurrency: 100,
      protoPath: PROTO_PATH,
    });
  }
  return Promise.all(workers.map((w) => w.next('opened', 300_000)));
}

async function closeOn(workers: readonly LoadWorker[]) {
  for (const worker of workers) worker.send({ type: 'close' });
  return Promise.all(workers.map((w) => w.next('closed', 300_000)));
}

export async function measureScale(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  core: ProductProcess,
  gateway: Pick<ProductProcess, 'address' | 'sample'>,
  /** What the connections speak: the gateway's v1 (also the floor relay's), or the Go peer's. */
  transport: 'ws' | 'peer' = 'ws',
): Promise<ScaleResult> {
  // A few connections first, so that what is measured is per connection, not the first-use warm-up.
  await openOn(workers, transport, gateway.address, 100, config.messageBytes);
  await closeOn(workers);
  await sleep(1000);
  const before = gateway.sample();
  const coreBefore = core.sample();
  const started = performance.now();
  const opened = await openOn(
    workers,
    transport,
    gateway.address,
    config.scaleConnections,
    config.messageBytes,
  );
  const openSeconds = (performance.now() - started) / 1000;
  const afterOpen = gateway.sample();
  await sleep(2000);
  const after = gateway.sample();
  const coreAfter = core.sample();
  const closeStarted = performance.now();
  await closeOn(workers);
  const closeSeconds = (performance.now() - closeStarted) / 1000;
  const count = opened.reduce((s, o) => s + o.opened, 0);
  const firstError = opened.find((o) => o.firstError)?.firstError;
  return {
    connections: config.scaleConnections,
    opened: count,
    failed: opened.reduce((s, o) => s + o.failed, 0),
    ...(firstError ? { firstError } : {}),
    openSeconds: round(openSeconds, 2),
    opensPerSec: round(count / openSeconds, 0),
    gatewayRssBeforeMiB: round(before.rssKiB / 1024, 1),
    gatewayRssAfterMiB: round(after.rssKiB / 1024, 1),
    gatewayRssPerConnectionKiB: count ? round((after.rssKiB - before.rssKiB) / count, 2) : 0,
    gatewayCpuUsPerOpen: count ? round(((afterOpen.cpuMs - before.cpuMs) * 1000) / count, 1) : 0,
    coreRssPerStreamKiB: count ? round((coreAfter.rssKiB - coreBefore.rssKiB) / count, 2) : 0,
    closeSeconds: round(closeSeconds, 2),
  };
}
