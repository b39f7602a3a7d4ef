import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createInFlight, noteKey } from '../../clients/lib/fates.js';
import { createOutbox, OutboxFullError } from '../../clients/lib/outbox.js';
import { StatusCode } from '../../protocol/common/status.js';

const note = (message: string, latitude = 1, longitude = 2) => ({
  location: { latitude, longitude },
  message,
});
const item = (message: string) => ({ key: noteKey(note(message)), name: message });
const raw = (name: string) => ({ key: undefined, name });

describe('outbox (pure)', () => {
  test('full: push throws a typed OutboxFullError (RESOURCE_EXHAUSTED) and keeps what it had', () => {
    const outbox = createOutbox<string>(2);
    outbox.push('a');
    outbox.push('b');
    assert.throws(
      () => outbox.push('c'),
      (error: unknown) =>
        error instanceof OutboxFullError &&
        error.code === StatusCode.RESOURCE_EXHAUSTED &&
        error.capacity === 2,
    );
    assert.deepEqual(outbox.items(), ['a', 'b']);
  });

  test('requeued items go first, in order, even past the capacity (never a drop)', () => {
    const outbox = createOutbox<string>(2);
    outbox.push('c');
    outbox.push('d');
    outbox.requeue(['a', 'b']);
    assert.deepEqual(outbox.drain(), ['a', 'b', 'c', 'd']);
    assert.equal(outbox.size, 0);
  });
});

describe('fates of one stream (pure)', () => {
  test('an echo confirms the oldest in-flight note with the same location and message', () => {
    const inFlight = createInFlight<ReturnType<typeof item>>();
    inFlight.sent(item('a'), 10);
    inFlight.sent(item('b'), 11);
    inFlight.sent(item('a'), 12);
    // The reply to "b" is the place's history: a, b. The first "a" confirms the first "a".
    assert.equal(inFlight.received(noteKey(note('a')))?.sentAt, 10);
    assert.equal(inFlight.received(noteKey(note('b')))?.item.name, 'b');
    assert.equal(inFlight.received(noteKey(note('zzz'))), undefined, 'someone else’s note');
    assert.equal(inFlight.notes, 1);
  });

  test('k draining refusals refuse the last k frames still in flight; the rest are unknown', () => {
    const inFlight = createInFlight<ReturnType<typeof item>>();
    for (const name of ['a', 'b', 'c', 'd']) inFlight.sent(item(name), 0);
    inFlight.received(noteKey(note('a')));
    assert.equal(inFlight.errorFrame('after_end'), undefined);
    assert.equal(inFlight.refusing, true);
    inFlight.errorFrame('after_end');
    const { refused, unknown } = inFlight.settle();
    assert.deepEqual(
      refused.map((i) => i.name),
      ['c', 'd'],
    );
    assert.deepEqual(
      unknown.map((i) => i.name),
      ['b'],
    );
  });

  test('the core’s note-outcome trailer: not-stored refuses every unanswered note; unknown only the oldest', () => {
    const fill = () => {
      const inFlight = createInFlight<ReturnType<typeof item>>();
      for (const name of ['a', 'b', 'c']) inFlight.sent(item(name), 0);
      return inFlight;
    };
    const notStored = fill().settle('not-stored');
    assert.deepEqual(
      notStored.refused.map((i) => i.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(notStored.unknown, []);
    const unknown = fill().settle('unknown');
    assert.deepEqual(
      unknown.unknown.map((i) => i.name),
      ['a'],
    );
    assert.deepEqual(
      unknown.refused.map((i) => i.name),
      ['b', 'c'],
    );
  });

  test('a content rejection settles the oldest raw frame in flight, else the oldest note', () => {
    const inFlight = createInFlight<{ key: string | undefined; name: string }>();
    inFlight.sent(item('a'), 0);
    inFlight.sent(raw('not json'), 0);
    assert.equal(inFlight.errorFrame('invalid_json')?.name, 'not json');
    assert.equal(inFlight.errorFrame('too_complex')?.name, 'a');
    assert.equal(inFlight.errorFrame('invalid_note'), undefined);
  });
});
