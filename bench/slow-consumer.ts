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
  /** Peak RSS while a client that keeps reading gets the same notes (the control). */
  readonly gatewayRssPeakControlMiB: number;
  readonly gatewayRssPeakMiB: number;
  /** Peak with the stalled client minus the highest of: without it, with the control, just before it. */
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
  const consumerRun = async (finishFirst: boolean, pause: boolean) => {
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
    await sleep(300);
    const rss = { peakKiB: gateway.sample().rssKiB };
    const latitude = takeLatitudes(1);
    const load = await runLoad({
      ...common,
      latBase: takeLatitudes(workers.length * 100_000),
      duringMeasure: async (measuring) => {
        slowWorker.send({ type: 'slow', notes: config.slowNotes, latitude, pause });
        await slowWorker.next('slow-sent');
        await sampleRssPeak(gateway, measuring, rss);
      },
    });
    let finished: { received: number; status: string } | undefined;
    if (finishFirst || pause) {
      slowWorker.send({ type: 'slow-finish', timeoutMs: 60_000 });
      finished = await slowWorker.next('slow-finished', 90_000);
    }
    return { rss, load, finished };
  };
  const baseline = await runLoad({
    ...common,
    latBase: takeLatitudes(workers.length * 100_000),
    duringMeasure: (measuring) => sampleRssPeak(gateway, measuring, baselineRss),
  });

  // Control: a client that keeps reading gets the same notes while the same load runs.
  const control = await consumerRun(true, false);
  const before = gateway.sample();
  const stalled = await consumerRun(false, true);
  // VmHWM catches a peak between two samples, if it is above every earlier peak of the process.
  const hwmKiB = gateway.sample().hwmKiB;
  if (hwmKiB > before.hwmKiB) stalled.rss.peakKiB = Math.max(stalled.rss.peakKiB, hwmKiB);
  const withSlow = stalled.load;
  const finished = stalled.finished ?? { received: 0, status: 'UNKNOWN' };
  const owed = repliesForNotesAtOneLocation(config.slowNotes);
  const frameBytes = config.slowMessageBytes + 60;
  return {
    highWaterMarkBytes: config.socketHighWaterMark,
    slowNotesSent: config.slowNotes,
    repliesOwed: owed,
    bytesOwedMiB: round((owed * frameBytes) / 2 ** 20, 1),
    gatewayRssBeforeMiB: round(before.rssKiB / 1024, 1),
    gatewayRssPeakBaselineMiB: round(baselineRss.peakKiB / 1024, 1),
    gatewayRssPeakControlMiB: round(control.rss.peakKiB / 1024, 1),
    gatewayRssPeakMiB: round(stalled.rss.peakKiB / 1024, 1),
    gatewayRssGrowthMiB: round(
      (stalled.rss.peakKiB - Math.max(baselineRss.peakKiB, control.rss.peakKiB, before.rssKiB)) / 1024,
      1,
    ),
    slowReceivedAfterResume: finished.received,
    slowFinalStatus: finished.status,
    othersRateNotesPerSec: rate,
    othersP99BaselineMs: baseline.latency.p99Ms,
    othersP99WithSlowMs: withSlow.latency.p99Ms,
    othersP50BaselineMs: baseline.latency.p50Ms,
    othersP50WithSlowMs: withSlow.latency.p50Ms,
  };
}
