/**
 * RouteChat with a producer session, straight to a core over gRPC: the stream's notes are numbered
 * from `note-sequence`, a reopened stream resending from its first unconfirmed note stores only
 * what is new and gets the same answers, and bad metadata ends the call INVALID_ARGUMENT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type RouteNote, type RouteNote__Output, routeguide } from '../../proto/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';

const note = (message: string, longitude = 1): RouteNote => ({
  location: { latitude: 11, longitude },
  message,
});

interface ChatOutcome {
  readonly messages: string[];
  readonly status: grpc.StatusObject | grpc.ServiceError;
}

/** One RouteChat with `metadata`: writes every note, half-closes, collects the replies and the status. */
function chat(address: string, metadata: Record<string, string>, notes: readonly RouteNote[]) {
  const client = new routeguide.RouteGuide(address, grpc.credentials.createInsecure());
  const grpcMetadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) grpcMetadata.set(key, value);
  const call = client.RouteChat(grpcMetadata, { deadline: Date.now() + 10_000 });
  const messages: string[] = [];
  return new Promise<ChatOutcome>((resolve) => {
    const done = (status: grpc.StatusObject | grpc.ServiceError) => {
      client.close();
      resolve({ messages, status });
    };
    call.on('data', (reply: RouteNote__Output) => messages.push(reply.message));
    call.on('error', done);
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) done(status);
    });
    for (const n of notes) call.write(n);
    call.end();
  });
}

describe('RouteChat with note-session and note-sequence', () => {
  let core: RunningCore;
  let stored = 0;
  let deduplicated = 0;
  before(async () => {
    core = await startCore({
      onNoteStored: () => {
        stored += 1;
      },
      onNoteDeduplicated: () => {
        deduplicated += 1;
      },
    });
  });
  after(async () => core.stop());

  test('a reopened stream resending from its first unconfirmed note stores only what is new', async () => {
    const session = { 'note-session': 'producer-one', 'note-sequence': '10' };
    const first = await chat(core.address, session, [note('n10'), note('n11'), note('n12')]);
    assert.equal(first.status.code, grpc.status.OK);
    assert.deepEqual(first.messages, ['n10', 'n10', 'n11', 'n10', 'n11', 'n12']);
    assert.deepEqual([stored, deduplicated], [3, 0]);

    // The client saw n10 confirmed only: it reopens from sequence 11 and resends in order.
    const resend = { 'note-session': 'producer-one', 'note-sequence': '11' };
    const second = await chat(core.address, resend, [note('n11'), note('n12'), note('n13')]);
    assert.equal(second.status.code, grpc.status.OK);
    assert.deepEqual(second.messages, ['n10', 'n11', 'n10', 'n11', 'n12', 'n10', 'n11', 'n12', 'n13']);
    assert.deepEqual([stored, deduplicated], [4, 2]);

    const plain = await chat(core.address, {}, [note('check')]);
    assert.deepEqual(plain.messages, ['n10', 'n11', 'n12', 'n13', 'check'], 'each note stored exactly once');
  });

  test('without the metadata a resend is stored again, as before', async () => {
    await chat(core.address, {}, [note('twice', 2)]);
    const again = await chat(core.address, {}, [note('twice', 2)]);
    assert.deepEqual(again.messages, ['twice', 'twice']);
  });

  test('a sequence reused for a different note ends the stream ALREADY_EXISTS, after the notes before it', async () => {
    const session = { 'note-session': 'producer-two', 'note-sequence': '0' };
    await chat(core.address, session, [note('a', 3), note('b', 3)]);
    const reused = await chat(core.address, session, [note('a', 3), note('not b', 3), note('never read', 3)]);
    assert.equal(reused.status.code, grpc.status.ALREADY_EXISTS);
    assert.match(reused.status.details, /note-sequence 1 .* already used for a different note/);
    assert.deepEqual(reused.messages, ['a']);
    const plain = await chat(core.address, {}, [note('check', 3)]);
    assert.deepEqual(plain.messages, ['a', 'b', 'check']);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a session without a sequence', { 'note-session': 'producer-three' }, /needs note-sequence/],
    ['a short session id', { 'note-session': 'short', 'note-sequence': '0' }, /8 to 64 characters/],
    ['a negative sequence', { 'note-session': 'producer-three', 'note-sequence': '-1' }, /from 0 to/],
    [
      'a sequence past 2^53 - 1',
      { 'note-session': 'producer-three', 'note-sequence': '9007199254740992' },
      /from 0/,
    ],
  ];
  for (const [name, metadata, message] of bad) {
    test(`bad metadata (${name}) ends the call INVALID_ARGUMENT and stores nothing`, async () => {
      const before = stored;
      const result = await chat(core.address, metadata, [note('refused', 4)]);
      assert.equal(result.status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(result.status.details, message);
      assert.deepEqual(result.messages, []);
      assert.equal(stored, before);
    });
  }

  test('the sequence may not pass 2^53 - 1 within a stream', async () => {
    const last = { 'note-session': 'producer-four', 'note-sequence': String(Number.MAX_SAFE_INTEGER) };
    const result = await chat(core.address, last, [note('last', 5), note('past', 5)]);
    assert.equal(result.status.code, grpc.status.OUT_OF_RANGE);
    assert.deepEqual(result.messages, ['last']);
  });
});
