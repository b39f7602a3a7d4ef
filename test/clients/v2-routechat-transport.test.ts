/**
 * routeChatOverV2: one v1 RouteChat socket emulated over one v2 bidi stream of a shared
 * GatewayClient, against a scripted v2 socket and a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConnectionState,
  GatewayClient,
  type NoteFate,
  RouteChatSocket,
  routeChatOverV2,
} from '../../clients/lib/index.js';
import type { WebSocketCloseEventLike, WebSocketLike } from '../../clients/lib/web-socket-like.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { ScriptedSocket } from '../helpers/scripted-websocket.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const last = () => ScriptedSocket.made.at(-1)!;
const here = { latitude: 1, longitude: 2 };
const ROUTE_CHAT = 'routeguide.RouteGuide/RouteChat';
/** Read through a function: assert.equal narrows what it is given, and the state changes. */
const stateName = (chat: RouteChatSocket): string => chat.state.name;

function start(clock: FakeClock, reconnect = false) {
  ScriptedSocket.made = [];
  return new GatewayClient('ws://gateway.test/v2', {
    WebSocket: ScriptedSocket,
    clock,
    random: () => 0.5,
    ...(reconnect ? { reconnect: { retries: 10, initialDelayMs: 100, maxDelayMs: 100 } } : {}),
  });
}

/** One emulated v1 socket, with what it reported. */
function emulated(client: GatewayClient) {
  const V1 = routeChatOverV2(client);
  const socket: WebSocketLike = new V1('ignored', ['routechat.v1']);
  const events: (string | { close: WebSocketCloseEventLike } | { frame: unknown })[] = [];
  socket.addEventListener('open', () => events.push('open'));
  socket.addEventListener('message', (event) => events.push({ frame: JSON.parse(String(event.data)) }));
  socket.addEventListener('close', (event) =>
    events.push({ close: { code: event.code, reason: event.reason } }),
  );
  return { socket, events };
}

