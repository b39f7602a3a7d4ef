/**
 * RouteChatSocket's reconnect, outbox and fate rules against a scripted WebSocket and a fake clock:
 * every branch in milliseconds, no timing noise. The same rules meet real processes in
 * route-chat-socket.test.ts and rolling-restart.test.ts.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import {
  type ConnectionState,
  GatewayError,
  type NoteFate,
  OutboxFullError,
  RouteChatSocket,
  type RouteChatSocketOptions,
  StatusCode,
} from '../../clients/lib/index.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { ScriptedSocket } from '../helpers/scripted-websocket.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const last = () => ScriptedSocket.made.at(-1)!;

function start(clock: FakeClock, options: Partial<RouteChatSocketOptions> = {}) {
  ScriptedSocket.made = [];
  const socket = new RouteChatSocket({
    url: 'ws://gateway.test/v1/routechat',
    WebSocket: ScriptedSocket,
    clock,
    random: () => 0.5,
    settleMs: 0,
    ...options,
  });
  const states: ConnectionState[] = [];
  const fates: NoteFate[] = [];
  socket.on('state', (state) => states.push(state));
  socket.on('fate', (fate) => fates.push(fate));
  return { socket, states, fates };
}

const here = { latitude: 1, longitude: 2 };
const echo = (message: string) => ({ location: here, message });

describe('RouteChatSocket lifecycle (scripted socket, fake clock)', () => {
  test('a gateway that opens then closes with 4014 does not reset the attempt count: it gives up', async () => {
    const clock = createFakeClock();
    const { socket, states } = start(clock, {
      reconnect: { retries: 4, initialDelayMs: 100, maxDelayMs: 1000 },
    });
    for (let i = 0; i < 10 && socket.state.name !== 'closed'; i += 1) {
      last().open();
      last().endWith(14, 'UNAVAILABLE', 4014);
      clock.advance(2000);
    }
    await socket.closed;
    const delays = states.flatMap((s) => (s.name === 'reconnecting' ? [[s.attempt, s.delayMs]] : []));
    // Equal jitter with random() = 0.5: three quarters of 100, 200, 400, 800.
    assert.deepEqual(delays, [
      [1, 75],
      [2, 150],
      [3, 300],
      [4, 600],
    ]);
    assert.equal(ScriptedSocket.made.length, 5);
    assert.equal((await socket.status).name, 'UNAVAILABLE');
  });

  test('a reply resets the count: a stream that worked starts the next backoff from attempt 1', async () => {
    const clock = createFakeClock();
    const { socket, states } = start(clock, { reconnect: { retries: 2, initialDelayMs: 100 } });
    last().drop({ code: 1006, reason: '' });
    clock.advance(1000);
    last().open();
    void socket.send({ location: here, message: 'hi' });
    last().reply(echo('hi'));
    last().drop({ code: 1006, reason: '' });
    const attempts = states.flatMap((s) => (s.name === 'reconnecting' ? [s.attempt] : []));
    assert.deepEqual(attempts, [1, 1]);
    socket.close();
  });

  test('open for healthyAfterMs without a reply also counts as working', () => {
    const clock = createFakeClock();
    const { socket, states } = start(clock, { reconnect: { retries: 5, healthyAfterMs: 3000 } });
    last().open();
    clock.advance(2999);
    last().drop({ code: 1006, reason: '' });
    clock.advance(20_000);
    last().open();
    clock.advance(3000);
    last().drop({ code: 1006, reason: '' });
    const attempts = states.flatMap((s) => (s.name === 'reconnecting' ? [s.attempt] : []));
    assert.deepEqual(attempts, [1, 1]);
    socket.close();
  });

  test('a gateway going away with OK + 1001 is a restart: reconnecting, not the end', () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 3 } });
    last().open();
    last().endWith(0, 'OK', 1001);
    assert.equal(socket.state.name, 'reconnecting');
    socket.close();
  });

  test('not retried: INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED', async () => {
    for (const [code, name] of [
      [3, 'INVALID_ARGUMENT'],
      [7, 'PERMISSION_DENIED'],
      [16, 'UNAUTHENTICATED'],
    ] as const) {
      const clock = createFakeClock();
      const { socket } = start(clock, { reconnect: { retries: 3 } });
      last().open();
      last().endWith(code, name, 4000 + code);
      assert.equal((await socket.status).name, name);
      assert.equal(ScriptedSocket.made.length, 1);
    }
  });

  test('handshake timeout: no answer within handshakeTimeoutMs is DEADLINE_EXCEEDED, and retried', async () => {
    const clock = createFakeClock();
    const { socket, states } = start(clock, { handshakeTimeoutMs: 5000, reconnect: { retries: 1 } });
    clock.advance(4999);
    assert.equal(socket.state.name, 'connecting');
    clock.advance(1);
    await tick();
    assert.equal(states.at(-1)?.name, 'reconnecting');
    clock.advance(100_000);
    await tick();
    clock.advance(5000);
    await tick();
    const outcome = await socket.closed;
    assert.equal(outcome.status.code, StatusCode.DEADLINE_EXCEEDED);
    assert.match(outcome.status.message, /handshake/);
    assert.equal(ScriptedSocket.made.length, 2);
  });

  test('a 503 upgrade answer with Retry-After is retried no sooner than the header says', async () => {
    const clock = createFakeClock();
    const { socket, states } = start(clock, { reconnect: { retries: 3, initialDelayMs: 100 } });
    last().refuse(503, { 'retry-after': '7' });
    await tick();
    const reconnecting = states.find((s) => s.name === 'reconnecting');
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.delayMs, 7000);
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.lastStatus.name, 'UNAVAILABLE');
    clock.advance(6999);
    assert.equal(ScriptedSocket.made.length, 1);
    clock.advance(1);
    assert.equal(ScriptedSocket.made.length, 2);
    socket.close();
  });

  test('a 401 upgrade answer is never retried: UNAUTHENTICATED, the HTTP status in the outcome', async () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 5 } });
    last().refuse(401);
    const outcome = await socket.closed;
    assert.equal(outcome.status.code, StatusCode.UNAUTHENTICATED);
    assert.equal(outcome.httpStatus, 401);
    assert.equal(outcome.statusFrame, false);
    clock.advance(60_000);
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test('a frame outside the v1 contract closes the socket (4013) and ends INTERNAL, not retried', async () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 5 } });
    last().open();
    last().emit('message', { data: '{"type":"surprise"}' });
    const outcome = await socket.closed;
    assert.equal(outcome.status.code, StatusCode.INTERNAL);
    assert.equal(outcome.closeCode, 4013);
    clock.advance(60_000);
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test("closed while the socket's own close is still on its way: closed at once, no timer left", async () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 5 } });
    // A runtime sets CLOSED before it dispatches the close event.
    last().readyState = 3;
    socket.close();
    assert.equal(socket.state.name, 'closed');
    assert.equal((await socket.status).name, 'CANCELLED');
    assert.equal(clock.pending, 0, 'no handshake timer left');
    last().emit('close', { code: 1006, reason: '' });
    clock.advance(60_000);
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test('the AbortSignal stops a pending reconnect for good', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    const { socket } = start(clock, { reconnect: { retries: 9 }, signal: controller.signal });
    last().drop({ code: 1006, reason: '' });
    assert.equal(socket.state.name, 'reconnecting');
    controller.abort();
    const status = await socket.status;
    assert.equal(status.name, 'CANCELLED');
    clock.advance(60_000);
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test('a closed socket leaves no listener on a shared AbortSignal', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    for (let i = 0; i < 20; i += 1) {
      const { socket } = start(clock, { signal: controller.signal });
      socket.close();
      last().emit('close', { code: 1000, reason: '' });
      await socket.closed;
    }
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('a token function is called before every attempt; the fresh token is offered', async () => {
    const clock = createFakeClock();
    let issued = 0;
    const { socket } = start(clock, {
      reconnect: { retries: 3 },
      token: async () => {
        issued += 1;
        return `t${issued}`;
      },
    });
    await tick();
    assert.deepEqual(last().protocols, ['routechat.v1', 'bearer.t1']);
    last().drop({ code: 1006, reason: '' });
    clock.advance(60_000);
    await tick();
    assert.deepEqual(last().protocols, ['routechat.v1', 'bearer.t2']);
    socket.close();
  });

  test('a token function that throws fails the attempt UNAVAILABLE and is retried; a GatewayError it throws is final', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const { socket, states } = start(clock, {
      reconnect: { retries: 5, initialDelayMs: 100 },
      token: () => {
        calls += 1;
        if (calls === 1) throw new Error('identity provider down');
        if (calls === 2) return 'fresh';
        throw new GatewayError(StatusCode.UNAUTHENTICATED, 'signed out');
      },
    });
    await tick();
    const retry = states.find((s) => s.name === 'reconnecting');
    assert.equal(
      retry?.name === 'reconnecting' && retry.lastStatus.message,
      'could not get a token: identity provider down',
    );
    assert.equal(ScriptedSocket.made.length, 0);
    clock.advance(1000);
    await tick();
    assert.deepEqual(last().protocols, ['routechat.v1', 'bearer.fresh']);
    last().drop({ code: 1006, reason: '' });
    clock.advance(1000);
    await tick();
    const outcome = await socket.closed;
    assert.equal(outcome.status.code, StatusCode.UNAUTHENTICATED);
    assert.equal(outcome.status.message, 'signed out');
    clock.advance(60_000);
    assert.equal(calls, 3, 'a GatewayError from the token function is not retried');
  });

  test('new RouteChatSocket(url, options): the shape GatewayClient takes too', () => {
    const clock = createFakeClock();
    ScriptedSocket.made = [];
    const socket = new RouteChatSocket('ws://gateway.test/v1/routechat', {
      WebSocket: ScriptedSocket,
      clock,
      token: 't0ken',
    });
    assert.equal(last().url, 'ws://gateway.test/v1/routechat');
    assert.deepEqual(last().protocols, ['routechat.v1', 'bearer.t0ken']);
    socket.close();
  });

  test('notes sent while disconnected wait in the outbox and go out on the next stream, then confirm', async () => {
    const clock = createFakeClock();
    const { socket, fates } = start(clock, { reconnect: { retries: 3 } });
    last().drop({ code: 1006, reason: '' });
    const fate = socket.send({ location: here, message: 'during the outage' });
    assert.equal(socket.outboxSize, 1);
    assert.deepEqual(socket.queued(), [echo('during the outage')]);
    clock.advance(60_000);
    last().open();
    assert.deepEqual(last().sent, [JSON.stringify(echo('during the outage'))]);
    clock.advance(42);
    last().reply(echo('during the outage'));
    const settled = await fate;
    assert.equal(settled.fate, 'confirmed');
    assert.equal(settled.latencyMs, 42);
    assert.deepEqual(
      fates.map((f) => f.fate),
      ['confirmed'],
    );
    socket.close();
  });

  test('a new stream settles before notes go out: a call failed at once leaves them in the outbox', async () => {
    const clock = createFakeClock();
    const { socket, fates } = start(clock, { reconnect: { retries: 3 }, settleMs: 250 });
    const fate = socket.send({ location: here, message: 'not into a doomed stream' });
    last().open();
    assert.deepEqual(last().sent, []);
    last().endWith(14, 'UNAVAILABLE', 4014);
    assert.deepEqual(fates, [], 'no fate yet: the note never left');
    assert.equal(socket.outboxSize, 1);
    clock.advance(60_000);
    last().open();
    clock.advance(249);
    assert.deepEqual(last().sent, []);
    clock.advance(1);
    assert.deepEqual(last().sent, [JSON.stringify(echo('not into a doomed stream'))]);
    last().reply(echo('not into a doomed stream'));
    assert.equal((await fate).fate, 'confirmed');
    socket.close();
  });

  test('a full outbox throws OutboxFullError; nothing is dropped silently', () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { outboxCapacity: 2 });
    void socket.send({ message: 'a' });
    void socket.send({ message: 'b' });
    assert.throws(() => socket.send({ message: 'c' }), OutboxFullError);
    socket.close();
  });

  test('the in-flight window: one note until the first echo, then maxInFlight until echoes free it', () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { maxInFlight: 2 });
    last().open();
    for (const message of ['1', '2', '3', '4']) void socket.send({ location: here, message });
    assert.equal(last().sent.length, 1, 'slow start: the stream has not proved it reaches the core');
    last().reply(echo('1'));
    assert.equal(last().sent.length, 3);
    assert.equal(socket.outboxSize, 1);
    assert.equal(socket.inFlight, 2);
    last().reply(echo('2'));
    assert.equal(last().sent.length, 4);
    socket.close();
  });

  test('draining gateway: refused notes are resent on the next stream; in-flight ones are unknown', async () => {
    const clock = createFakeClock();
    const { socket, fates } = start(clock, { reconnect: { retries: 3 } });
    last().open();
    void socket.send({ location: here, message: 'warm' });
    last().reply(echo('warm'));
    fates.length = 0;
    const fateA = socket.send({ location: here, message: 'a' });
    const fateB = socket.send({ location: here, message: 'b' });
    const fateC = socket.send({ location: here, message: 'c' });
    // a was taken; b and c came after the drain began.
    last().reply({
      type: 'error',
      code: 'INVALID_ARGUMENT',
      reason: 'after_end',
      message: 'draining',
      details: [],
    });
    last().reply({
      type: 'error',
      code: 'INVALID_ARGUMENT',
      reason: 'after_end',
      message: 'draining',
      details: [],
    });
    last().endWith(0, 'OK', 1001);
    assert.deepEqual(
      fates.map((f) => [f.note.message, f.fate, f.resend]),
      [
        ['b', 'refused', true],
        ['c', 'refused', true],
        ['a', 'unknown', false],
      ],
    );
    assert.equal((await fateA).fate, 'unknown');
    clock.advance(60_000);
    last().open();
    const messages = () => last().sent.map((text) => (JSON.parse(text) as { message: string }).message);
    assert.deepEqual(messages(), ['b'], 'refused notes go first (one until the new stream echoes)');
    last().reply(echo('b'));
    assert.deepEqual(messages(), ['b', 'c']);
    last().reply(echo('c'));
    assert.equal((await fateB).fate, 'confirmed');
    assert.equal((await fateC).attempts, 2);
    socket.close();
  });

  test('a note the core did not store (note-outcome: not-stored) is refused with the status that says why, and resent', async () => {
    const clock = createFakeClock();
    const { socket, fates } = start(clock, { reconnect: { retries: 3 } });
    last().open();
    void socket.send({ location: here, message: 'warm' });
    last().reply(echo('warm'));
    fates.length = 0;
    const fate = socket.send({ location: here, message: 'kept' });
    last().reply({
      type: 'status',
      code: 14,
      name: 'UNAVAILABLE',
      message: 'note not-stored: note store unavailable: not connected',
      metadata: { 'note-outcome': 'not-stored' },
    });
    last().drop({ code: 4014, reason: 'UNAVAILABLE' });
    const refused = fates.find((f) => f.note.message === 'kept');
    assert.equal(refused?.fate, 'refused');
    assert.equal(refused?.resend, true);
    assert.equal(refused?.status?.name, 'UNAVAILABLE');
    assert.match(refused?.status?.message ?? '', /note store unavailable/);
    clock.advance(60_000);
    last().open();
    last().reply(echo('kept'));
    assert.equal((await fate).fate, 'confirmed');
    socket.close();
  });

  test('at-least-once: unknown notes are resent too', () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 3 }, delivery: 'at-least-once' });
    last().open();
    void socket.send({ location: here, message: 'maybe' });
    last().drop({ code: 1006, reason: '' });
    clock.advance(60_000);
    last().open();
    assert.deepEqual(last().sent, [JSON.stringify(echo('maybe'))]);
    socket.close();
  });

  test('closed for good with notes still waiting: each gets the fate unsent', async () => {
    const clock = createFakeClock();
    const { socket } = start(clock);
    const fate = socket.send({ message: 'never went out' });
    last().drop({ code: 1006, reason: '' });
    assert.equal((await fate).fate, 'unsent');
  });

  test('after end(), a restart reconnects only to deliver what is still waiting', async () => {
    const clock = createFakeClock();
    const { socket } = start(clock, { reconnect: { retries: 3 } });
    last().open();
    void socket.send({ location: here, message: 'x' });
    last().reply(echo('x'));
    socket.end();
    assert.equal(last().sent.at(-1), '{"type":"end"}');
    last().endWith(0, 'OK', 1001);
    assert.equal((await socket.status).name, 'OK');
    assert.equal(ScriptedSocket.made.length, 1);
  });
});
