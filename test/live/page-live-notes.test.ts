/**
 * The page's live-notes rules without a browser: which live notes are shown (note-groups.ts) and
 * when the watch reports a gap (live-watch.ts, over a scripted socket and a fake clock).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type LiveState,
  type LiveWatch,
  type OfflineGap,
  regionOf,
  watchLiveNotes,
} from '../../clients/browser/src/live-watch.js';
import { createNoteGroups } from '../../clients/browser/src/note-groups.js';
import { GatewayClient, type NoteFeedMethods } from '../../clients/lib/index.js';
import type { WebSocketLike } from '../../clients/lib/web-socket-like.js';
import { createFakeClock } from '../helpers/fake-clock.js';

const at = (longitude: number, message: string) => ({ location: { latitude: 1, longitude }, message });
const shown = (groups: ReturnType<typeof createNoteGroups>) =>
  groups.list().map((group) => group.notes.map((note) => [note.message, note.mine]));

test("someone else's live note is shown as theirs; the live echo of ours is not shown twice", () => {
  const groups = createNoteGroups();
  assert.deepEqual(
    groups.live(at(2, 'theirs')).map((n) => n.message),
    ['theirs'],
  );
  groups.sent({ latitude: 1, longitude: 2 }, 'mine');
  // The echo may come before the reply…
  assert.deepEqual(groups.live(at(2, 'mine')), []);
  groups.received(at(2, 'theirs'));
  groups.received(at(2, 'mine'));
  assert.deepEqual(shown(groups), [
    [
      ['theirs', false],
      ['mine', true],
    ],
  ]);
  // …or after it.
  groups.sent({ latitude: 1, longitude: 2 }, 'again');
  groups.received(at(2, 'theirs'));
  groups.received(at(2, 'mine'));
  groups.received(at(2, 'again'));
  assert.deepEqual(groups.live(at(2, 'again')), []);
  assert.deepEqual(
    shown(groups)[0]?.map(([m]) => m),
    ['theirs', 'mine', 'again'],
  );
});

test("a live note stored after ours is kept when our reply replaces the place's list", () => {
  const groups = createNoteGroups();
  groups.sent({ latitude: 1, longitude: 3 }, 'mine');
  groups.live(at(3, 'mine'));
  groups.live(at(3, 'right after'));
  groups.received(at(3, 'mine'));
  assert.deepEqual(shown(groups), [
    [
      ['mine', true],
      ['right after', false],
    ],
  ]);
});

test('the map region is the rectangle around every place', () => {
  assert.deepEqual(
    regionOf([
      { latitude: 5, longitude: -3 },
      { latitude: -2, longitude: 8 },
    ]),
    { lo: { latitude: -2, longitude: -3 }, hi: { latitude: 5, longitude: 8 } },
  );
});

/** A scripted socket: the test opens it, sends frames to the page and closes it. */
class ScriptedSocket implements WebSocketLike {
  static all: ScriptedSocket[] = [];
  readyState = 0;
  readonly protocol = 'gateway.v2';
  readonly bufferedAmount = 0;
  readonly sent: Record<string, unknown>[] = [];
  private readonly listeners = new Map<string, ((event: never) => void)[]>();
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    ScriptedSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit('close', { code, reason: '' });
  }
  addEventListener(type: string, listener: (event: never) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, event: unknown = {}) {
    for (const listener of this.listeners.get(type) ?? []) (listener as (e: unknown) => void)(event);
  }
  open() {
    this.readyState = 1;
    this.emit('open');
  }
  frame(frame: object) {
    this.emit('message', { data: JSON.stringify(frame) });
  }
}

