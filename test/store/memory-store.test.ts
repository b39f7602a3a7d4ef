import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryNoteStore, DEFAULT_NOTE_LIMITS } from '../../core-server/notes/index.js';

const at = (longitude: number, message: string) => ({ location: { latitude: 0, longitude }, message });

describe('memory note store', () => {
  test('append returns every note at the location, oldest first, including the new one', async () => {
    const store = createMemoryNoteStore();
    assert.deepEqual(await store.append(at(1, 'a')), [at(1, 'a')]);
    await store.append(at(2, 'b'));
    assert.deepEqual(await store.append(at(1, 'c')), [at(1, 'a'), at(1, 'c')]);
  });

  test('returned lists are snapshots that later appends do not change', async () => {
    const store = createMemoryNoteStore();
    const first = await store.append(at(1, 'a'));
    await store.append(at(1, 'b'));
    assert.deepEqual(first, [at(1, 'a')]);
  });

  test('the per-location cap evicts the oldest note at that location', async () => {
    const store = createMemoryNoteStore({ ...DEFAULT_NOTE_LIMITS, maxNotesPerLocation: 3 });
    for (const m of ['1', '2', '3', '4', '5']) await store.append(at(1, m));
    assert.deepEqual(await store.append(at(1, '6')), [at(1, '4'), at(1, '5'), at(1, '6')]);
    assert.equal(store.stats().notes, 3);
  });

  test('the total cap evicts the oldest note anywhere', async () => {
    const store = createMemoryNoteStore({ ...DEFAULT_NOTE_LIMITS, maxTotalNotes: 3 });
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

  test('the byte cap evicts the oldest notes until the total fits', async () => {
    const store = createMemoryNoteStore({ ...DEFAULT_NOTE_LIMITS, maxTotalBytes: 10 });
    await store.append(at(1, 'aaaa'));
    await store.append(at(2, 'bbbb'));
    await store.append(at(3, 'cccc'));
    assert.equal(store.stats().bytes, 8);
    assert.equal(store.stats().notes, 2);
  });

  test('stays bounded under a long run mixing both caps', async () => {
    const store = createMemoryNoteStore({
      maxNotesPerLocation: 5,
      maxTotalNotes: 50,
      maxTotalBytes: 1 << 20,
    });
    for (let i = 0; i < 20_000; i += 1) {
      const list = await store.append(at(i % 37, `n${i}`));
      assert.ok(list.length <= 5);
      assert.equal(list.at(-1)?.message, `n${i}`);
    }
    assert.ok(store.stats().notes <= 50);
  });
});
