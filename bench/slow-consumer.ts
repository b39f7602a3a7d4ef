/**
 * One client stops reading (its TCP socket paused) while the core streams growing lists to it.
 * Meanwhile the other clients run the half-peak load on the same gateway. Compared: the bytes the
 * gateway holds queued for that client (its own gauge) against the documented bound
 * (--socket-high-water-mark plus one frame), the gateway's peak RSS growth beside it, and the other
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
  /**
   * The documented bound itself: the most bytes the gateway held queued for one client
   * (`routeguide_gateway_client_queued_bytes_max`, sampled every 50 ms), with the stalled client and in the
   * control run. Absent when the gateway serves no metrics.
   */
  readonly queuedBytesPeak?: number;
  readonly queuedBytesPeakControl?: number;
  /** The largest frame the slow client is owed: the bound is the mark plus one frame. */
  readonly largestFrameBytes: number;
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

/** The gateway's `routeguide_gateway_client_queued_bytes_max` from its /metrics. */
export async function queuedBytesMax(metricsAddress: string): Promise<number> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const match = /^routeguide_gateway_client_queued_bytes_max(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!match) throw new Error('the gateway exports no routeguide_gateway_client_queued_bytes_max');
  return Number(match[1]);
}

async function samplePeaks(
  gateway: ProductProcess,
  metricsAddress: string | undefined,
  measuring: () => boolean,
  into: { peakKiB: number; queuedPeak: number },
): Promise<void> {
  while (measuring()) {
    into.peakKiB = Math.max(into.peakKiB, gateway.sample().rssKiB);
    if (metricsAddress) into.queuedPeak = Math.max(into.queuedPeak, await queuedBytesMax(metricsAddress));
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
  /** The gateway's metrics address (`--metrics-listen`): the queued bytes are read from it. */
  metricsAddress?: string,
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
  const baselineRss = { peakKiB: 0, queuedPeak: 0 };
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
    const rss = { peakKiB: gateway.sample().rssKiB, queuedPeak: 0 };
    const latitude = takeLatitudes(1);
    const load = await runLoad({
      ...common,
      latBase: takeLatitudes(workers.length * 100_000),
      duringMeasure: async (measuring) => {
        slowWorker.send({ type: 'slow', notes: config.slowNotes, latitude, pause });
        await slowWorker.next('slow-sent');
        await samplePeaks(gateway, metricsAddress, measuring, rss);
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
    duringMeasure: (measuring) => samplePeaks(gateway, metricsAddress, measuring, baselineRss),
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
    ...(metricsAddress
      ? { queuedBytesPeak: stalled.rss.queuedPeak, queuedBytesPeakControl: control.rss.queuedPeak }
      : {}),
    largestFrameBytes: frameBytes,
    slowReceivedAfterResume: finished.received,
    slowFinalStatus: finished.status,
    othersRateNotesPerSec: rate,
    othersP99BaselineMs: baseline.latency.p99Ms,
    othersP99WithSlowMs: withSlow.latency.p99Ms,
    othersP50BaselineMs: baseline.latency.p50Ms,
    othersP50WithSlowMs: withSlow.latency.p50Ms,
  };
}
