/** routeguide.NoteFeed/Watch on a real core process, with native grpc-js clients. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import {
  type NoteFeedClient,
  type Rectangle,
  type RouteGuideClient,
  type RouteNote__Output,
  routeguide,
} from '../../proto/index.js';
import { REPO_ROOT, type SpawnedProcess, spawnTs } from '../helpers/core.js';
import { sample } from '../helpers/prometheus.js';

type Core = SpawnedProcess & { address: string; metricsUrl: string };

async function spawnFeedCore(args: readonly string[] = []): Promise<Core> {
  const proc = spawnTs('core-server/main.ts', [
    '--listen',
    '127.0.0.1:0',
    '--metrics-listen',
    '127.0.0.1:0',
    ...args,
  ]);
  const line = await proc.waitForLog('core server listening');
  return Object.assign(proc, { address: String(line.address), metricsUrl: String(line.metrics) });
}

const metric = async (core: Core, name: string): Promise<number | undefined> =>
  sample(await (await fetch(core.metricsUrl)).text(), name);

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

interface Watching {
  readonly call: grpc.ClientReadableStream<RouteNote__Output>;
  readonly notes: RouteNote__Output[];
  readonly arrivals: number[];
  /** Resolves once the core has sent headers: the watcher is registered. */
  readonly registered: Promise<void>;
  readonly status: Promise<grpc.StatusObject>;
}

function watch(client: NoteFeedClient, rect: Rectangle, metadata = new grpc.Metadata()): Watching {
  const call = client.Watch(rect, metadata);
  const notes: RouteNote__Output[] = [];
  const arrivals: number[] = [];
  call.on('data', (note: RouteNote__Output) => {
    notes.push(note);
    arrivals.push(Date.now());
  });
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const registered = new Promise<void>((resolve, reject) => {
    call.once('metadata', () => resolve());
    void status.then((s) => reject(new Error(`watch ended before headers: ${s.code} ${s.details}`)));
  });
  // Only some tests wait for it; a watch refused on purpose must not be an unhandled rejection.
  registered.catch(() => {});
  return { call, notes, arrivals, registered, status };
}

/** Posts notes on one RouteChat call, one at a time (each once its reply started), and ends it. */
async function post(
  client: RouteGuideClient,
  notes: { lat: number; lng: number; message: string }[],
  metadata?: grpc.Metadata,
) {
  const call = metadata ? client.RouteChat(metadata) : client.RouteChat();
  const done = new Promise<void>((resolve, reject) => {
    call.on('error', reject);
    call.on('end', resolve);
  });
  call.on('data', () => {});
  const postedAt: number[] = [];
  for (const note of notes) {
    postedAt.push(Date.now());
    if (!call.write({ location: { latitude: note.lat, longitude: note.lng }, message: note.message })) {
      await new Promise((resolve) => call.once('drain', resolve));
    }
  }
  call.end();
  await done;
  return postedAt;
}

const rect = (lat1: number, lng1: number, lat2: number, lng2: number): Rectangle => ({
  lo: { latitude: lat1, longitude: lng1 },
  hi: { latitude: lat2, longitude: lng2 },
});

