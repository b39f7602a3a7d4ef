/**
 * One gateway, several cores (`--core A,B`): health_checked_round_robin spreads streams over the
 * serving cores, a dead core ends only its own streams, a NOT_SERVING or draining core gets no new
 * ones, and /readyz follows "at least one core serves". Real core processes where the behaviour is
 * the core's (death, drain); in-process cores with settable health where it is the gateway's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import {
  connect,
  isStatus,
  type RunningGateway,
  startGateway,
  type TestClient,
  until,
} from '../helpers/gateway.js';
import {
  activeStreams,
  HEALTH_WATCH_METHOD,
  type HealthFakeCore,
  ROUTE_CHAT_METHOD,
  startHealthFakeCore,
} from '../helpers/multi-core.js';

type Core = SpawnedProcess & { address: string; metrics: string };

async function spawnCoreWithMetrics(args: readonly string[] = []): Promise<Core> {
  const core = await spawnCore(args);
  const listening = core.lines
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; metrics?: string };
      } catch {
        return {};
      }
    })
    .find((line) => line.msg === 'core server listening');
  return Object.assign(core, { metrics: String(listening?.metrics) });
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const routeChats = (core: Core) => activeStreams(core.metrics, ROUTE_CHAT_METHOD);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The pool's channel connects to both cores and watches each one's health; once both answered
 * (and a moment for the picker to take both), round_robin alternates between them.
 */
async function bothHealthWatched(a: Core, b: Core): Promise<void> {
  await eventually(
    async () =>
      (await activeStreams(a.metrics, HEALTH_WATCH_METHOD)) >= 1 &&
      (await activeStreams(b.metrics, HEALTH_WATCH_METHOD)) >= 1,
    'both cores health-watched',
  );
  await sleep(100);
}

/** Opens a socket and proves its stream works: a second note at a location returns the first. */
async function chatRoundTrip(client: TestClient, latitude: number): Promise<void> {
  await client.opened;
  const seen = client.frames.length;
  client.send({ location: { latitude, longitude: 7 }, message: `first ${latitude}` });
  client.send({ location: { latitude, longitude: 7 }, message: `second ${latitude}` });
  const frames = await client.waitForFrames(seen + 1, 10_000);
  assert.deepEqual(frames[seen], { location: { latitude, longitude: 7 }, message: `first ${latitude}` });
}

describe('several core processes behind one gateway', () => {
  let coreA: Core;
  let coreB: Core;
  let gateway: RunningGateway;
  const clients: TestClient[] = [];
  const open = (): TestClient => {
    const client = connect(gateway.wsUrl);
    clients.push(client);
    return client;
  };

  before(async () => {
    [coreA, coreB] = await Promise.all([spawnCoreWithMetrics(), spawnCoreWithMetrics()]);
    gateway = await startGateway(coreA.address, { core: `${coreA.address},${coreB.address}` });
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await gateway?.app.close();
    await Promise.all([coreA?.stop('SIGKILL'), coreB?.stop('SIGKILL')]);
  });

  test('streams are spread over both cores', async () => {
    await open().opened;
    await bothHealthWatched(coreA, coreB);
    for (let i = 0; i < 6; i += 1) await open().opened;
    await eventually(async () => (await routeChats(coreA)) + (await routeChats(coreB)) === 7, '7 streams');
    const onA = await routeChats(coreA);
    const onB = await routeChats(coreB);
    assert.ok(onA >= 3 && onB >= 3, `streams per core: A ${onA}, B ${onB}`);
  });

  test('a killed core ends only its own streams (UNAVAILABLE, 4014); new sockets go to the other at once', async () => {
    const onA = await routeChats(coreA);
    const onB = await routeChats(coreB);
    const before = [...clients];
    const ended = new Set<TestClient>();
    for (const client of before) void client.closed.then(() => ended.add(client));

    await coreA.stop('SIGKILL');
    await until(() => ended.size >= onA, 10_000, `${onA} sockets on the killed core to close`);
    // New sockets right away: round_robin has dropped the dead core already.
    const fresh = [open(), open(), open(), open()];
    await Promise.all(fresh.map((client, i) => chatRoundTrip(client, 100 + i)));
    await eventually(async () => (await routeChats(coreB)) === onB + fresh.length, 'new streams on B');

    await sleep(300);
    assert.equal(ended.size, onA, 'only the killed core’s sockets closed');
    for (const client of ended) {
      assert.deepEqual(await client.closed, { code: 4014, reason: 'UNAVAILABLE' });
      const last = client.frames.at(-1);
      assert.ok(isStatus(last) && last.code === 14, JSON.stringify(last));
    }
    const survivors = before.filter((client) => !ended.has(client));
    assert.equal(survivors.length, onB);
    for (const [i, client] of survivors.entries()) {
      assert.equal(client.ws.readyState, WebSocket.OPEN);
      await chatRoundTrip(client, 200 + i);
    }
  });
});

