/**
 * Protocol v2 against a hostile client (hardening round 3), on a real gateway process in front of a
 * real core: each attack costs the attacker only. Every other client's v1 and v2 streams go on,
 * memory stays bounded, and each limit the docs state is enforced with the answer they state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCode, HTTP2_CONNECTION_HEADERS, MAX_ERROR_DETAILS } from '../../protocol/index.js';
import {
  DEFAULT_MAX_SERVER_STREAMS_PER_IP,
  DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET,
  DEFAULT_MAX_SOCKET_REJECTIONS,
  type ErrorFrameV2,
  MAX_OPEN_METADATA_BYTES,
  MAX_OPEN_METADATA_ENTRIES,
  MAX_TIMEOUT_MS,
  type ServerFrameV2,
} from '../../protocol/v2/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type FakeCore, startFakeCore } from '../helpers/gateway.js';
import { rssBytes, type SpawnedGateway, sleep, spawnGateway } from '../helpers/hardening.js';
import { CHAT, openWatch } from '../helpers/live.js';
import { connectV2, type V2TestClient } from '../helpers/v2.js';
import { AROUND_US, witnesses } from '../helpers/witnesses.js';

const MiB = 1024 * 1024;
const GET_FEATURE = 'routeguide.RouteGuide/GetFeature';
const v2Client = (gateway: SpawnedGateway, localAddress?: string) =>
  connectV2(`ws://${gateway.address}/v2`, localAddress ? { localAddress } : {});

const statusOf = async (client: V2TestClient, id: string) => (await client.status(id)).name;

let settledCount = 0;
/** Resolves once every frame sent before on `client` has been handled (a unary call behind them ended). */
async function settled(client: V2TestClient): Promise<void> {
  settledCount += 1;
  const id = `settled-${settledCount}`;
  client.send({ type: 'open', id, method: GET_FEATURE });
  client.send({ type: 'message', id, message: {} });
  assert.equal(await statusOf(client, id), 'OK');
}