/** Read through a function: assert.equal narrows what it is given, and the state changes. */
const stateOf = (watch: LiveWatch): LiveState => watch.state;
const offlineSince = (watch: LiveWatch) => {
  const state = stateOf(watch);
  return state.name === 'offline' ? state.since : `not offline: ${state.name}`;
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a watch that was live and comes back reports the gap; attempts that fail meanwhile do not', async () => {
  ScriptedSocket.all = [];
  const clock = createFakeClock(1_000_000);
  const states: LiveState[] = [];
  const gaps: OfflineGap[] = [];
  const notes: string[] = [];
  const watch = watchLiveNotes(
    {
      url: 'ws://gateway/v2',
      rectangle: regionOf([{ latitude: 0, longitude: 0 }]),
      WebSocket: ScriptedSocket,
      clock,
      initialDelayMs: 100,
      maxDelayMs: 100,
    },
    { state: (s) => states.push(s), gap: (g) => gaps.push(g), note: (n) => notes.push(n.message) },
  );
  const first = ScriptedSocket.all[0]!;
  first.open();
  await tick();
  assert.deepEqual(
    first.sent.map((f) => f.type),
    ['open', 'message', 'end'],
  );
  assert.equal(first.sent[0]?.method, 'routeguide.NoteFeed/Watch');
  first.frame({
    type: 'message',
    id: first.sent[0]?.id,
    message: { location: { latitude: 1 }, message: 'hi' },
  });
  await tick();
  assert.equal(stateOf(watch).name, 'live');
  assert.deepEqual(notes, ['hi']);
  // The core goes away at t0.
  const t0 = clock.now();
  first.frame({
    type: 'status',
    id: first.sent[0]?.id,
    code: 14,
    name: 'UNAVAILABLE',
    message: 'server shutting down',
    metadata: {},
  });
  await tick();
  assert.equal(stateOf(watch).name, 'offline');
  assert.equal(offlineSince(watch), t0);
  // A retry whose socket opens but whose watch ends at once: still offline, no gap yet.
  clock.advance(100);
  const second = ScriptedSocket.all[1]!;
  second.open();
  await tick();
  second.frame({
    type: 'status',
    id: second.sent[0]?.id,
    code: 14,
    name: 'UNAVAILABLE',
    message: 'no core',
    metadata: {},
  });
  await tick();
  assert.deepEqual(gaps, []);
  assert.equal(offlineSince(watch), t0);
  // The next one stays open: live again after a second, the gap ends when its socket opened.
  clock.advance(100);
  const third = ScriptedSocket.all[2]!;
  third.open();
  const t1 = clock.now();
  await tick();
  clock.advance(1000);
  assert.equal(stateOf(watch).name, 'live');
  assert.deepEqual(gaps, [{ from: t0, to: t1 }]);
  watch.stop();
  assert.equal(third.readyState, 3, 'stop closes the socket');
  assert.equal(states.at(-1)?.name, 'stopped');
});

test('a refusal a retry cannot fix (the gateway does not serve Watch) stops the retries', async () => {
  ScriptedSocket.all = [];
  const clock = createFakeClock();
  const watch = watchLiveNotes(
    {
      url: 'ws://gateway/v2',
      rectangle: regionOf([{ latitude: 0, longitude: 0 }]),
      WebSocket: ScriptedSocket,
      clock,
    },
    { state: () => {}, gap: () => {}, note: () => {} },
  );
  const socket = ScriptedSocket.all[0]!;
  socket.open();
  await tick();
  socket.frame({
    type: 'status',
    id: socket.sent[0]?.id,
    code: 12,
    name: 'UNIMPLEMENTED',
    message: 'unknown method',
    metadata: {},
  });
  await tick();
  assert.equal(stateOf(watch).name, 'failed');
  clock.advance(60_000);
  assert.equal(ScriptedSocket.all.length, 1);
});

test('on a shared client the watch is one call of it: live once on the open socket; stop cancels the call, not the socket', async () => {
  ScriptedSocket.all = [];
  const clock = createFakeClock();
  const client = new GatewayClient<NoteFeedMethods>('ws://gateway/v2', { WebSocket: ScriptedSocket, clock });
  const watch = watchLiveNotes(
    { client, rectangle: regionOf([{ latitude: 0, longitude: 0 }]), clock },
    { state: () => {}, gap: () => {}, note: () => {} },
  );
  const socket = ScriptedSocket.all[0]!;
  socket.open();
  await tick();
  assert.equal(socket.sent[0]?.method, 'routeguide.NoteFeed/Watch');
  clock.advance(1000);
  assert.equal(stateOf(watch).name, 'live');
  watch.stop();
  assert.deepEqual(socket.sent.at(-1), { type: 'cancel', id: socket.sent[0]?.id });
  assert.equal(socket.readyState, 1, 'the shared socket stays open');
  assert.equal(ScriptedSocket.all.length, 1);
  client.close();
});
