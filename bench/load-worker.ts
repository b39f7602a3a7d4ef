/**
 * A load generator process (forked by main.ts, run as compiled JS). It holds a set of RouteChat
 * connections and plays one note in → one note out on each: every connection has its own latitude
 * and every note its own longitude, so the core answers each note with exactly that note.
 */
import * as hdr from 'hdr-histogram-js';
import type { BenchConnection, ConnectionEvents, OpenConnection } from './connection.js';
import { padMessage } from './connection.js';
import { createGrpcOpener } from './grpc-connection.js';
import type { ChurnJob, OpenJob, Recorded, SlowJob, WorkerJob, WorkerReply } from './ipc.js';
import { createPeerOpener } from './peer-connection.js';
import { createWsOpener } from './ws-connection.js';
import { createWs2Opener } from './ws2-connection.js';

interface Stream {
  readonly latitude: number;
  connection?: BenchConnection;
  nextSeq: number;
  /** Send times (ms) of notes awaiting their reply, oldest first; `head` is the oldest's index. */
  readonly sentAt: number[];
  readonly sentSeq: number[];
  head: number;
  onFirstReply: (() => void) | undefined;
  slowReceived: number;
  slow: boolean;
}

const newHistogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });

const reply = (message: WorkerReply) => process.send?.(message);

let opener: { open: OpenConnection; close(): void } | undefined;
let streams: Stream[] = [];

let windowSize = 0;
let running = false;
let recording = false;
let histogram = newHistogram();
let replies = 0;
let errors = 0;
let outOfOrder = 0;
let rateTimer: NodeJS.Timeout | undefined;

const outstanding = (stream: Stream) => stream.sentAt.length - stream.head;

function sendNote(stream: Stream): void {
  const seq = stream.nextSeq++;
  stream.sentAt.push(performance.now());
  stream.sentSeq.push(seq);
  stream.connection?.send(stream.latitude, seq);
}

function onNote(stream: Stream, longitude: number): void {
  if (stream.slow) {
    stream.slowReceived += 1;
    return;
  }
  if (stream.head >= stream.sentAt.length) {
    errors += 1;
    return;
  }
  const sentAt = stream.sentAt[stream.head]!;
  const seq = stream.sentSeq[stream.head]!;
  stream.head += 1;
  if (stream.head > 1024 && stream.head * 2 > stream.sentAt.length) {
    stream.sentAt.splice(0, stream.head);
    stream.sentSeq.splice(0, stream.head);
    stream.head = 0;
  }
  if (seq !== longitude) outOfOrder += 1;
  if (recording) {
    histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
    replies += 1;
  }
  if (stream.onFirstReply) {
    const done = stream.onFirstReply;
    stream.onFirstReply = undefined;
    done();
  } else if (running && windowSize > 0) sendNote(stream);
}

function eventsFor(stream: Stream): ConnectionEvents {
  return {
    onNote: (_latitude, longitude) => onNote(stream, longitude),
    onError: () => {
      errors += 1;
    },
    onClosed: () => {},
  };
}

