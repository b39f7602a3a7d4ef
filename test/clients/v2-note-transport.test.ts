/**
 * RouteChatSocket over one v2 bidi stream per stream of a shared GatewayClient (v2-note-transport.ts),
 * against a scripted v2 socket and a fake clock: notes as the call's messages, v2's error frames
 * and statuses as they came, and one reconnect loop for the shared socket (the client's).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConnectionState,
  type ErrorFrame,
  type ErrorFrameV2,
  GatewayClient,
  type GatewayClientState,
  type NoteFate,
  type RouteChatSessionOptions,
  RouteChatSocket,
  routeChatOverV2,
} from '../../clients/lib/index.js';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.js';
import { ScriptedSocket } from '../helpers/scripted-websocket.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const last = () => ScriptedSocket.made.at(-1)!;
const here = { latitude: 1, longitude: 2 };
const note = (message: string) => ({ location: here, message });
const ROUTE_CHAT = 'routeguide.RouteGuide/RouteChat';
const BACKOFF = { retries: 10, initialDelayMs: 100, maxDelayMs: 100 };
const status = (id: unknown, code: number, name: string, metadata = {}) => ({
  type: 'status',
  id,
  code,
  name,
  message: '',
  metadata,
});

function client(clock: FakeClock, reconnect: RouteChatSessionOptions['reconnect'] = undefined) {
  ScriptedSocket.made = [];
  const shared = new GatewayClient('ws://gateway.test/v2', {
    WebSocket: ScriptedSocket,
    clock,
    random: () => 0.5,
    ...(reconnect ? { reconnect } : {}),
  });
  const states: GatewayClientState[] = [];
  shared.on('state', (state) => states.push(state));
  return { shared, states };
}

function chatOver(shared: GatewayClient, clock: FakeClock, options: RouteChatSessionOptions = {}) {
  const chat = new RouteChatSocket({
    transport: routeChatOverV2(shared),
    clock,
    random: () => 0.5,
    settleMs: 0,
    ...options,
  });
  const states: ConnectionState[] = [];
  const fates: NoteFate<ErrorFrameV2>[] = [];
  const errors: ErrorFrameV2[] = [];
  chat.on('state', (state) => states.push(state));
  chat.on('fate', (fate) => fates.push(fate));
  chat.on('error', (frame) => errors.push(frame));
  return { chat, states, fates, errors };
}

/** The id of the newest RouteChat call opened on the current socket. */
const routeChatId = () =>
  last()
    .frames()
    .filter((f) => f.type === 'open' && f.method === ROUTE_CHAT)
    .at(-1)?.id;

