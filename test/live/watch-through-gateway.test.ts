/**
 * NoteFeed.Watch through the gateway: an ordinary server-streaming method of protocol v2, with the
 * default descriptors. Real processes: a core and a gateway, real v2 WebSocket clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { type RouteGuideClient, routeguide } from '../../proto/index.js';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import { rssBytes, type SpawnedGateway, spawnGateway } from '../helpers/hardening.js';
import {
  arrivalTimes,
  CHAT,
  type LiveNote,
  metric,
  openWatch,
  postNotes,
  waitUntil,
  watchersAre,
  wireNotes,
} from '../helpers/live.js';
import { connectV2, type V2TestClient } from '../helpers/v2.js';

type Core = SpawnedProcess & { address: string; metricsUrl: string };

const CORE_ARGS = [
  // Small, so that a watcher that never reads is given up on quickly.
  '--feed-watcher-buffer',
  '512KiB',
  // The store keeps little, so what the core holds is what the feed queues.
  '--max-total-note-bytes',
  '2MiB',
];

const v2UrlOf = (gateway: SpawnedGateway) => `ws://${gateway.address}/v2`;

describe('NoteFeed.Watch through the gateway (protocol v2)', { timeout: 240_000 }, () => {
  let core: Core;
  let gateway: SpawnedGateway;
  const clients: V2TestClient[] = [];
  const open = async () => {
    const client = connectV2(v2UrlOf(gateway));
    clients.push(client);
    await client.opened;
    return client;
  };

  before(async () => {
    core = await spawnCore(CORE_ARGS);
    gateway = await spawnGateway(core.address, [
      // No --proto: the default descriptors must include note_feed.proto.
      '--socket-high-water-mark',
      '64KiB',
      // A paused client answers no ping: keep the heartbeat out of the slow-watcher test.
      '--heartbeat-interval',
      '10m',
    ]);
  });
  after(async () => {
    for (const client of clients) client.ws.terminate();
    await gateway?.stop();
    await core?.stop();
  });

  test('a v2 watcher gets exactly the notes posted inside its rectangle by another socket, in order, within a second', async () => {
    const watcher = await open();
    const poster = await open();
    const arrivals = arrivalTimes(watcher, 'w');
    openWatch(watcher, 'w', { lat: 100, lng: 100 }, { lat: 200, lng: 200 });
    await watchersAre(core.metricsUrl, 1);
    poster.send({ type: 'open', id: 'chat', method: CHAT });
    const notes: LiveNote[] = Array.from({ length: 24 }, (_, i) =>
      i % 2 === 0
        ? { lat: 100 + i, lng: 200 - i, message: `in-${i}` }
        : { lat: 300 + i, lng: 150, message: `out-${i}` },
    );
    const sentAt = postNotes(poster, 'chat', notes);
    const inside = notes.filter((n) => n.message.startsWith('in-'));
    await watcher.until((f) => f.filter((x) => x.type === 'message').length >= inside.length, 5000);
    // Nothing more comes (the outside notes were not held back, only filtered).
    await sleep(300);
    assert.deepEqual(
      wireNotes(watcher, 'w').map((n) => [n.message, n.location.latitude, n.location.longitude]),
      inside.map((n) => [n.message, n.lat, n.lng]),
    );
    const latencies = arrivals.map((t, i) => t - (sentAt[notes.indexOf(inside[i] as LiveNote)] ?? 0));
    assert.ok(Math.max(...latencies) < 1000, `latencies ${latencies.map((l) => l.toFixed(0))}`);
    // The watch is still open: no status.
    assert.equal(
      watcher.of('w').some((f) => f.type === 'status'),
      false,
    );
    watcher.send({ type: 'cancel', id: 'w' });
    poster.send({ type: 'end', id: 'chat' });
    assert.equal((await poster.status('chat')).name, 'OK');
    await watchersAre(core.metricsUrl, 0);
  });

  test("cancel ends the watch with CANCELLED and frees the core's registration; the socket stays open", async () => {
    const watcher = await open();
    for (const id of ['a', 'b', 'c']) openWatch(watcher, id, { lat: 0, lng: 0 }, { lat: 10, lng: 10 });
    await watchersAre(core.metricsUrl, 3);
    watcher.send({ type: 'cancel', id: 'b' });
    const status = await watcher.status('b');
    assert.equal(status.name, 'CANCELLED');
    await watchersAre(core.metricsUrl, 2);
    assert.equal(watcher.ws.readyState, WebSocket.OPEN);
    // The other watches on the socket go on.
    const poster = await open();
    poster.send({ type: 'open', id: 'chat', method: CHAT });
    postNotes(poster, 'chat', [{ lat: 5, lng: 5, message: 'after the cancel' }]);
    await watcher.until((f) => f.filter((x) => x.type === 'message').length >= 2, 5000);
    assert.deepEqual(
      ['a', 'c'].map((id) => wireNotes(watcher, id).map((n) => n.message)),
      [['after the cancel'], ['after the cancel']],
    );
    assert.deepEqual(wireNotes(watcher, 'b'), []);
    watcher.send({ type: 'cancel', id: 'a' });
    watcher.send({ type: 'cancel', id: 'c' });
    await watchersAre(core.metricsUrl, 0);
    watcher.ws.close();
    poster.ws.close();
  });

  test("a watcher that never reads ends RESOURCE_EXHAUSTED while the gateway's and the core's memory stay bounded", async () => {
    const area = { lo: { lat: 0, lng: 0 }, hi: { lat: 1_000_000, lng: 1_000_000 } };
    // A reading watcher through the same gateway: every note crosses the gateway once for it.
    const reader = await open();
    openWatch(reader, 'r', area.lo, area.hi);
    await watchersAre(core.metricsUrl, 1);
    const guide: RouteGuideClient = new routeguide.RouteGuide(
      core.address,
      grpc.credentials.createInsecure(),
    );
    const rss = () => ({ gateway: rssBytes(gateway.pid), core: rssBytes(core.child.pid as number) });
    const big = 'n'.repeat(64 * 1024);
    const total = 512; // 32 MiB of notes per round
    // Two notes at a time, each batch read before the next: the reader stays well inside its budget.
    const batch = 2;
    let posted = 0;
    /** Posts one round, each batch once the reader has it; returns the peak RSS of both processes. */
    const round = async () => {
      const peak = rss();
      for (let sent = 0; sent < total; sent += batch) {
        await postNative(
          guide,
          Array.from({ length: batch }, (_, i) => ({ lat: sent + i + 1, lng: 7, message: big })),
        );
        posted += batch;
        await waitUntil('the reader caught up', () => reader.messages('r').length === posted, 15_000).catch(
          (error: Error) => {
            throw new Error(
              `${error.message}: ${reader.messages('r').length}/${posted}, ${JSON.stringify(reader.of('r').filter((f) => f.type !== 'message'))}`,
            );
          },
        );
        if (sent % 32 === 0) {
          const now = rss();
          peak.gateway = Math.max(peak.gateway, now.gateway);
          peak.core = Math.max(peak.core, now.core);
        }
      }
      const now = rss();
      return { gateway: Math.max(peak.gateway, now.gateway), core: Math.max(peak.core, now.core) };
    };
    try {
      // First without the stalled watcher: both processes grow to what this traffic needs.
      const without = await round();

      // A raw client that stops reading its socket: TCP fills, the gateway's buffer passes its
      // high-water mark, the gateway stops reading the call, HTTP/2 holds the core back.
      const stalled = await open();
      openWatch(stalled, 'w', area.lo, area.hi);
      await watchersAre(core.metricsUrl, 2);
      stalled.ws.pause();
      const withStalled = await round();
      const growth = {
        gateway: withStalled.gateway - without.gateway,
        core: withStalled.core - without.core,
      };
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      // Unbounded, one of the two would keep most of the round (32 MiB of notes) for the stalled socket.
      assert.ok(growth.gateway < 12 * 2 ** 20, `gateway RSS grew by ${mib(growth.gateway)} MiB`);
      assert.ok(growth.core < 12 * 2 ** 20, `core RSS grew by ${mib(growth.core)} MiB`);
      // The core gave up on it while its socket was still paused: only the reader is registered.
      await watchersAre(core.metricsUrl, 1);
      assert.equal(await metric(core.metricsUrl, 'routeguide_core_feed_slow_watchers_total'), 1);
      assert.equal(stalled.ws.readyState, WebSocket.OPEN);

      // Reading again, the client gets the notes queued before the status, then the status.
      stalled.ws.resume();
      const status = await stalled.status('w', 20_000);
      assert.equal(status.name, 'RESOURCE_EXHAUSTED');
      assert.equal(status.message, 'watcher too slow');
      const got = stalled.messages('w').length;
      assert.ok(got > 0 && got < total, `${got} notes before the status`);
      assert.equal(stalled.ws.readyState, WebSocket.OPEN);
      reader.send({ type: 'cancel', id: 'r' });
      await watchersAre(core.metricsUrl, 0);
      stalled.ws.close();
      reader.ws.close();
    } finally {
      guide.close();
    }
  });

  test('core shutdown ends the watch with UNAVAILABLE; the socket stays open for the other streams', async () => {
    const client = await open();
    openWatch(client, 'w', { lat: 0, lng: 0 }, { lat: 10, lng: 10 });
    await watchersAre(core.metricsUrl, 1);
    const port = core.address.split(':')[1] as string;
    const exited = core.stop('SIGTERM');
    const status = await client.status('w', 10_000);
    assert.equal(status.name, 'UNAVAILABLE');
    await exited;
    assert.equal(client.ws.readyState, WebSocket.OPEN);
    // A core back at the same address: the same socket watches again (the gateway's channel
    // reconnects with backoff, so early opens may get UNAVAILABLE).
    core = await spawnCore([...CORE_ARGS, '--listen', `127.0.0.1:${port}`]);
    let attempt = 0;
    await waitUntil(
      'a new watch on the same socket is registered',
      async () => {
        const id = `again-${attempt}`;
        if (attempt === 0 || client.of(`again-${attempt - 1}`).some((f) => f.type === 'status')) {
          attempt += 1;
          openWatch(client, id, { lat: 0, lng: 0 }, { lat: 10, lng: 10 });
        }
        return (await metric(core.metricsUrl, 'routeguide_core_feed_watchers')) === 1;
      },
      20_000,
    );
    const poster = await open();
    poster.send({ type: 'open', id: 'chat', method: CHAT });
    postNotes(poster, 'chat', [{ lat: 1, lng: 1, message: 'back' }]);
    const live = `again-${attempt - 1}`;
    await client.until((f) => f.some((x) => x.type === 'message' && x.id === live), 5000);
    assert.deepEqual(
      wireNotes(client, live).map((n) => n.message),
      ['back'],
    );
    assert.equal(client.ws.readyState, WebSocket.OPEN);
    client.send({ type: 'cancel', id: live });
  });
});

