/**
 * `npm run bench:feed`: live notes to many watchers of one region. Reports the notes per second
 * delivered (one per watcher per note) and the core's CPU per delivered note.
 *
 * The core runs as its own process (dist/). The watchers and the poster live in this process, spread
 * over several HTTP/2 connections. The loop is closed on the slowest watcher: the poster keeps at
 * most `--window` notes ahead of the last watcher to receive them. That measures the rate the whole
 * path sustains without any watcher falling behind its budget. Each note is posted at its own place
 * inside the region, so the core's RouteChat reply is that note alone.
 *
 *   node dist/bench/feed.js [--watchers 1000] [--seconds 5] [--window 8] [--message-bytes 64] [--connections 10]
 */
import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { type NoteFeedClient, type RouteGuideClient, routeguide } from '../proto/index.js';
import { killAll, REPO_ROOT, startProduct } from './processes.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const WATCHERS = flag('watchers', 1000);
const SECONDS = flag('seconds', 5);
const WINDOW = flag('window', 8);
const MESSAGE_BYTES = flag('message-bytes', 64);
const CONNECTIONS = flag('connections', 10);
const WARMUP_MS = 1000;

const REGION = { lo: { latitude: 0, longitude: 0 }, hi: { latitude: 10_000_000, longitude: 10_000_000 } };

async function main() {
  const core = await startProduct('core-server/main.js', [
    '--metrics-listen',
    'off',
    '--feed-max-watchers',
    String(WATCHERS + 10),
  ]);
  const credentials = grpc.credentials.createInsecure();
  // A local subchannel pool per client: separate HTTP/2 connections, as separate gateways would have.
  const feeds: NoteFeedClient[] = Array.from(
    { length: CONNECTIONS },
    () => new routeguide.NoteFeed(core.address, credentials, { 'grpc.use_local_subchannel_pool': 1 }),
  );
  const guide: RouteGuideClient = new routeguide.RouteGuide(core.address, credentials, {
    'grpc.use_local_subchannel_pool': 1,
  });

  // receivedBy[i]: how many watchers have note i. Every watcher gets notes in order, so the notes
  // every watcher has form a prefix: `delivered` is its length.
  const receivedBy = new Map<number, number>();
  let delivered = 0;
  let deliveries = 0;
  let endedEarly = 0;
  let onProgress = () => {};
  const calls: grpc.ClientReadableStream<unknown>[] = [];
  await Promise.all(
    Array.from({ length: WATCHERS }, (_, w) => {
      const call = feeds[w % CONNECTIONS]!.Watch(REGION);
      calls.push(call);
      call.on('data', (note: { message: string }) => {
        deliveries += 1;
        const index = Number(note.message.slice(0, note.message.indexOf(' ')));
        const count = (receivedBy.get(index) ?? 0) + 1;
        if (count === WATCHERS) {
          receivedBy.delete(index);
          delivered = Math.max(delivered, index + 1);
          onProgress();
        } else receivedBy.set(index, count);
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (error.code !== grpc.status.CANCELLED) endedEarly += 1;
      });
      return new Promise<void>((resolve) => call.once('metadata', () => resolve()));
    }),
  );

  const chat = guide.RouteChat();
  chat.on('data', () => {});
  chat.on('error', () => {});
  const padding = 'x'.repeat(MESSAGE_BYTES);
  let posted = 0;
  let stopped = false;
  const pump = () => {
    while (!stopped && posted - delivered < WINDOW) {
      const i = posted++;
      // Its own place in the region: latitude and longitude from the index.
      chat.write({
        location: { latitude: 1 + (i % 9_000_000), longitude: 1 + Math.floor(i / 9_000_000) },
        message: `${i} ${padding}`,
      });
    }
  };
  onProgress = pump;
  pump();

  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const before = { at: process.hrtime.bigint(), cpu: core.sample().cpuMs, deliveries, delivered };
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const after = { at: process.hrtime.bigint(), cpu: core.sample().cpuMs, deliveries, delivered };
  stopped = true;

  const seconds = Number(after.at - before.at) / 1e9;
  const deliveredPerSecond = (after.deliveries - before.deliveries) / seconds;
  const notesPerSecond = (after.delivered - before.delivered) / seconds;
  const cpuMs = after.cpu - before.cpu;
  const result = {
    watchers: WATCHERS,
    connections: CONNECTIONS,
    window: WINDOW,
    messageBytes: MESSAGE_BYTES,
    seconds: Number(seconds.toFixed(2)),
    notesPerSecond: Math.round(notesPerSecond),
    deliveredPerSecond: Math.round(deliveredPerSecond),
    coreCpuShare: Number((cpuMs / 1000 / seconds).toFixed(2)),
    coreCpuMicrosecondsPerDelivery: Number(
      ((cpuMs * 1000) / (after.deliveries - before.deliveries)).toFixed(2),
    ),
    watchersEndedEarly: endedEarly,
  };

  chat.end();
  for (const call of calls) call.cancel();
  for (const client of [...feeds, guide]) client.close();
  await core.stop();

  const table = [
    `| watchers | connections | window | message bytes | notes/s (to all) | deliveries/s | core CPU | core CPU per delivery | watchers ended early |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.watchers} | ${result.connections} | ${result.window} | ${result.messageBytes} | ${result.notesPerSecond} | ${result.deliveredPerSecond} | ${Math.round(result.coreCpuShare * 100)}% of a core | ${result.coreCpuMicrosecondsPerDelivery} µs | ${result.watchersEndedEarly} |`,
  ].join('\n');
  process.stdout.write(`${JSON.stringify(result)}\n\n${table}\n`);
  writeFileSync(
    `${REPO_ROOT}bench/results/feed-latest.md`,
    `# Live notes bench (npm run bench:feed)\n\n${table}\n`,
  );
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(`bench:feed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
