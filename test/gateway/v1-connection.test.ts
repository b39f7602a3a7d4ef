/** v1's connection (one RouteChat stream) with fake socket, call and clock: every rule without I/O. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROUTECHAT_V1_METHOD } from '../../gateway/methods/routechat-v1.js';
import type { Clock } from '../../gateway/session/ports.js';
import { createV1Connection, type V1Limits, type V1Outcome } from '../../gateway/session/v1-connection.js';
import type { CallHandlers, CallOpener } from '../../gateway/upstream/calls.js';
import { DEFAULT_FRAME_LIMITS, type NoteFrame, type RouteNoteJson } from '../../protocol/index.js';

/** A note as the core would send it: wire bytes. */
const encoded = (note: NoteFrame): Uint8Array => {
  const parsed = ROUTECHAT_V1_METHOD.codec.parseRequest(note);
  assert.ok(parsed.ok);
  return parsed.bytes;
};

function fakes(overrides: Partial<V1Limits> = {}) {
  const sent: Record<string, unknown>[] = [];
  const events: string[] = [];
  const written: RouteNoteJson[] = [];
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 0;
  let writeAccepts = true;
  const socket = {
    bufferedAmount: 0,
    send: (text: string) => sent.push(JSON.parse(text) as Record<string, unknown>),
    close: (code: number, reason: string) => events.push(`close ${code} ${reason}`),
    pause: () => events.push('socket.pause'),
    resume: () => events.push('socket.resume'),
  };
  let handlers: CallHandlers | undefined;
  const upstream: CallOpener = {
    open(_method, _metadata, _options, given) {
      handlers = given;
      return {
        write: (bytes: Uint8Array) => {
          written.push(ROUTECHAT_V1_METHOD.codec.responseToJson(bytes) as RouteNoteJson);
          return writeAccepts;
        },
        end: () => events.push('call.end'),
        cancel: () => events.push('call.cancel'),
        pause: () => events.push('call.pause'),
        resume: () => events.push('call.resume'),
      };
    },
  };
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      nextId += 1;
      timers.push({ at: now + ms, fn, id: nextId });
      return nextId;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  };
  const outcomes: V1Outcome[] = [];
  const limits: V1Limits = {
    frame: DEFAULT_FRAME_LIMITS,
    maxRejectedFrames: 20,
    socketHighWaterMark: 1000,
    rateLimit: 0,
    rateBurst: 10,
    floodGraceMs: 1000,
    ...overrides,
  };
  const connection = createV1Connection(
    socket,
    { method: ROUTECHAT_V1_METHOD, upstream, metadata: {} },
    limits,
    { onFinished: (o) => outcomes.push(o) },
    clock,
  );
  const call = handlers as CallHandlers;
  return {
    connection,
    call,
    socket,
    sent,
    events,
    written,
    outcomes,
    setWriteAccepts: (v: boolean) => {
      writeAccepts = v;
    },
    advance(ms: number) {
      now += ms;
      for (const timer of timers.filter((t) => t.at <= now)) {
        timers = timers.filter((t) => t !== timer);
        timer.fn();
      }
    },
  };
}

const note = (message: string) => JSON.stringify({ location: { latitude: 1, longitude: 2 }, message });
const ok = { code: 0, name: 'OK', message: '', metadata: {} } as const;

