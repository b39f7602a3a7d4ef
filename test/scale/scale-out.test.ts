/**
 * Scale out (issue 10): the whole deployment as real processes, the way it runs in production.
 * Redis with AOF, two cores on it, two gateways each with `--core A,B`, HAProxy in front of both
 * gateways (test/helpers/deployment.ts). Every WebSocket here goes through HAProxy; which core
 * serves a socket is read from the cores' own stream counts, never chosen by the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { RouteNote } from '../../proto/index.js';
import type { ServerFrame } from '../../protocol/index.js';
import { waitForHealth } from '../helpers/core-calls.js';
import { type Deployment, deploymentSkip, startDeployment } from '../helpers/deployment.js';
import { connect, isStatus, refusedStatus, type TestClient, until } from '../helpers/gateway.js';

type Located = { client: TestClient; core: 0 | 1 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noteAt = (latitude: number, longitude: number, message: string): RouteNote => ({
  location: { latitude, longitude },
  message,
});
const messagesOf = (frames: readonly ServerFrame[]) =>
  frames.flatMap((frame) => ('message' in frame && !('type' in frame) ? [frame.message] : []));

describe('scale out: HAProxy → two gateways → two cores → Redis', { skip: deploymentSkip }, () => {
  let deployment: Deployment;
  const sockets: TestClient[] = [];

  const open = (): TestClient => {
    const client = connect(deployment.url);
    sockets.push(client);
    return client;
  };
  const streamsPerCore = async () =>
    Promise.all(deployment.cores.map((core) => core.routeChats().catch(() => 0)));

  /** Opens a socket through HAProxy and finds the core its stream landed on. */
  async function openLocated(): Promise<Located> {
    const [a0, b0] = await streamsPerCore();
    const client = open();
    await client.opened;
    let counts = [a0, b0];
    for (let tries = 0; tries < 400; tries += 1) {
      counts = await streamsPerCore();
      if ((counts[0] as number) > (a0 as number)) return { client, core: 0 };
      if ((counts[1] as number) > (b0 as number)) return { client, core: 1 };
      await sleep(25);
    }
    throw new Error(`no core shows the new stream: before ${a0},${b0}, now ${counts.join(',')}`);
  }

  /** Opens sockets until at least `perCore` streams are on each core (the rest are kept too). */
  async function openOnBothCores(perCore: number): Promise<Located[]> {
    const located: Located[] = [];
    for (let i = 0; i < 40; i += 1) {
      located.push(await openLocated());
      if ([0, 1].every((core) => located.filter((l) => l.core === core).length >= perCore)) return located;
    }
    throw new Error(`40 sockets did not reach both cores: ${located.map((l) => l.core).join('')}`);
  }

  /** Closes every socket of the previous test and waits until the cores have no RouteChat left. */
  async function closeAll(): Promise<void> {
    for (const client of sockets.splice(0)) client.ws.terminate();
    const deadline = Date.now() + 10_000;
    while ((await streamsPerCore()).some((n) => n > 0)) {
      if (Date.now() > deadline) throw new Error('streams stayed open on the cores');
      await sleep(25);
    }
  }

  /** Sends one note and resolves with the notes of its reply (up to and including its echo). */
  async function reply(client: TestClient, note: RouteNote): Promise<string[]> {
    const from = client.frames.length;
    client.send(note);
    await until(
      () => client.frames.slice(from).some((f) => 'message' in f && f.message === note.message),
      10_000,
      `the echo of ${note.message}`,
    );
    return messagesOf(client.frames.slice(from));
  }

  before(async () => {
    deployment = await startDeployment();
  });
  after(async () => {
    for (const client of sockets) client.ws.terminate();
    await deployment?.stop();
  });

  test('a note sent through core A is in the reply to a note at the same place sent through core B', async () => {
    const located = await openOnBothCores(1);
    const viaA = located.find((l) => l.core === 0)?.client as TestClient;
    const viaB = located.find((l) => l.core === 1)?.client as TestClient;
    assert.deepEqual(await reply(viaA, noteAt(1, 1, 'through core A')), ['through core A']);
    assert.deepEqual(await reply(viaB, noteAt(1, 1, 'through core B')), ['through core A', 'through core B']);
    await closeAll();
  });

  test('20 writers at one place through both cores: every reply is a prefix of the final list and ends with its note', async () => {
    const writers = Array.from({ length: 20 }, () => open());
    await Promise.all(writers.map((client) => client.opened));
    let perCore = await streamsPerCore();
    for (let i = 0; i < 400 && perCore.reduce((a, b) => a + b, 0) < 20; i += 1) {
      await sleep(25);
      perCore = await streamsPerCore();
    }
    assert.ok(
      perCore.every((n) => n >= 1),
      `writers on both cores (A ${perCore[0]}, B ${perCore[1]})`,
    );

    const replies = await Promise.all(writers.map((client, i) => reply(client, noteAt(2, 2, `writer ${i}`))));
    const probe = open();
    await probe.opened;
    const final = await reply(probe, noteAt(2, 2, 'final'));
    assert.equal(final.length, 21);
    for (const [i, got] of replies.entries()) {
      assert.equal(got.at(-1), `writer ${i}`, 'the reply ends with the note itself');
      assert.deepEqual(got, final.slice(0, got.length), `writer ${i}'s reply is a prefix of the final list`);
    }
    await closeAll();
  });

  test('SIGKILL core A under load: only its streams end (UNAVAILABLE, 4014); new sockets keep working', async () => {
    const located = await openOnBothCores(2);
    const onA = located.filter((l) => l.core === 0).map((l) => l.client);
    const onB = located.filter((l) => l.core === 1).map((l) => l.client);
    const ended = new Set<TestClient>();
    for (const { client } of located) void client.closed.then(() => ended.add(client));

    // Load: every socket sends a note at a fresh place every 20 ms, so every reply is one frame.
    let n = 0;
    const load = setInterval(() => {
      n += 1;
      for (const [i, { client }] of located.entries())
        if (client.ws.readyState === WebSocket.OPEN) client.send(noteAt(3_000 + i, n, `load ${i}/${n}`));
    }, 20);
    try {
      await until(() => located.every(({ client }) => client.frames.length >= 3), 10_000, 'load flowing');
      await deployment.cores[0].stop('SIGKILL');
      await until(() => ended.size >= onA.length, 10_000, `the ${onA.length} sockets on core A to end`);
      const seen = onB.map((client) => client.frames.length);
      await until(
        () => onB.every((client, i) => client.frames.length >= (seen[i] as number) + 5),
        10_000,
        'replies on core B after the kill',
      );
    } finally {
      clearInterval(load);
    }
    const indexes = (clients: Iterable<TestClient>) =>
      [...clients].map((client) => located.findIndex((l) => l.client === client)).sort((x, y) => x - y);
    assert.deepEqual(indexes(ended), indexes(onA), "exactly core A's sockets ended");
    for (const client of onA) {
      assert.deepEqual(await client.closed, { code: 4014, reason: 'UNAVAILABLE' });
      const last = client.frames.at(-1);
      assert.ok(isStatus(last) && last.code === 14, JSON.stringify(last));
    }
    for (const client of onB) assert.equal(client.ws.readyState, WebSocket.OPEN);

    // New sockets through HAProxy: each gateway's round_robin has dropped the dead core.
    const fresh = Array.from({ length: 4 }, () => open());
    for (const [i, client] of fresh.entries()) {
      await client.opened;
      assert.deepEqual(await reply(client, noteAt(4, i, `after the kill ${i}`)), [`after the kill ${i}`]);
    }
    await closeAll();

    // Core A back on its port: both gateways pick it up again by themselves.
    await deployment.cores[0].start();
    await deployment.waitForCoreInRotation(deployment.cores[0]);
  });

  test('Redis restarted (AOF): notes persist; during the outage notes end UNAVAILABLE with note-outcome; the cores serve again by themselves', async () => {
    const onCore = (located: readonly Located[], core: 0 | 1) =>
      located.find((l) => l.core === core)?.client as TestClient;
    const first = await openOnBothCores(1);
    const [viaA, viaB] = [onCore(first, 0), onCore(first, 1)];
    assert.deepEqual(await reply(viaA, noteAt(5, 5, 'before A')), ['before A']);
    assert.deepEqual(await reply(viaB, noteAt(5, 5, 'before B')), ['before A', 'before B']);

    await deployment.stopRedis('SIGKILL');
    // Once a core has seen Redis go (NOT_SERVING), a note fails at once and certainly not stored.
    await Promise.all(deployment.cores.map((core) => waitForHealth(core.address, 'NOT_SERVING')));
    for (const [i, client] of [viaA, viaB].entries()) {
      const from = client.frames.length;
      client.send(noteAt(5, 5, `during ${i}`));
      assert.deepEqual(await client.closed, { code: 4014, reason: 'UNAVAILABLE' });
      const status = client.frames.slice(from).find(isStatus);
      assert.equal(status?.name, 'UNAVAILABLE', JSON.stringify(client.frames.slice(from)));
      assert.equal(status?.metadata['note-outcome'], 'not-stored', JSON.stringify(status));
    }
    // No core serves: the gateways fail /readyz, HAProxy takes them out, a new socket gets 503.
    await deployment.waitForGateways('DOWN');
    assert.equal(await refusedStatus(deployment.url), 503);

    await deployment.startRedis();
    await Promise.all(deployment.cores.map((core) => waitForHealth(core.address, 'SERVING')));
    await deployment.waitForGateways('UP');
    await closeAll();
    const again = await openOnBothCores(1);
    assert.deepEqual(await reply(onCore(again, 0), noteAt(5, 5, 'after A')), [
      'before A',
      'before B',
      'after A',
    ]);
    assert.deepEqual(await reply(onCore(again, 1), noteAt(5, 5, 'after B')), [
      'before A',
      'before B',
      'after A',
      'after B',
    ]);
    await closeAll();
  });
});
