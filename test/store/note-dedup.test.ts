/**
 * Idempotent appends (`appendOnce`), the same cases against both stores: a (session, sequence) is
 * stored once, answered the same when resent, published once; its records expire with their TTL,
 * slide with the window, and a reused sequence for another note is refused. Redis runs on a real
 * redis-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createMemoryNoteStore,
  createRedisNotes,
  DEFAULT_NOTE_DEDUP,
  DEFAULT_NOTE_LIMITS,
  type NoteDedupOptions,
  NoteSequenceConflictError,
  type NoteStore,
  type NoteStoreLimits,
  type Notes,
  type StoredNote,
} from '../../core-server/notes/index.js';
import { createMemoryNoteBus } from '../../core-server/notes/note-bus.js';
import { until } from '../helpers/gateway.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const at = (longitude: number, message: string): StoredNote => ({
  location: { latitude: 3, longitude },
  message,
});
const SESSION = 'session-aaaaaaaa';
const OTHER = 'session-bbbbbbbb';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface World {
  readonly store: NoteStore;
  /** Notes published on the store's live-notes bus so far, in order. */
  readonly published: StoredNote[];
  /** Lets time pass for the records' TTL (a fake clock in memory, real time on Redis). */
  pass(ms: number): Promise<void>;
  /** Whether the session's records are still held (Redis: the key exists). */
  holds?(session: string): Promise<boolean>;
}

interface StoreKind {
  readonly name: string;
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
  world(options?: { limits?: Partial<NoteStoreLimits>; dedup?: Partial<NoteDedupOptions> }): Promise<World>;
}

const memoryKind: StoreKind = {
  name: 'memory',
  async world(options = {}) {
    let now = 0;
    const bus = createMemoryNoteBus();
    const published: StoredNote[] = [];
    bus.subscribe({ note: (note) => published.push(note), interrupted: () => {} });
    const store = createMemoryNoteStore({ ...DEFAULT_NOTE_LIMITS, ...options.limits }, bus.publish, {
      dedup: { ...DEFAULT_NOTE_DEDUP, ...options.dedup },
      now: () => now,
    });
    return {
      store,
      published,
      async pass(ms) {
        now += ms;
      },
    };
  },
};

function redisKind(): StoreKind {
  let redis: RedisServer;
  let worlds = 0;
  const open: Notes[] = [];
  return {
    name: 'redis',
    async setUp() {
      redis = await startRedis();
    },
    async tearDown() {
      await Promise.all(open.flatMap((notes) => [notes.store.close(), notes.bus.close()]));
      await redis.stop();
      removeDir(redis);
    },
    async world(options = {}) {
      const keyPrefix = `dedup:${++worlds}:`;
      const notes = createRedisNotes({
        spec: { kind: 'redis', address: { host: '127.0.0.1', port: redis.port }, tls: false, db: 0 },
        limits: { ...DEFAULT_NOTE_LIMITS, ...options.limits },
        dedup: { ...DEFAULT_NOTE_DEDUP, ...options.dedup },
        keyPrefix,
        commandTimeoutMs: 2000,
      });
      open.push(notes);
      const published: StoredNote[] = [];
      notes.bus.subscribe({ note: (note) => published.push(note), interrupted: () => {} });
      let up = false;
      notes.store.watchAvailability((available) => {
        up = available;
      });
      await until(() => up && notes.bus.isLive(), 10_000, 'the redis store and bus available');
      return {
        store: notes.store,
        published,
        pass: sleep,
        holds: async (session) => (await redis.cli('EXISTS', `${keyPrefix}dedup:${session}`)) === '1',
      };
    },
  };
}

/** Waits out the Redis bus (its messages arrive asynchronously); instant for memory. */
const settle = (world: World, count: number) =>
  until(() => world.published.length >= count, 5000, `${count} notes published`).then(() => sleep(50));

