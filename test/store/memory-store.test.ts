/** Memory-store specifics; the shared semantics are in conformance.test.ts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryNoteStore } from '../../core-server/notes/index.js';

const at = (longitude: number, message: string) => ({ location: { latitude: 0, longitude }, message });

describe('memory note store', () => {
  test('stays bounded under a long run mixing both caps (its eviction FIFO is compacted)', async () => {
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