/** Runs `task` for 0..n-1 with at most `concurrency` running at once. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) await task(next++);
  });
  await Promise.all(lanes);
}

async function open(job: OpenJob): Promise<void> {
  const message = padMessage(job.messageBytes);
  opener =
    job.transport === 'grpc'
      ? createGrpcOpener(job.target, job.protoPath, message)
      : job.transport === 'ws2' || job.transport === 'ws2bin'
        ? createWs2Opener(
            job.target,
            message,
            job.streamsPerSocket ?? 1,
            job.transport === 'ws2bin' ? 'binary' : 'json',
          )
        : {
            open: (job.transport === 'peer' ? createPeerOpener : createWsOpener)(job.target, message),
            close: () => {},
          };

  streams = [];
  const started = performance.now();
  let failed = 0;
  let firstError: string | undefined;
  await pool(job.connections, job.openConcurrency, async (i) => {
    const stream: Stream = {
      latitude: job.latBase + i,
      nextSeq: 0,
      sentAt: [],
      sentSeq: [],
      head: 0,
      onFirstReply: undefined,
      slowReceived: 0,
      slow: false,
    };
    try {
      stream.connection = await opener!.open(eventsFor(stream));
      // One note and its reply: the call is established end to end, not just the socket.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply to the first note')), 30_000);
        stream.onFirstReply = () => {
          clearTimeout(timer);
          resolve();
        };
        sendNote(stream);
      });
      streams.push(stream);
    } catch (error) {
      failed += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
      stream.connection?.destroy();
    }
  });
  reply({
    type: 'opened',
    ms: performance.now() - started,
    opened: streams.length,
    failed,
    ...(firstError ? { firstError } : {}),
  });
}

function startLoad(window: number | undefined, rate: number | undefined): void {
  running = true;
  windowSize = window ?? 0;
  if (windowSize > 0) {
    for (const stream of streams) for (let i = 0; i < windowSize; i += 1) sendNote(stream);
    return;
  }
  if (!rate || streams.length === 0) return;
  // Open loop: a 1 ms tick sends what the schedule says is due, round robin over the streams.
  const started = performance.now();
  const maxOutstanding = 64;
  let sent = 0;
  let cursor = 0;
  rateTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000) - sent;
    for (let i = 0; i < due; i += 1) {
      const stream = streams[cursor++ % streams.length]!;
      sent += 1;
      if (outstanding(stream) < maxOutstanding) sendNote(stream);
      else errors += 1;
    }
  }, 1);
}

function recorded(): Recorded {
  return {
    replies,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
    errors,
    outOfOrder,
  };
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function closeAll(): Promise<void> {
  const started = performance.now();
  running = false;
  if (rateTimer) clearInterval(rateTimer);
  rateTimer = undefined;
  await waitFor(() => streams.every((s) => s.slow || outstanding(s) === 0), 5_000);
  await pool(streams.length, 1000, async (i) => {
    await streams[i]?.connection?.end(10_000);
  });
  opener?.close();
  streams = [];
  reply({ type: 'closed', ms: performance.now() - started });
}

function slow(job: SlowJob): void {
  const stream = streams[0];
  if (!stream?.connection) throw new Error('slow consumer: no open connection');
  stream.slow = true;
  stream.slowReceived = 0;
  if (job.pause) stream.connection.pauseReading();
  // All at one location: the core answers note k with the k notes stored there so far.
  for (let k = 0; k < job.notes; k += 1) stream.connection.send(job.latitude, 0);
  reply({ type: 'slow-sent' });
}

async function slowFinish(timeoutMs: number): Promise<void> {
  const stream = streams[0];
  if (!stream?.connection) throw new Error('slow consumer: no open connection');
  stream.connection.resumeReading();
  const status = await stream.connection.end(timeoutMs);
  reply({ type: 'slow-finished', received: stream.slowReceived, status });
  streams = [];
}

async function churn(job: ChurnJob): Promise<void> {
  const churnOpener = createWsOpener(job.target, padMessage(job.messageBytes));
  const lifetimes = newHistogram();
  const deadline = performance.now() + job.durationMs;
  let completed = 0;
  let failed = 0;
  let nextLatitude = job.latBase;
  const started = performance.now();
  const lane = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const latitude = nextLatitude++;
      try {
        let gotReply: () => void = () => {};
        const replied = new Promise<void>((resolve) => {
          gotReply = resolve;
        });
        const connection = await churnOpener({
          onNote: () => gotReply(),
          onError: () => {},
          onClosed: () => {},
        });
        connection.send(latitude, 0);
        await replied;
        const status = await connection.end(10_000);
        if (status !== 'OK') throw new Error(status);
        completed += 1;
        lifetimes.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  reply({
    type: 'churned',
    completed,
    failed,
    histogram: hdr.encodeIntoCompressedBase64(lifetimes),
    ms: performance.now() - started,
  });
}

async function handle(job: WorkerJob): Promise<void> {
  switch (job.type) {
    case 'open':
      return open(job);
    case 'load':
      return startLoad(job.window, job.rate);
    case 'record':
      histogram = newHistogram();
      replies = 0;
      errors = 0;
      outOfOrder = 0;
      recording = true;
      return;
    case 'stop-record':
      recording = false;
      reply({ type: 'recorded', ...recorded() });
      return;
    case 'close':
      return closeAll();
    case 'slow':
      return slow(job);
    case 'slow-finish':
      return slowFinish(job.timeoutMs);
    case 'churn':
      return churn(job);
    case 'exit':
      process.disconnect();
      process.exit(0);
  }
}

process.on('message', (job: WorkerJob) => {
  handle(job).catch((error: unknown) => {
    reply({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
  });
});
// The orchestrator going away ends the worker: nothing outlives a bench run.
process.on('disconnect', () => process.exit(0));