describe('a core that is not serving', () => {
  let sick: HealthFakeCore;
  let well: HealthFakeCore;
  let gateway: RunningGateway;
  const clients: TestClient[] = [];
  const open = (): TestClient => {
    const client = connect(gateway.wsUrl);
    clients.push(client);
    return client;
  };

  before(async () => {
    [sick, well] = await Promise.all([startHealthFakeCore('NOT_SERVING'), startHealthFakeCore('SERVING')]);
    gateway = await startGateway(sick.address, { core: `${sick.address},${well.address}` });
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await gateway?.app.close();
    sick?.stop();
    well?.stop();
  });

  test('a NOT_SERVING core gets no new streams; it gets them again once SERVING', async () => {
    for (let i = 0; i < 6; i += 1) await open().opened;
    await until(() => well.calls.length === 6, 10_000, '6 calls on the serving core');
    assert.equal(sick.calls.length, 0);

    sick.setStatus('SERVING');
    await sleep(200);
    for (let i = 0; i < 6; i += 1) await open().opened;
    await until(() => sick.calls.length + well.calls.length === 12, 10_000, '12 calls');
    assert.ok(sick.calls.length >= 2, `calls on the recovered core: ${sick.calls.length}`);

    // Going NOT_SERVING again stops new picks but leaves its open streams alone.
    const sickCalls = sick.calls.length;
    sick.setStatus('NOT_SERVING');
    await sleep(200);
    for (let i = 0; i < 4; i += 1) await open().opened;
    await until(() => well.calls.length === 12 - sickCalls + 4, 10_000, 'new calls on the serving core');
    assert.equal(sick.calls.length, sickCalls);
    await Promise.all(clients.map((client, i) => chatRoundTrip(client, 300 + i)));
    assert.ok(sick.calls.every((call) => !call.cancelled));
  });

  test('/readyz is 503 while no core serves and 200 while one does', async () => {
    const readyz = async () => (await fetch(`${gateway.httpUrl}/readyz`)).status;
    sick.setStatus('NOT_SERVING');
    well.setStatus('NOT_SERVING');
    await eventually(async () => (await readyz()) === 503, '503 with no core serving');
    well.setStatus('SERVING');
    await eventually(async () => (await readyz()) === 200, '200 with one core serving');
    well.stop();
    await eventually(async () => (await readyz()) === 503, '503 once the serving core is gone');
    assert.equal(await readyz(), 503);
  });
});

describe('a draining core process (SIGTERM)', () => {
  let coreA: Core;
  let coreB: Core;
  let gateway: RunningGateway;
  const clients: TestClient[] = [];
  const open = (): TestClient => {
    const client = connect(gateway.wsUrl);
    clients.push(client);
    return client;
  };

  before(async () => {
    [coreA, coreB] = await Promise.all([
      spawnCoreWithMetrics(['--shutdown-grace', '60s']),
      spawnCoreWithMetrics(['--shutdown-grace', '60s']),
    ]);
    gateway = await startGateway(coreA.address, { core: `${coreA.address},${coreB.address}` });
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await gateway?.app.close();
    await Promise.all([coreA?.stop('SIGKILL'), coreB?.stop('SIGKILL')]);
  });

  test('ends its own streams with UNAVAILABLE (4014) at once, gets no new ones, and exits; the other core’s streams go on', async () => {
    await open().opened;
    await bothHealthWatched(coreA, coreB);
    for (let i = 0; i < 3; i += 1) await open().opened;
    await eventually(async () => (await routeChats(coreA)) + (await routeChats(coreB)) === 4, '4 streams');
    const onA = await routeChats(coreA);
    const onB = await routeChats(coreB);
    assert.ok(onA >= 1, 'a stream on the core to drain');
    const before = [...clients];
    const ended = new Set<TestClient>();
    for (const client of before) void client.closed.then(() => ended.add(client));

    const started = Date.now();
    coreA.child.kill('SIGTERM');
    // The drain ends each RouteChat deliberately (not after the 60 s grace): clients move at once.
    await eventually(async () => ended.size === onA, `the ${onA} streams on the draining core ended`);
    for (const client of ended) assert.deepEqual(await client.closed, { code: 4014, reason: 'UNAVAILABLE' });
    const exit = await coreA.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 15_000, `core exited after ${Date.now() - started} ms`);

    const fresh = [open(), open(), open(), open()];
    await Promise.all(fresh.map((client) => client.opened));
    await eventually(async () => (await routeChats(coreB)) === onB + fresh.length, 'new streams on B');
    const alive = clients.filter((client) => !ended.has(client));
    await Promise.all(alive.map((client, i) => chatRoundTrip(client, 400 + i)));
  });
});
