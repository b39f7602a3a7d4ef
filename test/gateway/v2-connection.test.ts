/** v2's connection (many streams on one socket) with a fake socket, calls and clock: its socket-level rules without I/O. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMethodCatalog, registryFromProtoFiles } from '../../gateway/methods/index.js';
import { createAddressQuotas } from '../../gateway/session/address-quotas.js';
import type { ConnectionOutcome } from '../../gateway/session/connection.js';
import { createV2Connection, type V2Limits } from '../../gateway/session/v2-connection.js';
import type { CallHandlers, CallOpener } from '../../gateway/upstream/calls.js';
import { DEFAULT_V2_FRAME_LIMITS, type ServerFrameV2 } from '../../protocol/v2/index.js';
import { REPO_ROOT } from '../helpers/core.js';
import { createFakeClock } from '../helpers/fake-clock.js';

const methods = createMethodCatalog(
  [registryFromProtoFiles([`${REPO_ROOT}proto/route_guide.proto`, `${REPO_ROOT}proto/note_feed.proto`])],
  { allow: [], maxMessageBytes: 1024 * 1024 },
);
const WATCH = 'routeguide.NoteFeed/Watch';
const CHAT = 'routeguide.RouteGuide/RouteChat';

function fakes(overrides: Partial<V2Limits> = {}, share = createAddressQuotas(1000).forAddress('a')) {
  const sent: ServerFrameV2[] = [];
  const events: string[] = [];
  const calls = new Map<string, CallHandlers>();
  const socket = {
    bufferedAmount: 0,
    send: (text: string) => sent.push(JSON.parse(text) as ServerFrameV2),
    close: (code: number, reason: string) => events.push(`close ${code} ${reason}`),
    pause: () => events.push('socket.pause'),
    resume: () => events.push('socket.resume'),
  };
  let opened = 0;
  const upstream: CallOpener = {
    open(method, _metadata, _options, handlers) {
      opened += 1;
      calls.set(`${method.name}#${opened}`, handlers);
      return {
        write: () => true,
        end: () => events.push('call.end'),
        cancel: () => events.push('call.cancel'),
        pause: () => events.push('call.pause'),
        resume: () => events.push('call.resume'),
      };
    },
  };
  const clock = createFakeClock();
  const outcomes: ConnectionOutcome[] = [];
  const limits: V2Limits = {
    frame: DEFAULT_V2_FRAME_LIMITS,
    maxStreams: 100,
    initialCredit: 32,
    maxStreamRejections: 20,
    maxSocketRejections: 20,
    rateLimit: 0,
    rateBurst: 10,
    floodGraceMs: 1000,
    socketHighWaterMark: 1000,
    slowReaderTimeoutMs: 5000,
    maxServerStreams: 16,
    ...overrides,
  };
  const connection = createV2Connection(
    socket,
    { methods, upstream, baseMetadata: {}, addressServerStreams: share },
    limits,
    { onFinished: (o) => outcomes.push(o) },
    clock,
  );
  const text = (frame: unknown) => connection.onClientText(JSON.stringify(frame));
  const statuses = () => sent.filter((f) => f.type === 'status');
  return { connection, socket, sent, events, clock, outcomes, text, statuses, calls };
}

describe('v2 connection', () => {
  test('over the high-water mark the socket is not read; below it again, reading and calls resume', () => {
    const f = fakes();
    f.text({ type: 'open', id: 'a', method: CHAT });
    f.socket.bufferedAmount = 2000;
    f.text({ type: 'message', id: 'a', message: { bad: 1 } });
    assert.deepEqual(f.events, ['call.pause', 'socket.pause']);
    assert.ok(f.connection.readingPaused, 'the heartbeat does not judge a socket the gateway does not read');
    f.connection.onSocketDrain();
    assert.equal(f.events.length, 2, 'still over the mark: nothing resumes');
    f.socket.bufferedAmount = 0;
    f.connection.onSocketDrain();
    assert.deepEqual(f.events.slice(2), ['socket.resume', 'call.resume']);
    f.clock.advance(10_000);
    assert.equal(f.outcomes.length, 0, 'the slow-reader timer was stopped');
  });

  test('over the high-water mark for the slow-reader timeout: every stream gets a status, then close 1008', () => {
    const f = fakes();
    f.text({ type: 'open', id: 'a', method: CHAT });
    f.socket.bufferedAmount = 2000;
    f.text({ type: 'message', id: 'a', message: { bad: 1 } });
    f.clock.advance(4999);
    assert.equal(f.outcomes.length, 0);
    f.clock.advance(1);
    assert.equal(f.statuses().length, 1);
    assert.equal(f.statuses()[0]?.type === 'status' && f.statuses()[0]?.name, 'RESOURCE_EXHAUSTED');
    assert.equal(f.events.at(-1), 'close 1008 client did not read its frames for 5 s');
    assert.ok(f.events.includes('socket.resume'), 'resumed for the close handshake');
    assert.equal(f.outcomes.length, 1);
  });

  test('refused opens count against the socket: the 20th closes it 1008', () => {
    const f = fakes();
    for (let i = 0; i < 19; i += 1) f.text({ type: 'open', id: `x${i}`, method: 'no.Such/Method' });
    assert.equal(f.outcomes.length, 0);
    f.text({ type: 'open', id: 'x19', method: 'no.Such/Method' });
    assert.equal(f.outcomes[0]?.closeCode, 1008);
    assert.equal(f.outcomes[0]?.rejected, 20);
  });

  test('opens refused while draining do not count against the socket', () => {
    const f = fakes();
    f.text({ type: 'open', id: 'keep', method: CHAT });
    f.connection.beginShutdown();
    for (let i = 0; i < 30; i += 1) f.text({ type: 'open', id: `x${i}`, method: CHAT });
    assert.equal(f.outcomes.length, 0);
    assert.equal(f.statuses().filter((s) => s.type === 'status' && s.name === 'UNAVAILABLE').length, 30);
  });

  test('server-streaming calls: the socket share and the address share, given back when a stream ends', () => {
    const quotas = createAddressQuotas(3);
    const one = fakes({ maxServerStreams: 2 }, quotas.forAddress('a'));
    const two = fakes({ maxServerStreams: 2 }, quotas.forAddress('a'));
    for (const id of ['w1', 'w2', 'w3']) one.text({ type: 'open', id, method: WATCH });
    assert.match(JSON.stringify(one.statuses()), /w3.*server-streaming calls on this socket/);
    two.text({ type: 'open', id: 'w1', method: WATCH });
    two.text({ type: 'open', id: 'w2', method: WATCH });
    assert.match(JSON.stringify(two.statuses()), /w2.*server-streaming calls from this address/);
    assert.equal(quotas.held('a'), 3);
    one.text({ type: 'cancel', id: 'w1' });
    assert.equal(quotas.held('a'), 2);
    one.connection.onClientGone();
    assert.equal(quotas.held('a'), 1, 'a socket gone gives its share back');
    two.text({ type: 'open', id: 'w3', method: WATCH });
    assert.equal(two.statuses().length, 1, 'the address may watch again');
    two.text({ type: 'open', id: 'chat', method: CHAT });
    assert.equal(two.statuses().length, 1, 'a bidi call is not a server stream');
  });

  test('the stream lifetime ends only the streams opened before the cutoff; the socket stays open', () => {
    const f = fakes();
    f.text({ type: 'open', id: 'early', method: WATCH });
    f.clock.advance(1000);
    f.text({ type: 'open', id: 'late', method: WATCH });
    f.connection.endStreamsOpenedBefore(500, 'stream lifetime limit of 2 s reached');
    assert.deepEqual(
      f.statuses().map((s) => s.type === 'status' && [s.id, s.name]),
      [['early', 'DEADLINE_EXCEEDED']],
    );
    assert.equal(f.connection.state, 'open');
  });

  test('a client leaving while the gateway drains finishes the connection once', () => {
    const f = fakes();
    f.text({ type: 'open', id: 'a', method: CHAT });
    f.connection.beginShutdown();
    f.connection.onClientGone();
    assert.equal(f.outcomes.length, 1);
    assert.equal(f.outcomes[0]?.cause, 'client_closed');
  });
});