describe('RouteChatSocket over a v2 stream (scripted v2 socket, fake clock)', () => {
  test('the stream opens once the call is on an open socket; notes and end go as the call’s frames, replies come back; OK after end() is close code 1000', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const { chat, fates } = chatOver(shared, clock);
    await tick();
    assert.equal(chat.state.name, 'connecting', 'not open before the v2 socket is');
    assert.deepEqual(last().frames(), []);
    last().open();
    assert.equal(chat.state.name, 'open');
    assert.equal(chat.protocol, 'gateway.v2');
    const id = routeChatId();
    assert.ok(id);
    void chat.send(note('hi'));
    chat.end();
    assert.deepEqual(last().frames().slice(1), [
      { type: 'message', id, message: note('hi') },
      { type: 'end', id },
    ]);
    last().reply({ type: 'message', id, message: note('hi') });
    last().reply(status(id, 0, 'OK'));
    const outcome = await chat.closed;
    assert.deepEqual(outcome, {
      status: { code: 0, name: 'OK', message: '', metadata: {} },
      closeCode: 1000,
      closeReason: 'OK',
      statusFrame: true,
    });
    assert.deepEqual(
      fates.map((f) => [f.note.message, f.fate]),
      [['hi', 'confirmed']],
    );
    assert.equal(ScriptedSocket.made.length, 1);
    shared.close();
  });

  test('v2 error frames reach the events and the fates unchanged (invalid_message, unknown_stream); a non-OK status is close code 4000 + code', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const { chat, fates, errors } = chatOver(shared, clock);
    last().open();
    const id = routeChatId();
    const rejected = chat.send(note('bad'));
    const details = [{ path: 'message.location.latitude', message: 'not an int32' }];
    const invalid = {
      type: 'error',
      id,
      code: 'INVALID_ARGUMENT',
      reason: 'invalid_message',
      message: 'bad',
      details,
    };
    const unknown = {
      type: 'error',
      id,
      code: 'INVALID_ARGUMENT',
      reason: 'unknown_stream',
      message: '?',
      details: [],
    };
    last().reply(invalid);
    last().reply(unknown);
    assert.deepEqual(errors, [invalid, unknown]);
    assert.deepEqual((await rejected).error, invalid);
    assert.equal(fates[0]?.fate, 'rejected');
    last().reply(status(id, 8, 'RESOURCE_EXHAUSTED', { a: 'b' }));
    const outcome = await chat.closed;
    assert.equal(outcome.closeCode, 4008);
    assert.equal(outcome.closeReason, 'RESOURCE_EXHAUSTED');
    assert.deepEqual(outcome.status.metadata, { a: 'b' });
    shared.close();
  });

  test('the 0.1 form { url, WebSocket: routeChatOverV2(client) } still works, with error frames in v1’s words as before', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const chat = new RouteChatSocket({ url: 'ws://ignored/v2', WebSocket: routeChatOverV2(shared), clock });
    const errors: ErrorFrame[] = [];
    chat.on('error', (frame) => errors.push(frame));
    last().open();
    const id = routeChatId();
    last().reply({
      type: 'error',
      id,
      code: 'INVALID_ARGUMENT',
      reason: 'invalid_message',
      message: 'x',
      details: [],
    });
    assert.deepEqual(errors, [
      { type: 'error', code: 'INVALID_ARGUMENT', reason: 'invalid_note', message: 'x', details: [] },
    ]);
    chat.close();
    shared.close();
  });

  test('an OK status before end() is a gateway draining: close code 1001, retried as a new call on the same socket', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const drained = chatOver(shared, clock);
    last().open();
    last().reply(status(routeChatId(), 0, 'OK'));
    const outcome = await drained.chat.closed;
    assert.deepEqual([outcome.closeCode, outcome.closeReason], [1001, 'gateway shutting down']);

    const { chat, states } = chatOver(shared, clock, { reconnect: BACKOFF });
    const first = routeChatId();
    last().reply(status(first, 0, 'OK'));
    const reconnecting = states.at(-1);
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.delayMs, 75);
    clock.advance(75);
    assert.notEqual(routeChatId(), first, 'a new call');
    assert.equal(chat.state.name, 'open');
    assert.equal(ScriptedSocket.made.length, 1, 'on the same socket');
    chat.close();
    shared.close();
  });

  test('the core down (UNAVAILABLE from the gateway, the socket up): a new call after the session’s backoff, on the same socket', () => {
    const clock = createFakeClock();
    const { shared } = client(clock, BACKOFF);
    const { chat, states } = chatOver(shared, clock, { reconnect: BACKOFF });
    last().open();
    const first = routeChatId();
    last().reply(status(first, 14, 'UNAVAILABLE'));
    const reconnecting = states.at(-1);
    assert.equal(reconnecting?.name === 'reconnecting' && reconnecting.lastStatus.name, 'UNAVAILABLE');
    clock.advance(74);
    assert.equal(routeChatId(), first);
    clock.advance(1);
    assert.notEqual(routeChatId(), first);
    assert.equal(ScriptedSocket.made.length, 1);
    chat.close();
    shared.close();
  });

  test('close() cancels the stream, and only that stream: the shared socket stays open', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const { chat } = chatOver(shared, clock);
    last().open();
    const id = routeChatId();
    chat.close();
    const outcome = await chat.closed;
    assert.deepEqual(last().frames().at(-1), { type: 'cancel', id });
    assert.equal(outcome.status.name, 'CANCELLED');
    assert.equal(outcome.closeCode, 1000);
    assert.equal(last().readyState, 1);
    assert.equal(shared.state.name, 'open');
    shared.close();
  });

  test('without reconnect, a broken shared socket ends the stream UNAVAILABLE with the socket’s close code', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const { chat } = chatOver(shared, clock);
    last().open();
    last().drop();
    const outcome = await chat.closed;
    assert.equal(outcome.status.name, 'UNAVAILABLE');
    assert.equal(outcome.statusFrame, false);
    assert.equal(outcome.closeCode, 1006);
    shared.close();
  });

  test('a broken shared socket: one reconnect loop, the client’s — the new call waits for its next socket, its backoff is our state, and the note typed meanwhile is confirmed', async () => {
    const clock = createFakeClock();
    const { shared, states: clientStates } = client(clock, BACKOFF);
    const { chat, states, fates } = chatOver(shared, clock, { reconnect: BACKOFF });
    last().open();
    const first = chat.send(note('one'));
    last().reply({ type: 'message', id: routeChatId(), message: note('one') });
    assert.equal((await first).fate, 'confirmed');
    last().drop();
    assert.equal(chat.state.name, 'reconnecting');
    const backoffs = (list: readonly { name: string }[]) => list.filter((s) => s.name === 'reconnecting');
    assert.deepEqual(backoffs(states), backoffs(clientStates), "the client's backoff, shown as ours");
    const second = chat.send(note('two'));
    assert.equal(chat.outboxSize, 1);
    assert.equal(clock.pending, 1, "one timer: the client's reconnect");
    clock.advance(74);
    assert.equal(ScriptedSocket.made.length, 1);
    clock.advance(1);
    assert.equal(ScriptedSocket.made.length, 2, 'the next socket at the client’s delay, none of ours on top');
    last().open();
    const id = routeChatId();
    assert.deepEqual(last().frames(), [
      { type: 'open', id, method: ROUTE_CHAT },
      { type: 'message', id, message: note('two') },
    ]);
    last().reply({ type: 'message', id, message: note('two') });
    assert.equal((await second).fate, 'confirmed');
    assert.deepEqual(
      fates.map((f) => [f.note.message, f.fate]),
      [
        ['one', 'confirmed'],
        ['two', 'confirmed'],
      ],
    );
    chat.close();
    assert.equal((await chat.closed).status.name, 'CANCELLED');
    shared.close();
  });

  test('the client gives up (no socket within its retries): the session ends with its status and starts no loop of its own', async () => {
    const clock = createFakeClock();
    const { shared } = client(clock, { ...BACKOFF, retries: 1 });
    const { chat } = chatOver(shared, clock, { reconnect: BACKOFF });
    last().open();
    last().drop();
    clock.advance(75);
    last().drop();
    const outcome = await chat.closed;
    assert.equal(outcome.status.name, 'UNAVAILABLE');
    clock.advance(600_000);
    assert.equal(ScriptedSocket.made.length, 2);
    shared.close();
  });

  test('sendRaw goes as the call’s message: the text’s JSON value, or the text itself when it is not JSON', () => {
    const clock = createFakeClock();
    const { shared } = client(clock);
    const { chat } = chatOver(shared, clock);
    last().open();
    const id = routeChatId();
    chat.sendRaw('{"location":{"latitude":"north"}}');
    chat.sendRaw('not json');
    assert.deepEqual(last().frames().slice(1), [
      { type: 'message', id, message: { location: { latitude: 'north' } } },
      { type: 'message', id, message: 'not json' },
    ]);
    chat.close();
    shared.close();
  });
});