describe('v2 against a hostile client, at the default limits', () => {
  let core: RunningCore;
  let gateway: SpawnedGateway;
  before(async () => {
    core = await startCore();
    gateway = await spawnGateway(core.address);
  });
  after(async () => {
    await gateway.stop();
    await core.stop();
  });

  test('an open with any header HTTP/2 forbids is refused INVALID_ARGUMENT; every other client goes on', async () => {
    const others = await witnesses(gateway);
    const attacker = v2Client(gateway);
    try {
      await attacker.opened;
      const forbidden = [...[...HTTP2_CONNECTION_HEADERS].map((k) => [k, 'AAA']), ['te', 'gzip']];
      for (const [index, [key, value]] of forbidden.entries()) {
        const id = `x${index}`;
        attacker.send({ type: 'open', id, method: GET_FEATURE, metadata: { [key as string]: value } });
        attacker.send({ type: 'message', id, message: {} });
        assert.equal(await statusOf(attacker, id), 'INVALID_ARGUMENT', `${key}: ${value}`);
      }
      await others.stillServed();
      assert.equal((await fetch(`http://${gateway.address}/readyz`)).status, 200);
      const fresh = v2Client(gateway);
      await fresh.opened;
      fresh.send({ type: 'open', id: 'f', method: GET_FEATURE });
      fresh.send({ type: 'message', id: 'f', message: { latitude: 409146138, longitude: -746188906 } });
      assert.equal(await statusOf(fresh, 'f'), 'OK');
      fresh.ws.close();
    } finally {
      attacker.ws.close();
      others.close();
    }
  });

  test("identity headers (forwarded, x-forwarded-*, x-real-ip) are the gateway's to set: INVALID_ARGUMENT", async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      for (const key of [
        'forwarded',
        'x-forwarded-for',
        'x-forwarded-host',
        'x-forwarded-proto',
        'x-real-ip',
      ]) {
        client.send({ type: 'open', id: key, method: GET_FEATURE, metadata: { [key]: '10.0.0.1' } });
        assert.equal(await statusOf(client, key), 'INVALID_ARGUMENT', key);
      }
    } finally {
      client.ws.close();
    }
  });

  test(`more than ${MAX_OPEN_METADATA_ENTRIES} metadata entries or ${MAX_OPEN_METADATA_BYTES} bytes: INVALID_ARGUMENT up front, with the reason`, async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      const entries = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-k${i}`, 'v']));
      client.send({ type: 'open', id: 'many', method: GET_FEATURE, metadata: entries });
      const many = await client.status('many');
      assert.equal(many.name, 'INVALID_ARGUMENT');
      assert.match(many.message, /500 entries: at most 64/);
      client.send({ type: 'open', id: 'big', method: GET_FEATURE, metadata: { 'x-big': 'v'.repeat(9000) } });
      const big = await client.status('big');
      assert.equal(big.name, 'INVALID_ARGUMENT');
      assert.match(big.message, /at most 8192 are allowed/);
      const ok = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`x-k${i}`, 'v']));
      client.send({ type: 'open', id: 'ok', method: GET_FEATURE, metadata: ok });
      client.send({ type: 'message', id: 'ok', message: {} });
      assert.equal(await statusOf(client, 'ok'), 'OK');
    } finally {
      client.ws.close();
    }
  });

  test('a -bin value of an impossible base64 length is refused, not decoded to less', async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      client.send({ type: 'open', id: 'a', method: GET_FEATURE, metadata: { 'trace-bin': 'A' } });
      const status = await client.status('a');
      assert.equal(status.name, 'INVALID_ARGUMENT');
      assert.match(status.message, /metadata\.trace-bin/);
    } finally {
      client.ws.close();
    }
  });

  test('a stream id with a lone surrogate, a NUL or a control character is refused and never echoed; 64 code points are fine', async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      for (const bad of ['\ud800', 'a\u0000b', 'tab\t', 'c1\u0085', '😀'.repeat(65)])
        client.send(`{"type":"open","id":${JSON.stringify(bad)},"method":"${GET_FEATURE}"}`);
      await client.until((f) => f.filter((x) => x.type === 'error').length === 5, 5000, 'five errors');
      for (const error of client.frames as ErrorFrameV2[]) {
        assert.equal(error.reason, 'invalid_frame_type');
        assert.equal(error.id, undefined);
        assert.equal(error.message, 'an open frame needs a valid id');
      }
      const astral = '😀'.repeat(64);
      client.send({ type: 'open', id: astral, method: GET_FEATURE });
      client.send({ type: 'message', id: astral, message: {} });
      assert.equal(await statusOf(client, astral), 'OK');
    } finally {
      client.ws.close();
    }
  });

  test('refused opens count against the socket: a non-reading client sending opens with 4,900 bad keys is closed 1008, memory bounded', async () => {
    const others = await witnesses(gateway);
    const rssBefore = rssBytes(gateway.pid);
    const attacker = v2Client(gateway);
    try {
      await attacker.opened;
      attacker.ws.pause();
      const bad = Object.fromEntries(Array.from({ length: 4900 }, (_, i) => [`K${i}`, 'v']));
      const fewer = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`K${i}`, 'v']));
      for (let i = 0; i < 300; i += 1) {
        attacker.send({ type: 'open', id: `o${i}`, method: GET_FEATURE, metadata: i % 2 ? bad : fewer });
        if (i % 50 === 49) await sleep(100);
      }
      await sleep(500);
      const grown = rssBytes(gateway.pid) - rssBefore;
      attacker.ws.resume();
      const closed = await attacker.closed;
      assert.equal(closed.code, CloseCode.POLICY_VIOLATION);
      assert.match(closed.reason, /too many rejected frames/);
      const statuses = attacker.frames.filter((f) => f.type === 'status');
      assert.equal(statuses.length, DEFAULT_MAX_SOCKET_REJECTIONS);
      for (const error of attacker.frames.filter((f): f is ErrorFrameV2 => f.type === 'error'))
        assert.ok(error.details.length <= MAX_ERROR_DETAILS, `${error.details.length} details`);
      assert.ok(grown < 32 * MiB, `gateway RSS grew ${(grown / MiB).toFixed(1)} MiB`);
      await others.stillServed();
    } finally {
      attacker.ws.close();
      others.close();
    }
  });

  test(`server-streaming calls: at most ${DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET} per socket and ${DEFAULT_MAX_SERVER_STREAMS_PER_IP} per address; another address still gets its watch`, async () => {
    const hoarders: V2TestClient[] = [];
    const outsider = v2Client(gateway, '127.0.0.2');
    try {
      const perSocket = DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET;
      const sockets = DEFAULT_MAX_SERVER_STREAMS_PER_IP / perSocket;
      for (let s = 0; s <= sockets; s += 1) hoarders.push(v2Client(gateway));
      await Promise.all([...hoarders.map((h) => h.opened), outsider.opened]);
      const first = hoarders[0] as V2TestClient;
      for (let i = 0; i <= perSocket; i += 1) openWatch(first, `w${i}`, AROUND_US.lo, AROUND_US.hi);
      const overSocket = await first.status(`w${perSocket}`);
      assert.equal(overSocket.name, 'RESOURCE_EXHAUSTED');
      assert.match(overSocket.message, /server-streaming calls on this socket/);
      for (const hoarder of hoarders.slice(1, sockets))
        for (let i = 0; i < perSocket; i += 1) openWatch(hoarder, `w${i}`, AROUND_US.lo, AROUND_US.hi);
      // Frames of one socket are handled in order: a unary call's status says its watches are open.
      await Promise.all(hoarders.slice(0, sockets).map((h) => settled(h)));
      const last = hoarders[sockets] as V2TestClient;
      openWatch(last, 'w0', AROUND_US.lo, AROUND_US.hi);
      const overAddress = await last.status('w0');
      assert.equal(overAddress.name, 'RESOURCE_EXHAUSTED');
      assert.match(overAddress.message, /server-streaming calls from this address/);
      // Another address is not starved: its watch opens and sees a note posted after it.
      openWatch(outsider, 'mine', AROUND_US.lo, AROUND_US.hi);
      await sleep(300);
      outsider.send({ type: 'open', id: 'post', method: CHAT });
      outsider.send({
        type: 'message',
        id: 'post',
        message: { location: { latitude: 410_000_000, longitude: -740_000_000 }, message: 'seen' },
      });
      await outsider.until(
        (f) => f.some((x) => x.type === 'message' && x.id === 'mine'),
        10_000,
        'the outsider sees its note live',
      );
      // The share comes back as streams end: one socket gone, its address may watch again.
      first.ws.close();
      await first.closed;
      await sleep(200);
      openWatch(last, 'w1', AROUND_US.lo, AROUND_US.hi);
      await sleep(500);
      assert.equal(last.of('w1').filter((f) => f.type === 'status').length, 0, 'the watch is open');
      const watching = hoarders
        .slice(1)
        .flatMap((h) => h.frames.filter((f) => f.type === 'status' && f.id.startsWith('w')));
      assert.deepEqual(
        watching.map((f: ServerFrameV2) => f.type === 'status' && f.id),
        ['w0'],
        'only the refused open ended',
      );
    } finally {
      for (const hoarder of hoarders) hoarder.ws.close();
      outsider.ws.close();
    }
  });
  test('the longest timeoutMs the docs allow is a deadline far away, not one already passed', async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      client.send({ type: 'open', id: 'far', method: CHAT, timeoutMs: MAX_TIMEOUT_MS });
      client.send({ type: 'message', id: 'far', message: { location: { latitude: 7, longitude: 7 } } });
      await sleep(500);
      assert.deepEqual(
        client.of('far').filter((f) => f.type === 'status'),
        [],
        'the stream is still open',
      );
      client.send({ type: 'end', id: 'far' });
      assert.equal(await statusOf(client, 'far'), 'OK');
    } finally {
      client.ws.close();
    }
  });

  test('frames racing the status of a refused open (its request, its end) do not count against the socket', async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      const refused = DEFAULT_MAX_SOCKET_REJECTIONS - 1;
      for (let i = 0; i < refused; i += 1) {
        client.send({ type: 'open', id: `r${i}`, method: 'routeguide.RouteGuide/Teleport' });
        client.send({ type: 'message', id: `r${i}`, message: {} });
        client.send({ type: 'end', id: `r${i}` });
      }
      await settled(client);
      assert.equal(
        client.ws.readyState,
        client.ws.OPEN,
        `${refused} refused opens, pipelined, keep the socket`,
      );
      const errors = client.frames.filter((f) => f.type === 'error');
      assert.equal(errors.length, refused * 2, 'each racing frame is still answered');
      client.send({ type: 'open', id: 'last', method: 'routeguide.RouteGuide/Teleport' });
      assert.equal((await client.closed).code, CloseCode.POLICY_VIOLATION, 'the 20th refused open closes it');
    } finally {
      client.ws.close();
    }
  });
});

describe('v2 and the shared connection to the core: cancels and deadlines', () => {
  let fakeCore: FakeCore;
  let core: RunningCore;
  let onFake: SpawnedGateway;
  let onReal: SpawnedGateway;
  before(async () => {
    // A core whose RouteChat never ends on its own: every call it sees must be cancelled by the gateway.
    fakeCore = await startFakeCore(() => {});
    core = await startCore();
    [onFake, onReal] = await Promise.all([
      spawnGateway(fakeCore.address),
      spawnGateway(core.address, ['--rate-limit', '0']),
    ]);
  });
  after(async () => {
    await Promise.all([onFake.stop(), onReal.stop()]);
    await fakeCore.stop();
    await core.stop();
  });

  test('open and cancel in one write leave no stream open on the core', async () => {
    const client = v2Client(onFake);
    try {
      await client.opened;
      // A connected channel first: the race is with a call that starts at once.
      client.send({ type: 'open', id: 'first', method: CHAT });
      const deadline0 = performance.now() + 5000;
      while (fakeCore.calls.length === 0 && performance.now() < deadline0) await sleep(20);
      client.send({ type: 'cancel', id: 'first' });
      for (let i = 0; i < 150; i += 1) {
        client.send({ type: 'open', id: `x${i}`, method: CHAT });
        client.send({ type: 'cancel', id: `x${i}` });
      }
      await client.until((f) => f.filter((x) => x.type === 'status').length === 151, 10_000, '151 statuses');
      const deadline = performance.now() + 5000;
      while (fakeCore.calls.some((c) => !c.cancelled) && performance.now() < deadline) await sleep(50);
      const orphans = fakeCore.calls.filter((c) => !c.cancelled).length;
      assert.equal(orphans, 0, `${orphans} of ${fakeCore.calls.length} calls left open on the core`);
    } finally {
      client.ws.close();
    }
  });

  test('deadlines that expire spend the reset allowance: 1,500 of them do not kill the connection others share', async () => {
    const others = await witnesses(onReal);
    const client = v2Client(onReal);
    try {
      await client.opened;
      for (let batch = 0; batch < 15; batch += 1) {
        for (let i = 0; i < 100; i += 1)
          client.send({ type: 'open', id: `d${batch}-${i}`, method: CHAT, timeoutMs: 1 });
        await client.until(
          (f) => f.filter((x) => x.type === 'status').length === (batch + 1) * 100,
          10_000,
          `batch ${batch}`,
        );
      }
      const statuses = client.frames.filter((f) => f.type === 'status');
      assert.ok(statuses.every((f) => f.type === 'status' && f.name === 'DEADLINE_EXCEEDED'));
      await others.stillServed();
    } finally {
      client.ws.close();
      others.close();
    }
  });
});

describe('v2 output bound: a client that stops reading', () => {
  let core: RunningCore;
  let gateway: SpawnedGateway;
  before(async () => {
    core = await startCore();
    // No rate limit: the output bound alone must hold this client back.
    gateway = await spawnGateway(core.address, [
      '--rate-limit',
      '0',
      '--socket-high-water-mark',
      '64KiB',
      '--slow-reader-timeout',
      '2s',
    ]);
  });
  after(async () => {
    // The core first: grpc-js keeps the gateway's connection to it open for up to its keepalive (30 s)
    // after the gateway has stopped, when calls were cancelled on it (seen before this round too).
    await core.stop();
    await gateway.stop();
  });

  test('is not read past the high-water mark (nothing more queued for it), and is closed 1008 when that lasts', async () => {
    const others = await witnesses(gateway);
    const rssBefore = rssBytes(gateway.pid);
    const client = v2Client(gateway);
    try {
      await client.opened;
      client.ws.pause();
      // Each rejected message earns an error frame of about its own size (16 clipped details).
      const unknownFields = Object.fromEntries(
        Array.from({ length: 16 }, (_, i) => [`${'f'.repeat(190)}${i}`, 1]),
      );
      const FRAMES = 8000;
      let sent = 0;
      for (let stream = 0; sent < FRAMES; stream += 1) {
        client.send({ type: 'open', id: `s${stream}`, method: CHAT });
        sent += 1;
        for (let i = 0; i < 15; i += 1, sent += 1)
          client.send({ type: 'message', id: `s${stream}`, message: unknownFields });
        client.send({ type: 'cancel', id: `s${stream}` });
        sent += 1;
        if (stream % 20 === 19) await sleep(5);
      }
      const closedLine = await gateway.waitForLog(/connection closed/, 20_000);
      const grown = rssBytes(gateway.pid) - rssBefore;
      client.ws.resume();
      const closed = await client.closed;
      assert.equal(closed.code, CloseCode.POLICY_VIOLATION);
      assert.match(closed.reason, /did not read/);
      const framesIn = Number(closedLine.framesIn);
      assert.ok(framesIn < sent / 4, `the gateway read ${framesIn} of ${sent} frames`);
      assert.ok(grown < 32 * MiB, `gateway RSS grew ${(grown / MiB).toFixed(1)} MiB`);
      await others.stillServed();
    } finally {
      client.ws.close();
      others.close();
    }
  });
});

describe('--max-stream-lifetime on v2', () => {
  let core: RunningCore;
  let gateway: SpawnedGateway;
  before(async () => {
    core = await startCore();
    gateway = await spawnGateway(core.address, ['--max-stream-lifetime', '2s']);
  });
  after(async () => {
    await gateway.stop();
    await core.stop();
  });

  test("ends each stream when its own lifetime is up, not every stream of the socket at the socket's", async () => {
    const client = v2Client(gateway);
    try {
      await client.opened;
      openWatch(client, 'early', AROUND_US.lo, AROUND_US.hi);
      await sleep(1200);
      openWatch(client, 'late', AROUND_US.lo, AROUND_US.hi);
      const early = await client.status('early', 5000);
      assert.equal(early.name, 'DEADLINE_EXCEEDED');
      assert.equal(client.of('late').length, 0, 'the later stream is still open');
      const late = await client.status('late', 5000);
      assert.equal(late.name, 'DEADLINE_EXCEEDED');
      client.send({ type: 'open', id: 'after', method: GET_FEATURE });
      client.send({ type: 'message', id: 'after', message: {} });
      assert.equal(await statusOf(client, 'after'), 'OK', 'the socket is still open');
    } finally {
      client.ws.close();
    }
  });
});
