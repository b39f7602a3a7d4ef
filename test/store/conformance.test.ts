/**
 * The NoteStore conformance suite: the same cases against every store. A store passes when it
 * keeps the canonical RouteChat semantics (order, snapshots, caps) and stays consistent when two
 * handles on the same world (two cores on one Redis) append at the same place at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createMemoryNoteStore,
  createRedisNoteStore,
  DEFAULT_NOTE_LIMITS,
  type NoteStore,
  type NoteStoreLimits,
  type StoredNote,
} from '../../core-server/notes/index.js';
import { until } from '../helpers/gateway.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const at = (longitude: number, message: string): StoredNote => ({
  location: { latitude: 0, longitude },
  message,
});
const messages = (list: readonly StoredNote[]) => list.map((note) => note.message);

interface StoreKind {
  readonly name: string;
  setUp?(): Promise<void>;
  tearDown?(): Promise<void>;
  /** Two handles on one new, empty world (the same object for a store that lives in one process). */
  pair(limits?: Partial<NoteStoreLimits>): Promise<[NoteStore, NoteStore]>;
}

const memoryKind: StoreKind = {
  name: 'memory',
  async pair(limits) {
    const store = createMemoryNoteStore({ ...DEFAULT_NOTE_LIMITS, ...limits });
    return [store, store];
  },
};

function redisKind(): StoreKind {
  let redis: RedisServer;
  let world = 0;
  const open: NoteStore[] = [];
  return {
    name: 'redis',
    async setUp() {
      redis = await startRedis();
    },
    async tearDown() {
      await Promise.all(open.map((store) => store.close()));
      await redis.stop();
      removeDir(redis);
    },
    async pair(limits) {
      // A key prefix of its own per case: a new, empty world on the same server.
      const keyPrefix = `conformance:${++world}:`;
      const make = () =>
        createRedisNoteStore({
          spec: { kind: 'redis', address: { host: '127.0.0.1', port: redis.port }, tls: false, db: 0 },
          limits: { ...DEFAULT_NOTE_LIMITS, ...limits },
          keyPrefix,
          commandTimeoutMs: 2000,
        });
      const stores: [NoteStore, NoteStore] = [make(), make()];
      open.push(...stores);
      for (const store of stores) {
        let up = false;
        store.watchAvailability((available) => {
          up = available;
        });
        await until(() => up, 10_000, 'the redis store available');
      }
      return stores;
    },
  };
}

for (const kind of [memoryKind, redisKind()]) {
  describe(`NoteStore conformance: ${kind.name}`, () => {
    before(async () => kind.setUp?.());
    after(async () => kind.tearDown?.());

    test('append returns every note at the location, oldest first, including the new one', async () => {
      const [store] = await kind.pair();
      assert.deepEqual(await store.append(at(1, 'a')), [at(1, 'a')]);
      await store.append(at(2, 'b'));
      assert.deepEqual(await store.append(at(1, 'c')), [at(1, 'a'), at(1, 'c')]);
    });

    test('returned lists are snapshots that later appends do not change', async () => {
      const [store] = await kind.pair();
      const first = await store.append(at(1, 'a'));
      await store.append(at(1, 'b'));
      assert.deepEqual(first, [at(1, 'a')]);
    });

    test('messages keep every character and are counted in UTF-8 bytes', async () => {
      const [store] = await kind.pair();
      const odd = ['héllo 🌍', 'a:b|c', '', '1:2:3', ' trailing '];
      let list: readonly StoredNote[] = [];
      for (const message of odd)
        list = await store.append({ location: { latitude: -5, longitude: 7 }, message });
      assert.deepEqual(messages(list), odd);
      assert.deepEqual(list[0]?.location, { latitude: -5, longitude: 7 });
      assert.equal(
        store.stats().bytes,
        odd.reduce((sum, m) => sum + Buffer.byteLength(m, 'utf8'), 0),
      );
    });

    test('the per-location cap evicts the oldest note at that location', async () => {
      const [store] = await kind.pair({ maxNotesPerLocation: 3 });
      for (const m of ['1', '2', '3', '4', '5']) await store.append(at(1, m));
      assert.deepEqual(await store.append(at(1, '6')), [at(1, '4'), at(1, '5'), at(1, '6')]);
      assert.equal(store.stats().notes, 3);
    });

    test('the total cap evicts the oldest note anywhere', async () => {
      const [store] = await kind.pair({ maxTotalNotes: 3 });
      await store.append(at(1, 'oldest'));
      await store.append(at(2, 'b'));
      await store.append(at(3, 'c'));
      await store.append(at(2, 'd'));
      assert.deepEqual(store.stats(), { notes: 3, locations: 2, bytes: 3 });
      assert.deepEqual(
        await store.append(at(1, 'e')),
        [at(1, 'e')],
        'the oldest note, at 1, was evicted first',
      );
    });

    test('the byte cap evicts the oldest notes until the total fits, never the last note', async () => {
      const [store] = await kind.pair({ maxTotalBytes: 10 });
      await store.append(at(1, 'aaaa'));
      await store.append(at(2, 'bbbb'));
      await store.append(at(3, 'cccc'));
      assert.equal(store.stats().bytes, 8);
      assert.equal(store.stats().notes, 2);
      assert.deepEqual(await store.append(at(4, 'x'.repeat(20))), [at(4, 'x'.repeat(20))]);
      assert.deepEqual(store.stats(), { notes: 1, locations: 1, bytes: 20 });
    });

    test('stays bounded and exact under a long run mixing both caps', async () => {
      const [store] = await kind.pair({ maxNotesPerLocation: 5, maxTotalNotes: 50, maxTotalBytes: 1 << 20 });
      for (let i = 0; i < 2000; i += 1) {
        const list = await store.append(at(i % 37, `n${i}`));
        assert.ok(list.length <= 5);
        assert.equal(list.at(-1)?.message, `n${i}`);
      }
      // The last 50 notes survive, exactly: the oldest anywhere went first.
      const { notes, locations } = store.stats();
      assert.equal(notes, 50);
      assert.equal(locations, 37);
      const last = await store.append(at(1999 % 37, 'probe'));
      assert.deepEqual(messages(last), ['n1962', 'n1999', 'probe']);
    });

    test('two handles appending at one place at once give every caller a prefix of one order', async () => {
      const [a, b] = await kind.pair({ maxNotesPerLocation: 1000 });
      const here = { latitude: 42, longitude: 42 };
      const replies = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 === 0 ? a : b).append({ location: here, message: `w${i}` }).then((list) => ({ i, list })),
        ),
      );
      const final = messages(await a.append({ location: here, message: 'final' }));
      assert.equal(final.length, 61);
      assert.deepEqual(new Set(final.slice(0, 60)), new Set(Array.from({ length: 60 }, (_, i) => `w${i}`)));
      for (const { i, list } of replies) {
        const got = messages(list);
        assert.equal(got.at(-1), `w${i}`, 'each reply ends with its own note');
        assert.deepEqual(got, final.slice(0, got.length), `reply to w${i} is a prefix of the final list`);
      }
    });

    test('reports itself available', async () => {
      const [store] = await kind.pair();
      const seen: boolean[] = [];
      const stop = store.watchAvailability((available) => seen.push(available));
      stop();
      assert.deepEqual(seen, [true]);
    });
  });
}
