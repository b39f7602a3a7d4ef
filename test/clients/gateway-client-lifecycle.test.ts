/**
 * GatewayClient's reconnect, outbox, credit and error-frame rules against a scripted WebSocket and
 * a fake clock: every branch in milliseconds. The same rules meet real processes in
 * gateway-client.test.ts.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import {
  FrameRejectedError,
  GatewayClient,
  type GatewayClientOptions,
  type GatewayClientState,
  GatewayError,
  OutboxFullError,
  StatusCode,
} from '../../clients/lib/index.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { ScriptedSocket } from '../helpers/scripted-websocket.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const last = () => ScriptedSocket.made.at(-1)!;
const GET_FEATURE = 'routeguide.RouteGuide/GetFeature';
const ROUTE_CHAT = 'routeguide.RouteGuide/RouteChat';
const here = { latitude: 1, longitude: 2 };
const ok = (id: string) => ({ type: 'status', id, code: 0, name: 'OK', message: '', metadata: {} });

function start(clock: FakeClock, options: Partial<GatewayClientOptions> = {}) {
  ScriptedSocket.made = [];
  const client = new GatewayClient('ws://gateway.test/v2', {
    WebSocket: ScriptedSocket,
    clock,
    random: () => 0.5,
    ...options,
  });
  const states: GatewayClientState[] = [];
  client.on('state', (state) => states.push(state));
  return { client, states };
}

const settled = async <T>(promise: Promise<T>) => {
  let outcome: { value?: T; error?: unknown } | undefined;
  promise.then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  await tick();
  return outcome;
};

describe('GatewayClient lifecycle (scripted socket, fake clock)', () => {
  test('calls made before the socket opens wait in the outbox and go out in order once it opens', async () => {
    const clock = createFakeClock();
    const { client, states } = start(clock);
    const chat = client.bidi(ROUTE_CHAT);
    chat.send({ location: here, message: 'early' });
    const feature = client.unary(GET_FEATURE, here);
    assert.equal(client.outboxSize, 2);
    assert.deepEqual(last().sent, [], 'nothing is written before open');
    last().open();
    assert.equal(client.outboxSize, 0);
    assert.deepEqual(
      last()
        .frames()
        .map((f) => [f.type, f.id]),
      [
        ['open', 'c1'],
        ['message', 'c1'],
        ['open', 'c2'],
        ['message', 'c2'],
      ],
    );
    last().reply({ type: 'message', id: 'c2', message: { name: 'x' } });
    last().reply(ok('c2'));
    assert.deepEqual(await feature, { name: 'x' });
    assert.deepEqual(
      states.map((s) => s.name),
      ['connecting', 'open'],
    );
    client.close();
  });

  test('a socket that breaks ends streaming calls in flight with UNAVAILABLE and rejects a unary with UNAVAILABLE', async () => {
    const clock = createFakeClock();
    const { client } = start(clock, { reconnect: { retries: 3 } });
    const chat = client.bidi(ROUTE_CHAT);
    const feature = client.unary(GET_FEATURE, here);
    last().open();
    last().drop();
    const status = await chat.status;
    assert.equal(status.code, StatusCode.UNAVAILABLE);
    assert.match(status.message, /connection lost \(1006\)/);
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.UNAVAILABLE,
    );
    // Nothing waits: no reconnect until the next call.
    assert.equal(client.state.name, 'idle');
    assert.equal(ScriptedSocket.made.length, 1);
    client.unary(GET_FEATURE, here).catch(() => {});
    assert.equal(ScriptedSocket.made.length, 2, 'the next call opens a new socket');
    client.close();
  });

  test("retry: 'idempotent' re-sends a unary in flight on the next socket, with the deadline left", async () => {
    const clock = createFakeClock();
    const { client, states } = start(clock, { reconnect: { retries: 3, initialDelayMs: 100 } });
    const feature = client.unary(GET_FEATURE, here, { retry: 'idempotent', timeoutMs: 10_000 });
    last().open();
    assert.deepEqual(last().frames()[0], { type: 'open', id: 'c1', method: GET_FEATURE, timeoutMs: 10_000 });
    clock.advance(1000);
    last().drop();
    // The call's own backoff (three quarters of 100 with random 0.5), then a new socket for it.
    clock.advance(75);
    assert.equal(ScriptedSocket.made.length, 2);
    last().open();
    assert.deepEqual(last().frames(), [
      { type: 'open', id: 'c1', method: GET_FEATURE, timeoutMs: 8925 },
      { type: 'message', id: 'c1', message: here },
    ]);
    last().reply({ type: 'message', id: 'c1', message: { name: 'again' } });
    last().reply(ok('c1'));
    assert.deepEqual(await feature, { name: 'again' });
    assert.deepEqual(
      states.map((s) => s.name),
      ['connecting', 'open', 'idle', 'connecting', 'open'],
    );
    client.close();
  });

  test("retry: 'idempotent' also re-sends a unary the gateway answered UNAVAILABLE (core down), within its retries", async () => {
    const clock = createFakeClock();
    const { client } = start(clock, { reconnect: { retries: 2, initialDelayMs: 100 } });
    const feature = client.unary(GET_FEATURE, here, { retry: 'idempotent' });
    last().open();
    const unavailable = (id: string) => ({
      type: 'status',
      id,
      code: 14,
      name: 'UNAVAILABLE',
      message: 'core unavailable',
      metadata: {},
    });
    for (let i = 0; i < 3; i += 1) {
      last().reply(unavailable('c1'));
      clock.advance(1000);
    }
    const opens = last()
      .frames()
      .filter((f) => f.type === 'open');
    assert.equal(opens.length, 3, 'the first try and two retries, on the same socket');
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.UNAVAILABLE,
    );
    client.close();
  });

  test('with reconnect, calls waiting survive failed attempts: backoff with jitter, then they go out', async () => {
    const clock = createFakeClock();
    const { client, states } = start(clock, { reconnect: { retries: 5, initialDelayMs: 100 } });
    const feature = client.unary(GET_FEATURE, here);
    for (let i = 0; i < 3; i += 1) {
      last().drop();
      clock.advance(10_000);
    }
    last().open();
    last().reply({ type: 'message', id: 'c1', message: { name: 'late' } });
    last().reply(ok('c1'));
    assert.deepEqual(await feature, { name: 'late' });
    const delays = states.flatMap((s) => (s.name === 'reconnecting' ? [[s.attempt, s.delayMs]] : []));
    assert.deepEqual(delays, [
      [1, 75],
      [2, 150],
      [3, 300],
    ]);
    assert.deepEqual(
      states.filter((s) => s.name === 'connecting').map((s) => (s.name === 'connecting' ? s.attempt : 0)),
      [1, 2, 3, 4],
    );
    client.close();
  });

  test('without reconnect, a failed attempt fails the calls waiting for it with its status', async () => {
    const clock = createFakeClock();
    const { client } = start(clock);
    const feature = client.unary(GET_FEATURE, here);
    last().drop();
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.UNAVAILABLE,
    );
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test('a call made while an open socket is closing waits for it, then gets an attempt of its own', async () => {
    const clock = createFakeClock();
    const { client } = start(clock);
    client.bidi(ROUTE_CHAT);
    last().open();
    last().readyState = 2;
    const feature = client.unary(GET_FEATURE, here);
    assert.equal(client.outboxSize, 1);
    last().drop({ code: 1001, reason: 'going away' });
    assert.equal(ScriptedSocket.made.length, 2);
    last().open();
    last().reply({ type: 'message', id: 'c2', message: { name: 'next socket' } });
    last().reply(ok('c2'));
    assert.deepEqual(await feature, { name: 'next socket' });
    client.close();
  });

  test('503 with Retry-After is retried no sooner than the header says', async () => {
    const clock = createFakeClock();
    const { client, states } = start(clock, { reconnect: { retries: 3, initialDelayMs: 100 } });
    void client.unary(GET_FEATURE, here).catch(() => {});
    last().refuse(503, { 'retry-after': '7' });
    await tick();
    const reconnecting = states.find((s) => s.name === 'reconnecting');
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.delayMs, 7000);
    clock.advance(6999);
    assert.equal(ScriptedSocket.made.length, 1);
    clock.advance(1);
    assert.equal(ScriptedSocket.made.length, 2);
    client.close();
  });

  for (const [http, code] of [
    [401, StatusCode.UNAUTHENTICATED],
    [403, StatusCode.PERMISSION_DENIED],
    [404, StatusCode.UNIMPLEMENTED],
  ] as const) {
    test(`a ${http} upgrade answer is never retried: waiting calls fail with ${code}`, async () => {
      const clock = createFakeClock();
      const { client } = start(clock, { reconnect: { retries: 5 } });
      const feature = client.unary(GET_FEATURE, here);
      last().refuse(http);
      await assert.rejects(feature, (e: unknown) => e instanceof GatewayError && e.code === code);
      clock.advance(60_000);
      assert.equal(ScriptedSocket.made.length, 1);
      assert.equal(client.state.name, 'idle');
    });
  }

  test('no handshake answer within 10 s (the default) fails the attempt with DEADLINE_EXCEEDED and retries', async () => {
    const clock = createFakeClock();
    const { client, states } = start(clock, { reconnect: { retries: 1 } });
    const feature = client.unary(GET_FEATURE, here);
    clock.advance(9999);
    assert.equal(states.at(-1)?.name, 'connecting');
    clock.advance(1);
    await tick();
    const reconnecting = states.at(-1);
    assert.equal(reconnecting?.name, 'reconnecting');
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.lastStatus.name, 'DEADLINE_EXCEEDED');
    clock.advance(1000);
    clock.advance(10_000);
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.DEADLINE_EXCEEDED,
    );
    assert.equal(ScriptedSocket.made.length, 2);
  });

  test('a token function is called before every attempt and its token goes in the subprotocol', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const { client } = start(clock, {
      reconnect: { retries: 3, initialDelayMs: 10 },
      token: async () => `t${++calls}`,
    });
    void client.unary(GET_FEATURE, here).catch(() => {});
    await tick();
    last().drop();
    clock.advance(100);
    await tick();
    assert.equal(calls, 2);
    assert.deepEqual(
      ScriptedSocket.made.map((s) => s.protocols),
      [
        ['gateway.v2', 'bearer.t1'],
        ['gateway.v2', 'bearer.t2'],
      ],
    );
    client.close();
  });

  test('a token function that throws fails the attempt UNAVAILABLE and is retried; a GatewayError it throws is final', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const { client, states } = start(clock, {
      reconnect: { retries: 5, initialDelayMs: 100 },
      token: async () => {
        calls += 1;
        if (calls === 1) throw new Error('identity provider down');
        if (calls === 2) return 'fresh';
        throw new GatewayError(StatusCode.UNAUTHENTICATED, 'signed out');
      },
    });
    const failure = client.unary(GET_FEATURE, here).then(
      () => undefined,
      (error: unknown) => error,
    );
    await tick();
    const retry = states.find((s) => s.name === 'reconnecting');
    assert.equal(
      retry?.name === 'reconnecting' && retry.lastStatus.message,
      'could not get a token: identity provider down',
    );
    assert.equal(ScriptedSocket.made.length, 0);
    clock.advance(1000);
    await tick();
    assert.deepEqual(last().protocols, ['gateway.v2', 'bearer.fresh']);
    last().drop();
    clock.advance(1000);
    await tick();
    const error = await failure;
    assert.ok(error instanceof GatewayError && error.code === StatusCode.UNAUTHENTICATED);
    assert.equal(error.message, 'signed out');
    clock.advance(60_000);
    assert.equal(calls, 3, 'a GatewayError from the token function is not retried');
    client.close();
  });

  test('constructed as RouteChatSocket is, from one options object with the url (the (url, options) form still works)', () => {
    const clock = createFakeClock();
    ScriptedSocket.made = [];
    const client = new GatewayClient({
      url: new URL('ws://gateway.test/v2'),
      WebSocket: ScriptedSocket,
      clock,
    });
    client.bidi(ROUTE_CHAT);
    assert.equal(last().url, 'ws://gateway.test/v2');
    assert.deepEqual(last().protocols, ['gateway.v2']);
    client.close();
  });

  test('the outbox is bounded: one call more throws OutboxFullError and nothing is queued', async () => {
    const clock = createFakeClock();
    const { client } = start(clock, { outboxCapacity: 2 });
    client.bidi(ROUTE_CHAT);
    client.bidi(ROUTE_CHAT);
    assert.throws(
      () => client.bidi(ROUTE_CHAT),
      (e: unknown) =>
        e instanceof OutboxFullError && e.code === StatusCode.RESOURCE_EXHAUSTED && e.capacity === 2,
    );
    await assert.rejects(client.unary(GET_FEATURE, here), OutboxFullError);
    assert.equal(client.outboxSize, 2);
    client.close();
  });

  test('a call waiting for a socket past its deadline ends with DEADLINE_EXCEEDED', async () => {
    const clock = createFakeClock();
    const { client } = start(clock, { reconnect: { retries: 50, initialDelayMs: 10_000 } });
    const feature = client.unary(GET_FEATURE, here, { timeoutMs: 3000 });
    last().drop();
    clock.advance(3000);
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.DEADLINE_EXCEEDED,
    );
    assert.equal(client.outboxSize, 0);
    client.close();
  });

  test('a closed client leaves no listener on a shared AbortSignal', () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    for (let i = 0; i < 20; i += 1) start(clock, { signal: controller.signal }).client.close();
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('the signal stops everything: waiting, in-flight and retrying calls end CANCELLED, no more attempts', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    const { client, states } = start(clock, {
      reconnect: { retries: 50, initialDelayMs: 100 },
      signal: controller.signal,
    });
    const chat = client.bidi(ROUTE_CHAT);
    last().open();
    last().drop();
    const waiting = client.unary(GET_FEATURE, here);
    last().drop();
    assert.equal(client.state.name, 'reconnecting');
    controller.abort();
    assert.equal((await chat.status).code, StatusCode.UNAVAILABLE);
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.CANCELLED,
    );
    assert.equal(states.at(-1)?.name, 'closed');
    clock.advance(600_000);
    assert.equal(ScriptedSocket.made.length, 2);
    assert.equal(clock.pending, 0, 'no timer left');
    assert.throws(
      () => client.bidi(ROUTE_CHAT),
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.FAILED_PRECONDITION,
    );
  });

  test('credit is handled inside: messages past the window wait for a credit frame', async () => {
    const clock = createFakeClock();
    const { client } = start(clock);
    const chat = client.bidi(ROUTE_CHAT);
    last().open();
    for (let i = 0; i < 40; i += 1) chat.send({ location: here, message: `m${i}` });
    chat.end();
    const messages = () =>
      last()
        .frames()
        .filter((f) => f.type === 'message').length;
    assert.equal(messages(), 32);
    assert.equal(last().frames().at(-1)?.type, 'message', 'end waits behind the held messages');
    last().reply({ type: 'credit', id: 'c1', messages: 16 });
    assert.equal(messages(), 40);
    assert.deepEqual(last().frames().at(-1), { type: 'end', id: 'c1' });
    client.close();
  });

  test('an error frame on a unary cancels its stream and rejects with its code, reason and details', async () => {
    const clock = createFakeClock();
    const { client } = start(clock);
    const feature = client.unary(GET_FEATURE, { latitude: 'x' as unknown as number });
    last().open();
    last().reply({
      type: 'error',
      id: 'c1',
      code: 'INVALID_ARGUMENT',
      reason: 'invalid_message',
      message: 'bad latitude',
      details: [{ path: 'message.latitude', message: 'expected an int32' }],
    });
    const outcome = await settled(feature);
    const error = outcome?.error;
    assert.ok(error instanceof FrameRejectedError, 'rejected without waiting for a status');
    assert.equal(error.code, StatusCode.INVALID_ARGUMENT);
    assert.equal(error.reason, 'invalid_message');
    assert.deepEqual(error.details, [{ path: 'message.latitude', message: 'expected an int32' }]);
    assert.deepEqual(last().frames().at(-1), { type: 'cancel', id: 'c1' });
    client.close();
  });

  test('a bidi call gets error frames as events and stays open; error frames without an id go to the client', async () => {
    const clock = createFakeClock();
    const { client } = start(clock);
    const chat = client.bidi(ROUTE_CHAT);
    last().open();
    const callErrors: string[] = [];
    const socketErrors: string[] = [];
    chat.on('error', (e) => callErrors.push(e.reason));
    client.on('error', (e) => socketErrors.push(e.reason));
    const error = { code: 'INVALID_ARGUMENT', message: 'x', details: [] };
    last().reply({ type: 'error', id: 'c1', reason: 'invalid_message', ...error });
    last().reply({ type: 'error', reason: 'invalid_json', ...error });
    assert.deepEqual(callErrors, ['invalid_message']);
    assert.deepEqual(socketErrors, ['invalid_json']);
    assert.equal(await settled(chat.status), undefined, 'the call goes on');
    client.close();
  });

  test('a frame outside the v2 contract closes the socket (1002) and ends its calls with INTERNAL, not retried', async () => {
    const clock = createFakeClock();
    const { client } = start(clock, { reconnect: { retries: 5 } });
    const chat = client.bidi(ROUTE_CHAT);
    last().open();
    last().emit('message', { data: '{"type":"surprise"}' });
    assert.equal((await chat.status).code, StatusCode.INTERNAL);
    clock.advance(60_000);
    assert.equal(ScriptedSocket.made.length, 1);
  });
});