describe('a gateway shutting down with a watch open', () => {
  test('the watch ends UNAVAILABLE at once and the socket closes 1001, long before the grace period', async () => {
    const core = await spawnCore();
    const gateway = await spawnGateway(core.address, ['--shutdown-grace', '60s']);
    const client = connectV2(v2UrlOf(gateway));
    try {
      await client.opened;
      openWatch(client, 'w', { lat: 0, lng: 0 }, { lat: 10, lng: 10 });
      await watchersAre(core.metricsUrl, 1);
      const started = Date.now();
      gateway.child.kill('SIGTERM');
      const closed = await client.closed;
      const status = await client.status('w', 1000);
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.message, 'gateway shutting down');
      assert.equal(closed.code, 1001);
      assert.equal((await gateway.exited).code, 0);
      // A Watch never ends by itself: without ending it, the drain would wait out the 60 s grace.
      assert.ok(Date.now() - started < 10_000, `the gateway took ${Date.now() - started} ms`);
      await watchersAre(core.metricsUrl, 0);
    } finally {
      client.ws.terminate();
      await gateway.stop('SIGKILL');
      await core.stop('SIGKILL');
    }
  });
});

/** Posts notes straight to the core on one RouteChat call and ends it. */
async function postNative(client: RouteGuideClient, notes: readonly LiveNote[]): Promise<void> {
  const call = client.RouteChat();
  const done = new Promise<void>((resolve, reject) => {
    call.on('error', reject);
    call.on('end', resolve);
  });
  call.on('data', () => {});
  for (const note of notes) {
    if (!call.write({ location: { latitude: note.lat, longitude: note.lng }, message: note.message }))
      await new Promise((resolve) => call.once('drain', resolve));
  }
  call.end();
  await done;
}