describe('NoteFeed.Watch on a core process', { timeout: 120_000 }, () => {
  let core: Core;
  let feed: NoteFeedClient;
  let guide: RouteGuideClient;

  before(async () => {
    core = await spawnFeedCore();
    feed = new routeguide.NoteFeed(core.address, grpc.credentials.createInsecure());
    guide = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
  });
  after(async () => {
    feed.close();
    guide.close();
    await core.stop();
  });

  test('a watcher gets exactly the notes posted inside its rectangle, in order, within a second', async () => {
    const watcher = watch(feed, rect(100, 100, 200, 200));
    await watcher.registered;
    const notes = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? { lat: 100 + i, lng: 200 - i, message: `in-${i}` }
        : { lat: 300 + i, lng: 150, message: `out-${i}` },
    );
    const postedAt = await post(guide, notes);
    const inside = notes.filter((n) => n.message.startsWith('in-'));
    await waitUntil('the inside notes arrived', () => watcher.notes.length >= inside.length, 5000);
    await sleep(200);
    assert.deepEqual(
      watcher.notes.map((n) => n.message),
      inside.map((n) => n.message),
    );
    assert.deepEqual(
      watcher.notes.map((n) => [n.location?.latitude, n.location?.longitude]),
      inside.map((n) => [n.lat, n.lng]),
    );
    const latencies = watcher.arrivals.map((t, i) => t - (postedAt[notes.indexOf(inside[i]!)] ?? 0));
    assert.ok(Math.max(...latencies) < 1000, `latencies ${latencies}`);
    watcher.call.cancel();
  });

  test('two watchers with overlapping rectangles (corners in any order) each get theirs once, edges included', async () => {
    // A: lat 0..10, lng 0..10 given hi-first; B: lat 5..15, lng 5..15 given with mixed corners.
    const a = watch(feed, rect(10, 10, 0, 0));
    const b = watch(feed, rect(5, 15, 15, 5));
    await Promise.all([a.registered, b.registered]);
    await post(guide, [
      { lat: 0, lng: 0, message: 'a-corner' },
      { lat: 7, lng: 7, message: 'both' },
      { lat: 10, lng: 10, message: 'both-corner' },
      { lat: 15, lng: 5, message: 'b-corner' },
      { lat: 10, lng: 11, message: 'b-only' },
      { lat: -1, lng: 0, message: 'neither' },
      { lat: 16, lng: 16, message: 'neither-2' },
    ]);
    await waitUntil('both watchers got theirs', () => a.notes.length >= 3 && b.notes.length >= 4, 5000);
    await sleep(200);
    assert.deepEqual(
      a.notes.map((n) => n.message),
      ['a-corner', 'both', 'both-corner'],
    );
    assert.deepEqual(
      b.notes.map((n) => n.message),
      ['both', 'both-corner', 'b-corner', 'b-only'],
    );
    a.call.cancel();
    b.call.cancel();
  });

  test('cancelling a watcher frees its registration (routeguide_core_feed_watchers)', async () => {
    await waitUntil(
      'earlier watchers are gone',
      async () => (await metric(core, 'routeguide_core_feed_watchers')) === 0,
    );
    const watchers = Array.from({ length: 5 }, (_, i) => watch(feed, rect(i, i, i + 1, i + 1)));
    await Promise.all(watchers.map((w) => w.registered));
    assert.equal(await metric(core, 'routeguide_core_feed_watchers'), 5);
    for (const w of watchers) w.call.cancel();
    await waitUntil(
      'the registrations are freed',
      async () => (await metric(core, 'routeguide_core_feed_watchers')) === 0,
    );
    for (const w of watchers) assert.equal((await w.status).code, grpc.status.CANCELLED);
  });

  test('a rectangle with a point out of range is INVALID_ARGUMENT', async () => {
    const bad = watch(feed, rect(0, 0, 910_000_000, 0));
    const status = await bad.status;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /hi \(910000000, 0\) is out of range/);
  });

  test('the health service and reflection list routeguide.NoteFeed', async () => {
    const healthDef = protoLoader.loadSync(healthProtoPath, { enums: String });
    const { health: healthPkg } = grpc.loadPackageDefinition(healthDef).grpc as unknown as {
      health: { v1: { Health: typeof grpc.Client } };
    };
    const health = new healthPkg.v1.Health(core.address, grpc.credentials.createInsecure()) as grpc.Client & {
      Check(
        req: { service: string },
        cb: (e: grpc.ServiceError | null, r?: { status: string }) => void,
      ): void;
    };
    const reply = await new Promise<{ status: string } | undefined>((resolve, reject) =>
      health.Check({ service: 'routeguide.NoteFeed' }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    assert.equal(reply?.status, 'SERVING');
    health.close();

    const reflectionDef = protoLoader.loadSync(
      `${REPO_ROOT}node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto`,
      { keepCase: true },
    );
    const pkg = grpc.loadPackageDefinition(reflectionDef) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: typeof grpc.Client } } };
    };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(
      core.address,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & {
      ServerReflectionInfo(): grpc.ClientDuplexStream<
        object,
        {
          list_services_response?: { service: { name: string }[] };
          file_descriptor_response?: { file_descriptor_proto: Buffer[] };
        }
      >;
    };
    const call = reflection.ServerReflectionInfo();
    const replies: {
      list_services_response?: { service: { name: string }[] };
      file_descriptor_response?: { file_descriptor_proto: Buffer[] };
    }[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (r) => replies.push(r));
      call.on('error', reject);
      call.on('end', resolve);
    });
    call.write({ list_services: '*' });
    call.write({ file_containing_symbol: 'routeguide.NoteFeed' });
    call.end();
    await ended;
    reflection.close();
    const services = replies[0]?.list_services_response?.service.map((s) => s.name) ?? [];
    assert.ok(services.includes('routeguide.NoteFeed'), services.join());
    assert.ok(services.includes('routeguide.RouteGuide'), services.join());
    // A tool (grpcurl) can describe the service: the descriptor it gets names the method and its types.
    const files = (replies[1]?.file_descriptor_response?.file_descriptor_proto ?? []).map((b) =>
      b.toString('latin1'),
    );
    assert.ok(files.some((f) => ['NoteFeed', 'Watch', 'Rectangle', 'RouteNote'].every((w) => f.includes(w))));
  });
});