for (const kind of [memoryKind, redisKind()]) {
  describe(`NoteStore.appendOnce: ${kind.name}`, () => {
    before(async () => kind.setUp?.());
    after(async () => kind.tearDown?.());

    test('the same session and sequence twice: stored and published once, answered the same', async () => {
      const world = await kind.world();
      const { store } = world;
      await store.append(at(1, 'before'));
      const first = await store.appendOnce(at(1, 'once'), { session: SESSION, sequence: 7 });
      const again = await store.appendOnce(at(1, 'once'), { session: SESSION, sequence: 7 });
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.deepEqual(first.notes, [at(1, 'before'), at(1, 'once')]);
      assert.deepEqual(again.notes, first.notes);
      assert.equal(store.stats().notes, 2);
      await settle(world, 2);
      assert.deepEqual(world.published, [at(1, 'before'), at(1, 'once')]);
      assert.deepEqual(await store.append(at(1, 'after')), [at(1, 'before'), at(1, 'once'), at(1, 'after')]);
    });

    test('a resend is answered as the first time, not with the notes stored since', async () => {
      const { store } = await kind.world();
      const first = await store.appendOnce(at(2, 'a'), { session: SESSION, sequence: 0 });
      await store.append(at(2, 'later'));
      await store.appendOnce(at(2, 'b'), { session: SESSION, sequence: 1 });
      const again = await store.appendOnce(at(2, 'a'), { session: SESSION, sequence: 0 });
      assert.deepEqual(again, { notes: first.notes, duplicate: true });
      const second = await store.appendOnce(at(2, 'b'), { session: SESSION, sequence: 1 });
      assert.deepEqual(second, { notes: [at(2, 'a'), at(2, 'later'), at(2, 'b')], duplicate: true });
      assert.equal(store.stats().notes, 3);
    });

    test('a note evicted since is still answered as stored (ending with itself), not stored again', async () => {
      const { store } = await kind.world({ limits: { maxNotesPerLocation: 2 } });
      await store.appendOnce(at(3, 'old'), { session: SESSION, sequence: 0 });
      await store.append(at(3, 'x'));
      await store.append(at(3, 'y'));
      const again = await store.appendOnce(at(3, 'old'), { session: SESSION, sequence: 0 });
      assert.deepEqual(again, { notes: [at(3, 'old')], duplicate: true });
      assert.deepEqual(await store.append(at(3, 'z')), [at(3, 'y'), at(3, 'z')]);
    });

    test('another session, or another sequence, with the same note is stored', async () => {
      const { store } = await kind.world();
      await store.appendOnce(at(4, 'same'), { session: SESSION, sequence: 0 });
      const other = await store.appendOnce(at(4, 'same'), { session: OTHER, sequence: 0 });
      const next = await store.appendOnce(at(4, 'same'), { session: SESSION, sequence: 1 });
      assert.equal(other.duplicate, false);
      assert.equal(next.duplicate, false);
      assert.deepEqual(next.notes, [at(4, 'same'), at(4, 'same'), at(4, 'same')]);
      assert.equal(store.stats().notes, 3);
    });

    test('a sequence reused for a different note is refused, and nothing is stored', async () => {
      const world = await kind.world();
      const { store } = world;
      await store.appendOnce(at(5, 'first'), { session: SESSION, sequence: 3 });
      await assert.rejects(
        store.appendOnce(at(5, 'different'), { session: SESSION, sequence: 3 }),
        (error) => {
          assert.ok(error instanceof NoteSequenceConflictError);
          assert.equal(error.code, 'NOTE_SEQUENCE_CONFLICT');
          assert.match(error.message, /note-sequence 3 .* already used for a different note/);
          return true;
        },
      );
      await assert.rejects(
        store.appendOnce(at(6, 'first'), { session: SESSION, sequence: 3 }),
        NoteSequenceConflictError,
        'the same message at another place is another note',
      );
      assert.equal(store.stats().notes, 1);
      await settle(world, 1);
      assert.equal(world.published.length, 1);
    });

    test('after the TTL the records are gone: a resend is stored again', async () => {
      const world = await kind.world({ dedup: { ttlMs: 300 } });
      const { store } = world;
      await store.appendOnce(at(7, 'n'), { session: SESSION, sequence: 0 });
      await world.pass(150);
      // A resend restarts the session's TTL, as a new note does.
      assert.equal((await store.appendOnce(at(7, 'n'), { session: SESSION, sequence: 0 })).duplicate, true);
      await world.pass(200);
      assert.equal((await store.appendOnce(at(7, 'n'), { session: SESSION, sequence: 0 })).duplicate, true);
      await world.pass(400);
      if (world.holds) assert.equal(await world.holds(SESSION), false, 'Redis expired the key');
      const late = await store.appendOnce(at(7, 'n'), { session: SESSION, sequence: 0 });
      assert.deepEqual(late, { notes: [at(7, 'n'), at(7, 'n')], duplicate: false });
    });

    test('recording sequence s forgets s - window', async () => {
      const { store } = await kind.world({ dedup: { window: 3 } });
      for (let sequence = 10; sequence < 14; sequence += 1)
        await store.appendOnce(at(8, `n${sequence}`), { session: SESSION, sequence });
      assert.equal(
        (await store.appendOnce(at(8, 'n11'), { session: SESSION, sequence: 11 })).duplicate,
        true,
      );
      assert.equal(
        (await store.appendOnce(at(8, 'n10'), { session: SESSION, sequence: 10 })).duplicate,
        false,
      );
    });

    test('appends without an id are not recorded', async () => {
      const world = await kind.world();
      await world.store.append(at(9, 'plain'));
      await world.store.append(at(9, 'plain'));
      assert.equal(world.store.stats().notes, 2);
      if (world.holds) assert.equal(await world.holds(SESSION), false);
    });
  });
}

describe('the memory store caps its records in all', () => {
  test('past maxRecords, the least recently used session loses its oldest records first', async () => {
    const store = createMemoryNoteStore(DEFAULT_NOTE_LIMITS, () => {}, {
      dedup: { ...DEFAULT_NOTE_DEDUP, maxRecords: 3 },
    });
    await store.appendOnce(at(1, 'a0'), { session: SESSION, sequence: 0 });
    await store.appendOnce(at(1, 'a1'), { session: SESSION, sequence: 1 });
    await store.appendOnce(at(1, 'b0'), { session: OTHER, sequence: 0 });
    await store.appendOnce(at(1, 'b1'), { session: OTHER, sequence: 1 });
    // SESSION was used least recently: its sequence 0 went.
    assert.equal((await store.appendOnce(at(1, 'a1'), { session: SESSION, sequence: 1 })).duplicate, true);
    assert.equal((await store.appendOnce(at(1, 'b0'), { session: OTHER, sequence: 0 })).duplicate, true);
    assert.equal((await store.appendOnce(at(1, 'a0'), { session: SESSION, sequence: 0 })).duplicate, false);
  });
});
