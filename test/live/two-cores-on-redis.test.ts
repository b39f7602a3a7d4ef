/**
 * Live notes across cores: two core processes on one real Redis (`--note-store redis://…`), each
 * behind its own gateway. A note posted through one reaches a watcher of the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import { chatOnce, waitForHealth } from '../helpers/core-calls.js';
import { type SpawnedGateway, spawnGateway } from '../helpers/hardening.js';
import {
  arrivalTimes,
  CHAT,
  type LiveNote,
  openWatch,
  postNotes,
  watchersAre,
  wireNotes,
} from '../helpers/live.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';
import { connectV2, type V2TestClient } from '../helpers/v2.js';

type Core = SpawnedProcess & { address: string; metricsUrl: string };

describe('live notes across two cores on Redis', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let coreA: Core;
  let coreB: Core;
  let gatewayA: SpawnedGateway;
  let gatewayB: SpawnedGateway;
  const clients: V2TestClient[] = [];
  const open = async (gateway: SpawnedGateway) => {
    const client = connectV2(`ws://${gateway.address}/v2`);
    clients.push(client);
    await client.opened;
    return client;
  };

  before(async () => {
    redis = await startRedis();
    const args = ['--note-store', redis.url, '--redis-key-prefix', 'live:'];
    [coreA, coreB] = await Promise.all([spawnCore(args), spawnCore(args)]);
    await Promise.all([waitForHealth(coreA.address, 'SERVING'), waitForHealth(coreB.address, 'SERVING')]);
    [gatewayA, gatewayB] = await Promise.all([spawnGateway(coreA.address), spawnGateway(coreB.address)]);
  });
  after(async () => {
    for (const client of clients) client.ws.terminate();
    await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
    await Promise.all([coreA?.stop(), coreB?.stop()]);
    if (redis) {
      await redis.stop('SIGKILL');
      removeDir(redis);
    }
  });

  test('a watcher through a gateway to core A sees a note posted through a gateway to core B within a second', async () => {
    const watcherA = await open(gatewayA);
    const watcherB = await open(gatewayB);
    const arrivalsA = arrivalTimes(watcherA, 'w');
    openWatch(watcherA, 'w', { lat: 400, lng: 400 }, { lat: 500, lng: 500 });
    openWatch(watcherB, 'w', { lat: 400, lng: 400 }, { lat: 500, lng: 500 });
    // Registered on each core: A's only through its own Redis subscription.
    await Promise.all([watchersAre(coreA.metricsUrl, 1), watchersAre(coreB.metricsUrl, 1)]);

    const posterB = await open(gatewayB);
    posterB.send({ type: 'open', id: 'chat', method: CHAT });
    const notes: LiveNote[] = [
      { lat: 450, lng: 450, message: 'from B, inside' },
      { lat: 900, lng: 900, message: 'from B, outside' },
      { lat: 400, lng: 500, message: 'from B, on the edge' },
    ];
    const sentAt = postNotes(posterB, 'chat', notes);
    await watcherA.until((f) => f.filter((x) => x.type === 'message').length >= 2, 5000, 'notes on A');
    await watcherB.until((f) => f.filter((x) => x.type === 'message').length >= 2, 5000, 'notes on B');
    await sleep(200);
    const expected = ['from B, inside', 'from B, on the edge'];
    assert.deepEqual(
      wireNotes(watcherA, 'w').map((n) => n.message),
      expected,
    );
    // The core's own watchers see the same notes in the same order.
    assert.deepEqual(
      wireNotes(watcherB, 'w').map((n) => n.message),
      expected,
    );
    const latencies = [arrivalsA[0]! - sentAt[0]!, arrivalsA[1]! - sentAt[2]!];
    assert.ok(Math.max(...latencies) < 1000, `latencies ${latencies.map((l) => l.toFixed(0))}`);

    // And the other way round: posted through A, seen on B.
    const posterA = await open(gatewayA);
    posterA.send({ type: 'open', id: 'chat', method: CHAT });
    postNotes(posterA, 'chat', [{ lat: 420, lng: 480, message: 'from A' }]);
    await watcherB.until((f) => f.filter((x) => x.type === 'message').length >= 3, 5000, 'the note from A');
    assert.equal(wireNotes(watcherB, 'w')[2]?.message, 'from A');
    for (const client of [watcherA, watcherB]) client.send({ type: 'cancel', id: 'w' });
    await Promise.all([watchersAre(coreA.metricsUrl, 0), watchersAre(coreB.metricsUrl, 0)]);
  });

  test('notes written at one place through both cores at once reach every watcher in the order the store assigned', async () => {
    const watcherA = await open(gatewayA);
    const watcherB = await open(gatewayB);
    openWatch(watcherA, 'order', { lat: 700, lng: 700 }, { lat: 700, lng: 700 });
    openWatch(watcherB, 'order', { lat: 700, lng: 700 }, { lat: 700, lng: 700 });
    await Promise.all([watchersAre(coreA.metricsUrl, 1), watchersAre(coreB.metricsUrl, 1)]);
    // Eight writers, half through each core, all at one place and at once: the two cores' appends
    // interleave in Redis, so only the store's own order can be the one order everybody sees.
    const PER_WRITER = 10;
    const place = { latitude: 700, longitude: 700 };
    const writers = [0, 1, 2, 3, 4, 5, 6, 7].map(async (w) => {
      const core = w % 2 === 0 ? coreA : coreB;
      for (let i = 0; i < PER_WRITER; i += 1) {
        const result = await chatOnce(core.address, { location: place, message: `w${w}-${i}` });
        assert.equal(result.error, undefined);
      }
    });
    await Promise.all(writers);
    const total = 8 * PER_WRITER;
    const stored = await chatOnce(coreA.address, { location: place, message: 'last' });
    const storeOrder = stored.notes.map((n) => n.message).filter((m) => m !== 'last');
    assert.equal(storeOrder.length, total);
    for (const watcher of [watcherA, watcherB])
      await watcher.until(
        (f) => f.filter((x) => x.type === 'message').length >= total + 1,
        5000,
        'every note',
      );
    assert.deepEqual(
      wireNotes(watcherA, 'order')
        .map((n) => n.message)
        .filter((m) => m !== 'last'),
      storeOrder,
      'the watcher on core A sees the store order',
    );
    assert.deepEqual(
      wireNotes(watcherB, 'order')
        .map((n) => n.message)
        .filter((m) => m !== 'last'),
      storeOrder,
      'the watcher on core B sees the store order',
    );
    for (const client of [watcherA, watcherB]) client.send({ type: 'cancel', id: 'order' });
  });
});