describe('v1 connection', () => {
  test('valid notes are written to the call in order; end half-closes it', () => {
    const f = fakes();
    f.connection.onClientText(note('a'));
    f.connection.onClientText(note('b'));
    f.connection.onClientText('{"type":"end"}');
    assert.deepEqual(
      f.written.map((n) => n.message),
      ['a', 'b'],
    );
    assert.deepEqual(f.events, ['call.end']);
    assert.equal(f.connection.state, 'half-closed');
  });

  test('the status frame is sent only after the call has delivered all its notes, then the close', () => {
    const f = fakes();
    f.call.onStatus(ok);
    assert.equal(f.sent.length, 0, 'no status before the read side ended');
    f.call.onMessage(encoded({ location: { latitude: 1, longitude: 2 }, message: 'late' }));
    f.call.onReadEnd();
    assert.deepEqual(f.sent.at(-1), { type: 'status', ...ok });
    assert.equal(f.sent.length, 2);
    assert.deepEqual(f.events, ['close 1000 OK']);
    assert.equal(f.outcomes[0]?.cause, 'status');
  });

  test('a full call write buffer pauses the socket until the call drains', () => {
    const f = fakes();
    f.setWriteAccepts(false);
    f.connection.onClientText(note('a'));
    assert.deepEqual(f.events, ['socket.pause']);
    f.call.onDrain();
    assert.deepEqual(f.events, ['socket.pause', 'socket.resume']);
  });

  test('a socket over its high-water mark pauses the call until the socket drains', () => {
    const f = fakes();
    f.socket.bufferedAmount = 5000;
    f.call.onMessage(encoded({ location: { latitude: 0, longitude: 0 }, message: 'x' }));
    assert.deepEqual(f.events, ['call.pause']);
    f.connection.onSocketDrain();
    assert.deepEqual(f.events, ['call.pause'], 'still over the mark');
    f.socket.bufferedAmount = 10;
    f.connection.onSocketDrain();
    assert.deepEqual(f.events, ['call.pause', 'call.resume']);
  });

  test('over the rate the socket is paused until the client is back within it', () => {
    const f = fakes({ rateLimit: 10, rateBurst: 2, floodGraceMs: 10_000 });
    f.connection.onClientText(note('1'));
    f.connection.onClientText(note('2'));
    assert.deepEqual(f.events, []);
    f.connection.onClientText(note('3'));
    assert.deepEqual(f.events, ['socket.pause']);
    assert.equal(f.written.length, 3, 'the frame that arrived is still processed');
    f.advance(100);
    assert.deepEqual(f.events, ['socket.pause', 'socket.resume']);
    assert.equal(f.sent.length, 0, 'backpressure, no error frames');
  });

  test('a sustained flood gets a rate_limited error frame, status RESOURCE_EXHAUSTED and close 1008', () => {
    const f = fakes({ rateLimit: 10, rateBurst: 2, floodGraceMs: 500 });
    // Twice the rate, for longer than the grace period.
    for (let i = 0; i < 40 && f.connection.state !== 'closed'; i += 1) {
      f.connection.onClientText(note(String(i)));
      f.advance(50);
    }
    assert.equal(f.connection.state, 'closed');
    const error = f.sent.find((s) => s.type === 'error');
    assert.equal(error?.reason, 'rate_limited');
    assert.equal(error?.code, 'RESOURCE_EXHAUSTED');
    assert.equal(f.sent.at(-1)?.name, 'RESOURCE_EXHAUSTED');
    assert.ok(f.events.includes('call.cancel'));
    assert.ok(f.events.some((e) => e.startsWith('close 1008')));
  });

  test('a client sending under its rate is never throttled', () => {
    const f = fakes({ rateLimit: 10, rateBurst: 5, floodGraceMs: 500 });
    for (let i = 0; i < 50; i += 1) {
      f.connection.onClientText(note(String(i)));
      f.advance(200);
    }
    assert.equal(f.connection.state, 'open');
    assert.deepEqual(f.events, []);
  });

  test('a timeout ends the stream with DEADLINE_EXCEEDED and close 4004', () => {
    const f = fakes();
    f.connection.closeForTimeout('idle');
    assert.deepEqual(f.sent.at(-1), {
      type: 'status',
      code: 4,
      name: 'DEADLINE_EXCEEDED',
      message: 'idle',
      metadata: {},
    });
    assert.deepEqual(f.events, ['call.cancel', 'close 4004 DEADLINE_EXCEEDED']);
  });

  test('a gateway fault ends the stream with INTERNAL and close 1011', () => {
    const f = fakes();
    f.connection.fail();
    assert.equal(f.sent.at(-1)?.name, 'INTERNAL');
    assert.deepEqual(f.events, ['call.cancel', 'close 1011 gateway fault']);
    assert.equal(f.outcomes[0]?.cause, 'fault');
  });

  test('shutdown half-closes the call and finishes with 1001 when the status comes', () => {
    const f = fakes();
    f.connection.beginShutdown();
    f.connection.onClientText(note('late'));
    assert.equal(f.sent[0]?.reason, 'after_end');
    f.call.onReadEnd();
    f.call.onStatus(ok);
    assert.deepEqual(f.events, ['call.end', 'close 1001 gateway shutting down']);
    assert.deepEqual(f.sent.at(-1), { type: 'status', ...ok });
  });

  test('a client gone before the status cancels the call and nothing is sent after', () => {
    const f = fakes();
    f.connection.onClientGone();
    f.call.onMessage(encoded({ location: { latitude: 0, longitude: 0 }, message: 'x' }));
    f.call.onStatus(ok);
    assert.deepEqual(f.events, ['call.cancel']);
    assert.equal(f.sent.length, 0);
    assert.equal(f.outcomes.length, 1);
  });

  test('a frame after end is answered after_end and never written to the call', () => {
    const f = fakes();
    f.connection.onClientText('{"type":"end"}');
    f.connection.onClientText(note('late'));
    f.connection.onClientText('{"type":"end"}');
    assert.deepEqual(
      f.sent.map((s) => s.reason),
      ['after_end', 'after_end'],
    );
    assert.equal(f.written.length, 0);
    assert.deepEqual(f.events, ['call.end']);
  });

  test('rejected frames while the gateway drains never close the connection for policy', () => {
    const f = fakes({ maxRejectedFrames: 3 });
    f.connection.onClientText(note('kept'));
    f.connection.beginShutdown();
    for (let i = 0; i < 10; i += 1) f.connection.onClientText(note(`late ${i}`));
    assert.equal(f.connection.state, 'draining');
    assert.ok(!f.events.includes('call.cancel'), 'the notes already accepted are not lost');
    f.call.onReadEnd();
    f.call.onStatus(ok);
    assert.deepEqual(f.events, ['call.end', 'close 1001 gateway shutting down']);
    assert.equal(f.outcomes[0]?.cause, 'shutdown');
  });

  test('too many rejected frames cancel the call: status INVALID_ARGUMENT, close 1008', () => {
    const f = fakes({ maxRejectedFrames: 3 });
    for (let i = 0; i < 3; i += 1) f.connection.onClientText('{"message":1}');
    assert.equal(f.connection.state, 'closed');
    assert.equal(f.sent.at(-1)?.name, 'INVALID_ARGUMENT');
    assert.deepEqual(f.events, ['call.cancel', 'close 1008 too many rejected frames (3)']);
    assert.equal(f.outcomes[0]?.cause, 'policy');
  });
});
