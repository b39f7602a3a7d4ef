/**
 * One client stops reading (its TCP socket paused) while the core streams growing lists to it.
 * Meanwhile the other clients run the half-peak load on the same gateway. Compared: the gateway's
 * peak RSS growth against its per-connection bound (--socket-high-water-mark), and the other
 * clients' p99 against the same load without the slow consumer.
 */
import type { BenchConfig } from './config.js';
import { repliesForNotesAtOneLocation } from './ipc.js';
import { runLoad } from './load.js';
import { type LoadWorker, PROTO_PATH, type ProductProcess } from './processes.js';
import { round } from './stats.js';
import { takeLatitudes } from './throughput.js';

export interface SlowConsumerResult {
  readonly highWaterMarkBytes: number;
  readonly slowNotesSent: number;
  /** What the core tries to send to the slow client (notes, and bytes of JSON frames). */
  readonly repliesOwed: number;
  readonly bytesOwedMiB: number;
  readonly gatewayRssBeforeMiB: number;
  /** Peak RSS during the same load without the slow consumer. */
  readonly gatewayRssPeakBaselineMiB: number;
  readonly gatewayRssPeakMiB: number;
  /** Peak with the slow consumer minus the higher of: peak without it, RSS just before it started. */
  readonly gatewayRssGrowthMiB: number;
  /** After the client resumes reading: every owed note arrives, nothing is dropped. */
  readonly slowReceivedAfterResume: number;
  readonly slowFinalStatus: string;
  readonly othersRateNotesPerSec: number;
  readonly othersP99BaselineMs: number;
  readonly othersP99WithSlowMs: number;
  readonly othersP50BaselineMs: number;
  readonly othersP50WithSlowMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sampleRssPeak(
  gateway: ProductProcess,
  measuring: () => boolean,
  into: { peakKiB: number },
): Promise<void> {
  while (measuring()) {
    into.peakKiB = Math.max(into.peakKiB, gateway.sample().rssKiB);
    await sleep(50);
  }
}

export async function measureSlowConsumer(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  slowWorker: LoadWorker,
  core: ProductProcess,
  gateway: ProductProcess,
  rate: number,
): Promise<SlowConsumerResult> {
  const common = {
    workers,
    transport: 'ws' as const,
    target: gateway.address,
    connections: config.connections,
    rate,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
    messageBytes: config.messageBytes,
    core,
    gateway,
  };
  // A fresh gateway: a first run warms it up (JIT, pools), so the baseline is not its cold start.
  await runLoad({ ...common, measureMs: config.warmupMs, latBase: takeLatitudes(workers.length * 100_000) });
  const baselineRss = { peakKiB: 0 };
  const baseline = await runLoad({
    ...common,
    latBase: takeLatitudes(workers.length * 100_000),
    duringMeasure: (measuring) => sampleRssPeak(gateway, measuring, baselineRss),
  });

  slowWorker.send({
    type: 'open',
    transport: 'ws',
    target: gateway.address,
    connections: 1,
    latBase: takeLatitudes(1),
    messageBytes: config.slowMessageBytes,
    openConcurrency: 1,
    protoPath: PROTO_PATH,
  });
  await slowWorker.next('opened');
  await sleep(500);
  const before = gateway.sample();
  const slowRss = { peakKiB: before.rssKiB };
  const slowLatitude = takeLatitudes(1);
  const withSlow = await runLoad({
    ...common,
    latBase: takeLatitudes(workers.length * 100_000),
    duringMeasure: async (measuring) => {
      slowWorker.send({ type: 'slow', notes: config.slowNotes, latitude: slowLatitude });
      await slowWorker.next('slow-sent');
      await sampleRssPeak(gateway, measuring, slowRss);
    },
  });
  // VmHWM catches a peak between two samples, if it is above every earlier peak of the process.
  const hwmKiB = gateway.sample().hwmKiB;
  if (hwmKiB > before.hwmKiB) slowRss.peakKiB = Math.max(slowRss.peakKiB, hwmKiB);
  slowWorker.send({ type: 'slow-finish', timeoutMs: 60_000 });
  const finished = await slowWorker.next('slow-finished', 90_000);
  const owed = repliesForNotesAtOneLocation(config.slowNotes);
  const frameBytes = config.slowMessageBytes + 60;
  return {
    highWaterMarkBytes: config.socketHighWaterMark,
    slowNotesSent: config.slowNotes,
    repliesOwed: owed,
    bytesOwedMiB: round((owed * frameBytes) / 2 ** 20, 1),
    gatewayRssBeforeMiB: round(before.rssKiB / 1024, 1),
    gatewayRssPeakBaselineMiB: round(baselineRss.peakKiB / 1024, 1),
    gatewayRssPeakMiB: round(slowRss.peakKiB / 1024, 1),
    gatewayRssGrowthMiB: round((slowRss.peakKiB - Math.max(baselineRss.peakKiB, before.rssKiB)) / 1024, 1),
    slowReceivedAfterResume: finished.received,
    slowFinalStatus: finished.status,
    othersRateNotesPerSec: rate,
    othersP99BaselineMs: baseline.latency.p99Ms,
    othersP99WithSlowMs: withSlow.latency.p99Ms,
    othersP50BaselineMs: baseline.latency.p50Ms,
    othersP50WithSlowMs: withSlow.latency.p50Ms,
  };
}