describe('NoteFeed.Watch limits and lifecycle', { timeout: 180_000 }, () => {
  test('Watch needs the same bearer token as RouteChat when the core requires one', async () => {
    const core = await spawnFeedCore(['--auth-tokens', 'feed-secret']);
    const feed = new routeguide.NoteFeed(core.address, grpc.credentials.createInsecure());
    const guide = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const denied = watch(feed, rect(0, 0, 10, 10));
      assert.equal((await denied.status).code, grpc.status.UNAUTHENTICATED);
      const wrong = new grpc.Metadata();
      wrong.set('authorization', 'Bearer nope');
      assert.equal((await watch(feed, rect(0, 0, 10, 10), wrong).status).code, grpc.status.UNAUTHENTICATED);
      const auth = new grpc.Metadata();
      auth.set('authorization', 'Bearer feed-secret');
      const allowed = watch(feed, rect(0, 0, 10, 10), auth);
      await allowed.registered;
      await post(guide, [{ lat: 1, lng: 1, message: 'with token' }], auth);
      await waitUntil('the note arrived', () => allowed.notes.length === 1, 5000);
      allowed.call.cancel();
    } finally {
      feed.close();
      guide.close();
      await core.stop();
    }
  });

  test("a watcher that never reads ends RESOURCE_EXHAUSTED while the core's memory stays bounded", async () => {
    // The store keeps little, so what the core holds is what the feed queues.
    const core = await spawnFeedCore([
      '--feed-watcher-buffer',
      '1MiB',
      '--max-total-note-bytes',
      '2MiB',
      '--max-message-size',
      '1MiB',
    ]);
    const feed = new routeguide.NoteFeed(core.address, grpc.credentials.createInsecure());
    const guide = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const area = rect(0, 0, 1_000_000, 1_000_000);
      const reader = watch(feed, area);
      await reader.registered;
      const rss = async () => (await metric(core, 'process_resident_memory_bytes')) ?? 0;
      // 48 MiB of notes, each at its own place (RouteChat's reply is then just the note itself), in
      // batches of 512 KiB that the reading watcher takes in before the next: it keeps up. Returns the
      // core's peak RSS meanwhile.
      const big = 'n'.repeat(64 * 1024);
      const total = 768;
      const batchSize = 8;
      let posted = 0;
      const postAll = async (): Promise<number> => {
        let peak = await rss();
        for (let sent = 0; sent < total; sent += batchSize) {
          await post(
            guide,
            Array.from({ length: batchSize }, (_, i) => ({ lat: sent + i + 1, lng: 7, message: big })),
          );
          posted += batchSize;
          await waitUntil('the reader caught up', () => reader.notes.length === posted);
          if (sent % 64 === 0) peak = Math.max(peak, await rss());
        }
        return Math.max(peak, await rss());
      };
      // First without stalled watchers: the core's heap grows to what this traffic needs (~50 MiB here).
      const peakWithout = await postAll();

      const stalled = Array.from({ length: 8 }, () => watch(feed, area));
      await Promise.all(stalled.map((w) => w.registered));
      for (const w of stalled) w.call.pause();
      const peakWith = await postAll();
      // Unbounded, the stalled watchers would keep all 48 MiB of notes (distinct strings, shared by
      // the eight queues) alive in the core; bounded, at most 8 × 1 MiB.
      const growth = peakWith - peakWithout;
      assert.ok(growth < 24 * 1024 * 1024, `core RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
      await waitUntil(
        'only the reader is still registered',
        async () => (await metric(core, 'routeguide_core_feed_watchers')) === 1,
      );
      assert.equal(await metric(core, 'routeguide_core_feed_slow_watchers_total'), 8);

      // The status follows the notes queued before it: a client that reads again gets them, then it.
      for (const w of stalled) w.call.resume();
      for (const w of stalled) {
        const status = await w.status;
        assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
        assert.equal(status.details, 'watcher too slow');
        assert.ok(w.notes.length > 0 && w.notes.length < 64, `${w.notes.length} notes before the status`);
      }
      reader.call.cancel();
    } finally {
      feed.close();
      guide.close();
      await core.stop();
    }
  });

  test('SIGTERM ends open watchers with UNAVAILABLE "server shutting down" well before the grace period', async () => {
    const core = await spawnFeedCore(['--shutdown-grace', '20s']);
    const feed = new routeguide.NoteFeed(core.address, grpc.credentials.createInsecure());
    try {
      const watchers = [watch(feed, rect(0, 0, 10, 10)), watch(feed, rect(-5, -5, 5, 5))];
      await Promise.all(watchers.map((w) => w.registered));
      const started = Date.now();
      core.child.kill('SIGTERM');
      for (const w of watchers) {
        const status = await w.status;
        assert.equal(status.code, grpc.status.UNAVAILABLE);
        assert.equal(status.details, 'server shutting down');
      }
      const exit = await core.exited;
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      feed.close();
      await core.stop();
    }
  });
});
