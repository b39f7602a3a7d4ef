/**
 * One measured load run: open streams on every worker, warm up, record a window while sampling the
 * gateway's and the core's CPU and RSS from /proc, then close everything.
 */
import type { Transport } from './ipc.js';
import { type LoadWorker, PROTO_PATH, type ProcessSample, type ProductProcess } from './processes.js';
import { type Latency, latencyOf, mergeHistograms, round } from './stats.js';

export interface LoadOptions {
  readonly workers: readonly LoadWorker[];
  readonly transport: Transport;
  readonly target: string;
  /** Connections over all workers. */
  readonly connections: number;
  readonly window?: number;
  /** Notes/s over all workers (open loop). */
  readonly rate?: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly messageBytes: number;
  readonly latBase: number;
  /** The relay under load (the gateway, the floor or the peer): its CPU and RSS are sampled. */
  readonly gateway?: Pick<ProductProcess, 'sample'>;
  readonly core: ProductProcess;
  /** Another process whose CPU per note is wanted too (the note store's redis-server). */
  readonly sidecar?: Pick<ProductProcess, 'sample'>;
  /** Called when recording starts (e.g. to start a slow consumer); `measuring()` turns false at its end. */
  readonly duringMeasure?: (measuring: () => boolean) => Promise<void>;
}

export interface LoadResult {
  readonly transport: Transport;
  readonly connections: number;
  readonly notesPerSec: number;
  readonly latency: Latency;
  readonly histogram: string[];
  readonly errors: number;
  readonly outOfOrder: number;
  readonly coreCpuUsPerNote: number;
  /** CPU the gateway spent per note relayed both ways (one in, one out). */
  readonly gatewayCpuUsPerNote?: number;
  readonly gatewayRssMiB?: number;
  readonly gatewayCpuPercent?: number;
  readonly sidecarCpuUsPerNote?: number;
}

const split = (total: number, parts: number, index: number) =>
  Math.floor(total / parts) + (index < total % parts ? 1 : 0);

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { workers } = options;
  workers.forEach((worker, i) => {
    worker.send({
      type: 'open',
      transport: options.transport,
      target: options.target,
      connections: split(options.connections, workers.length, i),
      latBase: options.latBase + i * 100_000,
      messageBytes: options.messageBytes,
      openConcurrency: 64,
      protoPath: PROTO_PATH,
    });
  });
  await Promise.all(workers.map((w) => w.next('opened')));
  workers.forEach((worker) => {
    worker.send({
      type: 'load',
      ...(options.window !== undefined ? { window: options.window } : {}),
      ...(options.rate !== undefined ? { rate: options.rate / workers.length } : {}),
    });
  });
  await new Promise((r) => setTimeout(r, options.warmupMs));
  for (const worker of workers) worker.send({ type: 'record' });
  const t0 = performance.now();
  const gw0 = options.gateway?.sample();
  const core0 = options.core.sample();
  const side0 = options.sidecar?.sample();
  let measuring = true;
  const during = options.duringMeasure?.(() => measuring);
  await new Promise((r) => setTimeout(r, options.measureMs));
  measuring = false;
  const gw1 = options.gateway?.sample();
  const core1 = options.core.sample();
  const side1 = options.sidecar?.sample();
  const elapsedMs = performance.now() - t0;
  for (const worker of workers) worker.send({ type: 'stop-record' });
  const recorded = await Promise.all(workers.map((w) => w.next('recorded')));
  await during;
  for (const worker of workers) worker.send({ type: 'close' });
  await Promise.all(workers.map((w) => w.next('closed')));

  const notes = recorded.reduce((sum, r) => sum + r.replies, 0);
  const histogram = recorded.map((r) => r.histogram);
  const cpuUs = (a: ProcessSample, b: ProcessSample) => (b.cpuMs - a.cpuMs) * 1000;
  return {
    transport: options.transport,
    connections: options.connections,
    notesPerSec: round((notes * 1000) / elapsedMs, 0),
    latency: latencyOf(mergeHistograms(histogram)),
    histogram,
    errors: recorded.reduce((sum, r) => sum + r.errors, 0),
    outOfOrder: recorded.reduce((sum, r) => sum + r.outOfOrder, 0),
    coreCpuUsPerNote: notes ? round(cpuUs(core0, core1) / notes, 2) : 0,
    ...(gw0 && gw1
      ? {
          gatewayCpuUsPerNote: notes ? round(cpuUs(gw0, gw1) / notes, 2) : 0,
          gatewayRssMiB: round(gw1.rssKiB / 1024, 1),
          gatewayCpuPercent: round((100 * (gw1.cpuMs - gw0.cpuMs)) / elapsedMs, 1),
        }
      : {}),
    ...(side0 && side1 ? { sidecarCpuUsPerNote: notes ? round(cpuUs(side0, side1) / notes, 2) : 0 } : {}),
  };
}
