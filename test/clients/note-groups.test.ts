import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNoteGroups } from '../../clients/browser/src/note-groups.js';

const at = (longitude: number, message: string) => ({ location: { latitude: 1, longitude }, message });
const messages = (groups: ReturnType<typeof createNoteGroups>) =>
  groups.list().map((group) => [group.key, group.notes.map((note) => note.message)]);

test("the core's repeated replies show each note once, in the core's order", () => {
  const groups = createNoteGroups();
  groups.sent({ latitude: 1, longitude: 2 }, 'a');
  groups.received(at(2, 'a'));
  groups.sent({ latitude: 1, longitude: 2 }, 'b');
  groups.received(at(2, 'a'));
  assert.deepEqual(messages(groups), [['1,2', ['a']]], 'a partial reply does not duplicate');
  groups.received(at(2, 'b'));
  assert.deepEqual(messages(groups), [['1,2', ['a', 'b']]]);
  assert.deepEqual(
    groups.list()[0]?.notes.map((note) => [note.mine, note.fresh]),
    [
      [true, false],
      [true, true],
    ],
  );
});

test("another person's notes arrive with the reply to ours and are not marked mine", () => {
  const groups = createNoteGroups();
  groups.sent({ latitude: 1, longitude: 5 }, 'mine');
  groups.received(at(5, 'theirs'));
  groups.received(at(5, 'mine'));
  assert.deepEqual(
    groups.list()[0]?.notes.map((note) => [note.message, note.mine]),
    [
      ['theirs', false],
      ['mine', true],
    ],
  );
});

test('the most recently active place comes first', () => {
  const groups = createNoteGroups();
  groups.received(at(1, 'x'));
  groups.received(at(2, 'y'));
  assert.deepEqual(
    groups.list().map((group) => group.key),
    ['1,2', '1,1'],
  );
});

test('a send the gateway rejects expects no reply', () => {
  const groups = createNoteGroups();
  groups.sent({ latitude: 1, longitude: 3 }, 'ok');
  groups.sent(undefined, 'bad');
  groups.rejectedLast();
  groups.received(at(3, 'ok'));
  groups.sent({ latitude: 1, longitude: 3 }, 'too big');
  groups.rejectedLast();
  groups.received(at(3, 'from someone else'));
  assert.deepEqual(messages(groups), [['1,3', ['ok', 'from someone else']]]);
});