describe('routeChatOverV2 (scripted v2 socket, fake clock)', () => {
  test('open fires once the stream is on an open socket; notes, end and replies map frame for frame; OK closes 1000', async () => {
    const client = start(createFakeClock());
    const { socket, events } = emulated(client);
    await tick();
    assert.deepEqual(events, [], 'no open before the v2 socket is open');
    assert.equal(socket.readyState, 0);
    last().open();
    await tick();
    assert.deepEqual(events, ['open']);
    assert.equal(socket.readyState, 1);
    const [open] = last().frames();
    assert.equal(open?.type, 'open');
    assert.equal(open?.method, ROUTE_CHAT);
    const id = open?.id;
    socket.send(JSON.stringify({ location: here, message: 'hi' }));
    socket.send(JSON.stringify({ type: 'end' }));
    assert.deepEqual(last().frames().slice(1), [
      { type: 'message', id, message: { location: here, message: 'hi' } },
      { type: 'end', id },
    ]);
    last().reply({ type: 'message', id, message: { location: here, message: 'hi' } });
    last().reply({ type: 'status', id, code: 0, name: 'OK', message: '', metadata: {} });
    await tick();
    assert.deepEqual(events.slice(1), [
      { frame: { location: here, message: 'hi' } },
      { frame: { type: 'status', code: 0, name: 'OK', message: '', metadata: {} } },
      { close: { code: 1000, reason: 'OK' } },
    ]);
    assert.equal(socket.readyState, 3);
    assert.equal(ScriptedSocket.made.length, 1);
  });

  test("the stream's error frames become v1 error frames; a non-OK status closes 4000 + code", async () => {
    const client = start(createFakeClock());
    const { socket, events } = emulated(client);
    last().open();
    await tick();
    const id = last().frames()[0]?.id;
    const details = [{ path: 'message.location.latitude', message: 'not an int32' }];
    last().reply({
      type: 'error',
      id,
      code: 'INVALID_ARGUMENT',
      reason: 'invalid_message',
      message: 'bad',
      details,
    });
    last().reply({
      type: 'error',
      id,
      code: 'FAILED_PRECONDITION',
      reason: 'after_end',
      message: 'late',
      details: [],
    });
    last().reply({
      type: 'status',
      id,
      code: 8,
      name: 'RESOURCE_EXHAUSTED',
      message: 'full',
      metadata: { a: 'b' },
    });
    await tick();
    assert.deepEqual(events.slice(1), [
      { frame: { type: 'error', code: 'INVALID_ARGUMENT', reason: 'invalid_note', message: 'bad', details } },
      {
        frame: {
          type: 'error',
          code: 'FAILED_PRECONDITION',
          reason: 'after_end',
          message: 'late',
          details: [],
        },
      },
      {
        frame: { type: 'status', code: 8, name: 'RESOURCE_EXHAUSTED', message: 'full', metadata: { a: 'b' } },
      },
      { close: { code: 4008, reason: 'RESOURCE_EXHAUSTED' } },
    ]);
    assert.equal(socket.readyState, 3);
  });

  test('an OK status on a stream the client had not half-closed is a drain: v1 sees 1001', async () => {
    const client = start(createFakeClock());
    const { events } = emulated(client);
    last().open();
    await tick();
    const id = last().frames()[0]?.id;
    last().reply({ type: 'status', id, code: 0, name: 'OK', message: '', metadata: {} });
    await tick();
    assert.deepEqual(events.at(-1), { close: { code: 1001, reason: 'gateway shutting down' } });
  });

  test('close() cancels the stream, and only that stream: the shared socket stays open', async () => {
    const client = start(createFakeClock());
    const { socket, events } = emulated(client);
    last().open();
    await tick();
    const id = last().frames()[0]?.id;
    socket.close(1000, 'client closed');
    await tick();
    assert.deepEqual(last().frames().at(-1), { type: 'cancel', id });
    assert.deepEqual(events.at(-1), { close: { code: 1000, reason: 'client closed' } });
    assert.equal(last().readyState, 1);
  });

  test('a broken v2 socket ends the stream as v1 reports a lost call: status UNAVAILABLE, then 4014', async () => {
    const client = start(createFakeClock());
    const { events } = emulated(client);
    last().open();
    await tick();
    last().drop();
    await tick();
    const [status, close] = events.slice(-2) as [
      { frame: { name: string } },
      { close: WebSocketCloseEventLike },
    ];
    assert.equal(status.frame.name, 'UNAVAILABLE');
    assert.deepEqual(close.close, { code: 4014, reason: 'UNAVAILABLE' });
  });

  test('a broken v2 socket: RouteChatSocket reconnects as a new call on the same client, and the note typed meanwhile is confirmed', async () => {
    const clock = createFakeClock();
    const client = start(clock, true);
    const chat = new RouteChatSocket({
      url: 'ws://gateway.test/v2',
      WebSocket: routeChatOverV2(client),
      reconnect: { retries: 10, initialDelayMs: 100, maxDelayMs: 100 },
      clock,
      random: () => 0.5,
    });
    const states: ConnectionState[] = [];
    chat.on('state', (state) => states.push(state));
    const fates: NoteFate[] = [];
    chat.on('fate', (fate) => fates.push(fate));
    last().open();
    await tick();
    assert.equal(stateName(chat), 'open');
    clock.advance(250); // the new stream settles
    const first = chat.send({ location: here, message: 'one' });
    const id1 = last().frames()[0]?.id;
    assert.deepEqual(last().frames().at(-1), {
      type: 'message',
      id: id1,
      message: { location: here, message: 'one' },
    });
    last().reply({ type: 'message', id: id1, message: { location: here, message: 'one' } });
    await tick();
    assert.equal((await first).fate, 'confirmed');
    // The shared socket breaks.
    last().drop();
    await tick();
    const reconnecting = states.find((state) => state.name === 'reconnecting');
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.lastStatus.name, 'UNAVAILABLE');
    assert.equal(stateName(chat), 'reconnecting');
    const second = chat.send({ location: here, message: 'two' });
    assert.equal(chat.outboxSize, 1);
    // RouteChatSocket's delay, then a new call: the client opens a new socket for it.
    clock.advance(1000);
    await tick();
    assert.equal(ScriptedSocket.made.length, 2);
    last().open();
    await tick();
    assert.equal(stateName(chat), 'open');
    clock.advance(250);
    await tick();
    const [open2, message2] = last().frames();
    assert.equal(open2?.method, ROUTE_CHAT);
    assert.deepEqual(message2, {
      type: 'message',
      id: open2?.id,
      message: { location: here, message: 'two' },
    });
    last().reply({ type: 'message', id: open2?.id, message: { location: here, message: 'two' } });
    await tick();
    assert.equal((await second).fate, 'confirmed');
    assert.deepEqual(
      fates.map((fate) => [fate.note.message, fate.fate]),
      [
        ['one', 'confirmed'],
        ['two', 'confirmed'],
      ],
    );
    chat.close();
    const outcome = await chat.closed;
    assert.equal(outcome.status.name, 'CANCELLED');
    client.close();
  });
});
